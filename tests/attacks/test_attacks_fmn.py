"""FMN: closed forms on affine models, properties, targets, bad input, Foolbox's FMN."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from advgeom.attacks import fmn, predictions
from advgeom.errors import InputError

SETTINGS = settings(max_examples=15, deadline=None)


@pytest.mark.parametrize("norm,q", [("l2", 2), ("linf", 1)])
def test_reaches_margin_over_dual_norm(affine_case, norm, q):
    model, x, y, w, margin = affine_case(seed=3)
    res = fmn(model, x, y, norm=norm, steps=100)
    true = margin / w.norm(p=q)
    assert res.success.all()
    assert (res.distance >= true * (1 - 1e-9)).all()  # an upper bound...
    assert (res.distance <= true * 1.02).all()  # ...within 2 % after 100 steps
    assert torch.equal(model(res.x_adv)[:, 0] > 0, y == 0)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_more_steps_find_smaller_perturbations(mlp_factory, norm):
    model = mlp_factory(d=8, classes=4, seed=1).eval()
    x = torch.rand(48, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x).argmax(1)
    few = fmn(model, x, y, norm=norm, steps=5, max_step=0.5)
    many = fmn(model, x, y, norm=norm, steps=60, max_step=0.5)
    assert many.success.all() and (many.success >= few.success).all()
    # Not per example (the cosine schedules differ with the step count), but on the whole.
    assert many.distance.median() < few.distance.median()
    assert many.distance.mean() < few.distance.mean()


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_returns_the_smallest_adversarial_iterate(recorder, vector_norm, mlp_factory, norm):
    model = mlp_factory(d=8, classes=4, seed=1).eval()
    x = torch.rand(16, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        y = model(x).argmax(1)
    rec = recorder(model)
    res = fmn(rec, x, y, norm=norm, steps=30, max_step=0.5)
    iterates = torch.stack([s for s in rec.seen if s.shape[0] == 16][1:-1])  # not probe/checks
    assert iterates.shape[0] == 31  # the start, then one per step
    with torch.no_grad():
        adv = predictions(model(iterates.flatten(0, 1))).view(31, 16) != y
    sizes = vector_norm((iterates - x).flatten(0, 1), norm).view(31, 16)
    smallest = torch.where(adv, sizes, torch.inf).amin(dim=0)
    assert res.success.all()
    assert torch.allclose(res.distance, smallest)


def test_targeted_makes_the_target_the_prediction(mlp_factory):
    model = mlp_factory(d=8, classes=4, seed=3).eval()
    x = torch.rand(24, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        target = (model(x).argmax(1) + 1) % 4
    res = fmn(model, x, target, targeted=True, steps=60, max_step=2.0)
    untargeted = fmn(model, x, (target + 3) % 4, steps=60, max_step=2.0)
    assert res.success.float().mean() > 0.9
    with torch.no_grad():
        assert (predictions(model(res.x_adv[res.success])) == target[res.success]).all()
    # Reaching one given class is at least as far as leaving the true one.
    both = res.success & untargeted.success
    assert (res.distance[both] >= untargeted.distance[both] * 0.98).all()


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    batch=st.integers(1, 10),
    norm=st.sampled_from(["l2", "linf"]),
    steps=st.integers(1, 15),
    boxed=st.booleans(),
    targeted=st.booleans(),
)
def test_iterates_in_box_and_results_adversarial(recorder, vector_norm, mlp_factory, seed, batch,
                                                 norm, steps, boxed, targeted):
    model = mlp_factory(d=5, classes=4, seed=seed % 5).eval()
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 5, generator=g)
    y = torch.randint(0, 4, (batch,), generator=g)
    rec = recorder(model)
    res = fmn(rec, x, y, norm=norm, steps=steps, bounds=(0.0, 1.0) if boxed else None,
              targeted=targeted)
    if boxed:
        assert all(s.min() >= 0.0 and s.max() <= 1.0 for s in rec.seen)
    with torch.no_grad():
        pred = predictions(model(res.x_adv))
    hit = pred == y if targeted else pred != y
    assert (hit[res.success]).all()
    assert torch.allclose(res.distance[res.success], vector_norm(res.x_adv - x, norm)[res.success])
    assert torch.isinf(res.distance[~res.success]).all()


@SETTINGS
@given(seed=st.integers(0, 10_000), norm=st.sampled_from(["l2", "linf"]),
       steps=st.integers(1, 30))
def test_distance_is_an_upper_bound_on_affine_models(affine_case, seed, norm, steps):
    model, x, y, w, margin = affine_case(seed=seed, n=6, batch=8)
    res = fmn(model, x, y, norm=norm, steps=steps)
    true = margin / w.norm(p=2 if norm == "l2" else 1)
    assert (res.distance[res.success] >= true[res.success] * (1 - 1e-9)).all()


MODEL = nn.Linear(3, 3)
X = torch.linspace(0.05, 0.95, 12).reshape(4, 3)
Y = torch.tensor([0, 1, 2, 1])


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"norm": "l1"}, "norm must be one of"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"max_step": 0.0}, "max_step must be > 0"),
        ({"min_step": 2.0}, "min_step must be <= max_step"),
        ({"gamma": 1.0}, "gamma < 1"),
        ({"gamma_final": 0.1}, "gamma_final <= gamma"),
        ({"gamma": -0.1}, "gamma must be > 0"),
        ({"bounds": (0.2, 1.0)}, "outside bounds"),
    ],
)
def test_bad_arguments(changes, match):
    with pytest.raises(InputError, match=match):
        fmn(MODEL, X, Y, **changes)


def test_bad_models_and_labels():
    with pytest.raises(InputError, match="labels in \\[0, 3\\)"):
        fmn(MODEL, X, torch.tensor([0, 1, -1, 1]))
    with pytest.raises(InputError, match="fmn needs class logits"):
        fmn(lambda x: x.view(-1, 1, 3), X, Y)


def test_nan_gradient_is_one_clear_error():
    def model(x):  # finite output, NaN gradient (0 * inf through the branch not taken)
        return torch.where(x[:, :1] > -1.0, MODEL(x), torch.sqrt(-x[:, :1]).expand(-1, 3))

    with pytest.raises(InputError, match="fmn: the model's input gradient contains NaN"):
        fmn(model, X, predictions(MODEL(X)).detach(), steps=3)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_median_distance_at_most_foolbox(peer_case, vector_norm, norm):
    fb = pytest.importorskip("foolbox")
    model, x, y = peer_case()
    cls = fb.attacks.L2FMNAttack if norm == "l2" else fb.attacks.LInfFMNAttack
    adv, _, _ = cls(steps=100)(fb.PyTorchModel(model, bounds=(0, 1)), x, y, epsilons=None)
    with torch.no_grad():
        broken = model(adv).argmax(1) != y
    theirs = torch.where(broken, vector_norm(adv - x, norm), torch.inf)
    ours = fmn(model, x, y, norm=norm, steps=100, bounds=(0.0, 1.0))
    assert ours.success.float().mean() >= broken.float().mean()
    assert ours.distance.median() <= theirs.median() * 1.01
