"""DeepFool: closed forms on affine models, batching, properties, bad input, torchattacks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from advgeom.attacks import deepfool, predictions
from advgeom.attacks.deepfool import _linearize
from advgeom.errors import InputError

SETTINGS = settings(max_examples=15, deadline=None)


def _clean_labels(model, x):
    with torch.no_grad():
        return model.eval()(x).argmax(1)


@pytest.mark.parametrize("norm,q", [("l2", 2), ("linf", 1)])
def test_one_step_reaches_margin_over_dual_norm(affine_case, norm, q):
    model, x, y, w, margin = affine_case(seed=3)
    res = deepfool(model, x, y, norm=norm)
    true = margin / w.norm(p=q)
    assert res.success.all() and (res.steps_to_success == 1).all()
    assert torch.allclose(res.distance, true, rtol=1e-4, atol=0)
    assert (res.distance >= true).all()  # on the far side: an upper bound
    assert torch.equal(model(res.x_adv)[:, 0] > 0, y == 0)
    # Without the segment search the overshoot stays: exactly (1 + overshoot) times the distance.
    raw = deepfool(model, x, y, norm=norm, refine_steps=0, overshoot=0.1)
    assert torch.allclose(raw.distance, 1.1 * true, rtol=1e-9)


def test_batched_candidate_gradients_are_the_jacobian_rows(mlp_factory):
    model = mlp_factory(d=6, classes=5, seed=2).eval()
    x = torch.rand(7, 6, generator=torch.Generator().manual_seed(0))
    y = _clean_labels(model, x)
    out, cand, diff, jac = _linearize(model, x, y, None, 4, grad=True)
    full = torch.func.vmap(torch.func.jacrev(lambda xi: model(xi[None])[0]))(x)  # (7, 5, 6)
    rows = torch.arange(7)
    for j in range(3):
        expected = full[rows, cand[:, j + 1]] - full[rows, y]
        assert torch.allclose(jac[:, j], expected, atol=1e-6)
        assert torch.allclose(diff[:, j], out[rows, cand[:, j + 1]] - out[rows, y])
    # The candidates are the label and the three other classes of largest logit.
    others = out.scatter(1, y[:, None], float("-inf")).topk(3, dim=1).indices
    assert torch.equal(cand[:, 1:], others) and torch.equal(cand[:, 0], y)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_batch_gives_each_example_its_own_result(mlp_factory, norm):
    model = mlp_factory(d=8, classes=5, seed=1)
    x = torch.rand(12, 8, generator=torch.Generator().manual_seed(5))
    y = _clean_labels(model, x)
    batch = deepfool(model, x, y, norm=norm, candidates=3, bounds=(0.0, 1.0))
    assert batch.success.float().mean() > 0.8
    for i in range(12):
        alone = deepfool(model, x[i : i + 1], y[i : i + 1], norm=norm, candidates=3,
                         bounds=(0.0, 1.0))
        assert torch.equal(alone.success[0], batch.success[i])
        assert alone.steps_to_success[0] == batch.steps_to_success[i]
        # float32 rounding differs with the batch size: the search end point by ~1e-5.
        assert torch.allclose(alone.distance[0], batch.distance[i], rtol=1e-4)


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    batch=st.integers(1, 10),
    norm=st.sampled_from(["l2", "linf"]),
    steps=st.integers(1, 4),
    boxed=st.booleans(),
    candidates=st.integers(2, 4),
)
def test_iterates_in_box_results_adversarial_and_more_steps_never_worse(
    recorder, vector_norm, mlp_factory, seed, batch, norm, steps, boxed, candidates
):
    model = mlp_factory(d=5, classes=4, seed=seed % 5).eval()
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 5, generator=g)
    y = torch.randint(0, 4, (batch,), generator=g)
    bounds = (0.0, 1.0) if boxed else None
    rec = recorder(model)
    res = deepfool(rec, x, y, norm=norm, steps=steps, candidates=candidates, bounds=bounds)
    if boxed:
        assert all(s.min() >= 0.0 and s.max() <= 1.0 for s in rec.seen)
    with torch.no_grad():
        assert (predictions(model(res.x_adv[res.success])) != y[res.success]).all()
    assert torch.allclose(res.distance[res.success], vector_norm(res.x_adv - x, norm)[res.success])
    assert torch.isinf(res.distance[~res.success]).all()
    assert (res.steps_to_success[~res.success] == -1).all()
    more = deepfool(model, x, y, norm=norm, steps=steps + 3, candidates=candidates, bounds=bounds)
    assert (more.success >= res.success).all()
    assert (more.distance <= res.distance * (1 + 1e-5)).all()


@SETTINGS
@given(seed=st.integers(0, 10_000), norm=st.sampled_from(["l2", "linf"]),
       overshoot=st.floats(0.0, 0.5), refine=st.integers(0, 25))
def test_distance_is_an_upper_bound_on_affine_models(affine_case, seed, norm, overshoot, refine):
    model, x, y, w, margin = affine_case(seed=seed, n=6, batch=8)
    res = deepfool(model, x, y, norm=norm, overshoot=overshoot, refine_steps=refine)
    true = margin / w.norm(p=2 if norm == "l2" else 1)
    found = res.success
    assert (res.distance[found] >= true[found] * (1 - 1e-9)).all()
    assert (res.distance[found] <= true[found] * (1 + overshoot) * (1 + 1e-9)).all()


def test_one_logit_and_class_logit_models_agree(affine_case):
    model, x, y, *_ = affine_case(seed=6, batch=16)
    two = nn.Sequential(model, _TwoLogits())
    a, b = deepfool(model, x, y), deepfool(two, x, y)
    assert torch.allclose(a.distance, b.distance)


class _TwoLogits(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.zeros_like(z), z], dim=1)


MODEL = nn.Linear(3, 3)
X = torch.linspace(0.05, 0.95, 12).reshape(4, 3)
Y = torch.tensor([0, 1, 2, 1])


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"norm": "l1"}, "norm must be one of"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"overshoot": -0.1}, "overshoot must be >= 0"),
        ({"candidates": 1}, "candidates must be an integer >= 2"),
        ({"refine_steps": -1}, "refine_steps must be an integer >= 0"),
        ({"bounds": (0.2, 1.0)}, "outside bounds"),
    ],
)
def test_bad_arguments(changes, match):
    with pytest.raises(InputError, match=match):
        deepfool(MODEL, X, Y, **changes)


def test_bad_models_and_labels():
    with pytest.raises(InputError, match="labels in \\[0, 3\\)"):
        deepfool(MODEL, X, torch.tensor([0, 1, 3, 1]))
    with pytest.raises(InputError, match="integer class labels"):
        deepfool(MODEL, X, Y.float())
    with pytest.raises(InputError, match="deepfool needs class logits"):
        deepfool(lambda x: x.view(-1, 1, 3), X, Y)
    with pytest.raises(InputError, match="expected batch size 4"):
        deepfool(lambda x: MODEL(x)[:1], X, Y)


def test_nan_gradient_is_one_clear_error():
    def model(x):  # finite output, NaN gradient (0 * inf through the branch not taken)
        return torch.where(x[:, :1] > -1.0, MODEL(x), torch.sqrt(-x[:, :1]).expand(-1, 3))

    with pytest.raises(InputError, match="deepfool: the model's input gradient contains NaN"):
        deepfool(model, X, predictions(MODEL(X)).detach())


def test_median_distance_at_most_torchattacks(peer_case, vector_norm):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = peer_case(200)
    adv = torchattacks.DeepFool(model, steps=50, overshoot=0.02)(x, y)
    with torch.no_grad():
        broken = model(adv).argmax(1) != y
    theirs = torch.where(broken, vector_norm(adv - x, "l2"), torch.inf)
    ours = deepfool(model, x, y, norm="l2", steps=50, overshoot=0.02, bounds=(0.0, 1.0))
    assert ours.success.float().mean() >= broken.float().mean()
    assert ours.distance.median() <= theirs.median()
