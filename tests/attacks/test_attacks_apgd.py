"""APGD: the published schedule, closed forms, step-size rule, properties, bad input, peers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from advgeom.attacks import apgd, dlr, predictions, targeted_dlr
from advgeom.attacks.apgd import _Run, checkpoints
from advgeom.attacks.losses import margin
from advgeom.attacks.result import AttackResult
from advgeom.errors import InputError

SETTINGS = settings(max_examples=15, deadline=None)


def _affine(affine_factory, seed: int, n: int = 12, batch: int = 40):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, generator=g, dtype=torch.float64)
    x = torch.randn(batch, n, generator=g, dtype=torch.float64)
    model = affine_factory(w, 0.4)
    z = model(x)[:, 0].detach()
    return model, x, (z > 0).long(), w, z


def test_checkpoints_follow_the_published_schedule():
    # p = 0, .22, .41, .57, .70, .80, .87, .93, .99 (period shrinks by .03, at least .06).
    assert checkpoints(100) == [0, 22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(1000)[:4] == [0, 220, 410, 570]
    assert checkpoints(10) == [0, 3, 5, 6, 7, 8, 9]  # ceil(p * N), repeats dropped
    assert checkpoints(1) == [0]


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("random_start", [False, True])
def test_reaches_the_worst_loss_in_the_ball_of_a_linear_model(affine_factory, norm, random_start):
    model, x, y, w, z = _affine(affine_factory, seed=3)
    eps = 0.05
    res = apgd(model, x, y, eps=eps, norm=norm, steps=20, random_start=random_start,
               generator=torch.Generator().manual_seed(0))
    # CE on [0, z] is softplus(-s z) with s = +1 for label 1: the worst point moves z by
    # eps * ||w||_dual against s, i.e. delta = -s eps sign(w) (l_inf) or -s eps w/||w|| (l2).
    s = (2 * y - 1).to(x.dtype)
    dual = w.norm(p=1) if norm == "linf" else w.norm()
    worst = F.softplus(-s * (z - s * eps * dual))
    assert torch.allclose(res.loss, worst, rtol=1e-6)
    direction = w.sign() if norm == "linf" else w / w.norm()
    assert torch.allclose(res.x_adv, x - eps * s[:, None] * direction, atol=1e-6)
    broken = (z.abs() / dual) < eps
    assert torch.equal(res.success, broken)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_first_step_is_plain_projected_ascent(affine_factory, norm):
    model, x, y, w, _ = _affine(affine_factory, seed=4)
    # One step of size 2 eps from x, projected: the ball's worst point (no momentum yet).
    res = apgd(model, x, y, eps=0.05, norm=norm, steps=1, random_start=False)
    s = (2 * y - 1).to(x.dtype)
    direction = w.sign() if norm == "linf" else w / w.norm()
    assert torch.allclose(res.x_adv, x - 0.05 * s[:, None] * direction, atol=1e-12)


def _problem(model, x, y):
    from advgeom.attacks._shared import classifier_problem
    from advgeom.attacks.apgd import OBJECTIVES

    return classifier_problem(model, x, y, loss=OBJECTIVES[("ce", False)][0], targeted=False,
                              attack="apgd")[0]


def _run(problem, x, y, eps, steps) -> _Run:
    return _Run(problem, x, y, eps, norm="l2", steps=steps, bounds=None, early_stop=False,
                every=1, random_start=False, generator=None)


def test_checkpoint_conditions(affine_factory):
    model, x, y, *_ = _affine(affine_factory, seed=5, batch=4)
    run = _run(_problem(model, x, y), x, y, 0.1, steps=10)
    s = run.s
    s["xbest"] = x + 0.01
    # Rows: (0) rose 9 of 10 times, best improved: no cut; (1) rose 7 of 10 (< 0.75): cut;
    # (2) rose 9 times but best unchanged, not cut last time: cut (condition 2); (3) as (2) but
    # cut at the last checkpoint: no cut.
    s["count"] = torch.tensor([9, 7, 9, 9])
    s["fbest_ck"] = s["fbest"] - torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=x.dtype)
    s["reduced_ck"] = torch.tensor([False, False, False, True])
    eta = s["eta"].clone()
    run._checkpoint(10)
    cut = torch.tensor([False, True, True, False])
    assert torch.equal(s["eta"], torch.where(cut, eta / 2, eta))
    assert torch.equal(s["reduced_ck"], cut) and (s["count"] == 0).all()
    assert torch.equal(s["xk"][cut], s["xbest"][cut])  # restart from the best point...
    assert torch.equal(s["xprev"][cut], s["xbest"][cut])  # ...with the momentum reset
    assert torch.equal(s["xk"][~cut], x[~cut])


def test_a_flat_loss_halves_the_step_at_every_checkpoint(affine_factory):
    _, x, y, *_ = _affine(affine_factory, seed=5, batch=6)
    flat = _problem(affine_factory(torch.zeros(12, dtype=torch.float64), 0.4), x, y)
    run = _run(flat, x, y, 0.1, steps=30)
    run.run()
    cuts = len(checkpoints(30)) - 1
    assert torch.allclose(run.s["eta"], torch.full((6,), 0.2 / 2**cuts, dtype=x.dtype))


def test_dlr_losses():
    z = torch.tensor([[3.0, 1.0, 0.0, -1.0], [0.0, 2.0, 1.0, 0.5]])
    y = torch.tensor([0, 0])
    # -(z_y - max other) / (z_(1) - z_(3)): row 0: -(3 - 1) / 3; row 1: -(0 - 2) / (2 - 0.5).
    assert torch.allclose(dlr(z, y), torch.tensor([-2 / 3, 2 / 1.5]))
    assert torch.allclose(dlr(10 * z + 4, y), dlr(z, y))  # shift and scale invariant
    t = torch.tensor([1, 1])  # targeted: (z_t - max other) / (z_(1) - (z_(3) + z_(4)) / 2)
    assert torch.allclose(targeted_dlr(z, t), torch.tensor([-2 / 3.5, 1.0 / 1.75]))


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_targeted_reaches_the_target(mlp_factory, loss):
    model = mlp_factory(d=8, classes=4, seed=3).eval()
    x = torch.rand(24, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        target = (model(x).argmax(1) + 1) % 4
    res = apgd(model, x, target, eps=10.0, norm="l2", loss=loss, targeted=True, steps=30,
               generator=torch.Generator().manual_seed(0))
    assert res.success.float().mean() > 0.5
    with torch.no_grad():
        assert (predictions(model(res.x_adv[res.success])) == target[res.success]).all()
        if loss == "dlr":
            assert (res.loss[res.success] > 0).all()


def test_restarts_only_improve_and_early_stop_breaks_the_same(mlp_factory):
    model = mlp_factory(d=8, classes=3, seed=0).eval()
    x = torch.rand(40, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x).argmax(1)
    kw = dict(eps=0.15, norm="linf", steps=20, bounds=(0.0, 1.0))
    one = apgd(model, x, y, generator=torch.Generator().manual_seed(0), **kw)
    three = apgd(model, x, y, restarts=3, generator=torch.Generator().manual_seed(0), **kw)
    assert 0 < one.success.float().mean() < 1
    assert (three.success >= one.success).all()
    early = apgd(model, x, y, early_stop=True, generator=torch.Generator().manual_seed(0), **kw)
    assert torch.equal(early.success, one.success)
    found = early.success & (one.steps_to_success >= 0)
    assert torch.equal(early.steps_to_success[found], one.steps_to_success[found])


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    batch=st.integers(1, 10),
    norm=st.sampled_from(["linf", "l2"]),
    loss=st.sampled_from(["ce", "dlr"]),
    eps=st.floats(0.0, 1.0),
    steps=st.integers(1, 12),
    boxed=st.booleans(),
    targeted=st.booleans(),
    early_stop=st.booleans(),
)
def test_iterates_in_ball_and_box_and_successes_adversarial(
    recorder, vector_norm, mlp_factory, seed, batch, norm, loss, eps, steps, boxed, targeted,
    early_stop,
):
    model = mlp_factory(d=5, classes=4, seed=seed % 5).eval()
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 5, generator=g)
    y = torch.randint(0, 4, (batch,), generator=g)
    rec = recorder(model)
    res = apgd(rec, x, y, eps=eps, norm=norm, loss=loss, targeted=targeted, steps=steps,
               bounds=(0.0, 1.0) if boxed else None, early_stop=early_stop,
               generator=torch.Generator().manual_seed(seed))
    tol = 1e-5 * max(eps, 1.0)
    # Runs see the examples not yet broken (and early stop removes more): each row seen must
    # lie in the ball of some example (of its own, unless two balls overlap).
    seen = torch.cat(rec.seen + [res.x_adv])
    gaps = torch.stack([vector_norm(seen - xi, norm) for xi in x], dim=1)
    assert (gaps.min(dim=1).values <= eps + tol).all()
    if boxed:
        assert seen.min() >= 0.0 and seen.max() <= 1.0
    with torch.no_grad():
        pred = predictions(model(res.x_adv))
    hit = pred == y if targeted else pred != y
    assert torch.equal(hit, res.success)
    assert torch.allclose(res.distance, vector_norm(res.x_adv - x, norm))


MODEL = nn.Linear(3, 4)
X = torch.linspace(0.05, 0.95, 12).reshape(4, 3)
Y = torch.tensor([0, 1, 2, 1])


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"eps": -0.1}, "eps must be >= 0"),
        ({"norm": "l1"}, "norm must be one of"),
        ({"loss": "hinge"}, "loss must be one of 'ce', 'dlr'"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"restarts": 2, "random_start": False}, "random_start=True"),
        ({"compact_every": 0}, "compact_every"),
        ({"bounds": (0.2, 1.0)}, "outside bounds"),
    ],
)
def test_bad_arguments(changes, match):
    with pytest.raises(InputError, match=match):
        apgd(MODEL, X, Y, **{"eps": 0.1, **changes})


def test_dlr_needs_enough_classes():
    three, two = nn.Linear(3, 3), nn.Linear(3, 2)
    y = torch.tensor([0, 1, 0, 1])
    with pytest.raises(InputError, match="needs >= 3 classes \\(the model has 2\\): use loss='ce'"):
        apgd(two, X, y, eps=0.1, loss="dlr")
    with pytest.raises(InputError, match="needs >= 3 classes \\(the model has 2\\)"):
        apgd(nn.Linear(3, 1), X, y, eps=0.1, loss="dlr")  # one logit = two classes
    with pytest.raises(InputError, match="targeted DLR\\) needs >= 4 classes"):
        apgd(three, X, y, eps=0.1, loss="dlr", targeted=True)
    apgd(three, X, y, eps=0.1, loss="dlr", steps=2)  # three classes are enough untargeted


def test_bad_models_and_labels():
    with pytest.raises(InputError, match="labels in \\[0, 4\\)"):
        apgd(MODEL, X, torch.tensor([0, 1, 4, 1]), eps=0.1)
    with pytest.raises(InputError, match="apgd needs class logits"):
        apgd(lambda x: x.view(-1, 1, 3), X, Y, eps=0.1)
    with pytest.raises(InputError, match="expected batch size 4"):
        apgd(lambda x: MODEL(x)[:1], X, Y, eps=0.1)


def test_nan_gradient_is_one_clear_error():
    def model(x):  # finite output, NaN gradient (0 * inf through the branch not taken)
        return torch.where(x[:, :1] > -1.0, MODEL(x), torch.sqrt(-x[:, :1]).expand(-1, 4))

    with pytest.raises(InputError, match="apgd: the model's input gradient contains NaN"):
        apgd(model, X, predictions(MODEL(X)).detach(), eps=0.1, steps=3)


def test_result_merge_prefers_success_then_loss():
    # The restart bookkeeping APGD relies on.
    base = AttackResult(torch.zeros(2, 1), torch.tensor([False, True]), torch.tensor([-1, 3]),
                        torch.tensor([0.5, 0.1]), torch.zeros(2))
    other = AttackResult(torch.ones(2, 1), torch.tensor([False, False]), torch.tensor([-1, -1]),
                         torch.tensor([0.9, 9.0]), torch.ones(2))
    merged = base.merge(other, torch.tensor([0, 1]))
    assert merged.x_adv[:, 0].tolist() == [1.0, 0.0] and merged.success.tolist() == [False, True]
    assert margin(torch.tensor([[2.0, 1.0]]), torch.tensor([0])).item() == 1.0


@pytest.mark.parametrize("norm,eps", [("linf", 0.03), ("l2", 0.25)])
@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_robust_accuracy_at_most_torchattacks(peer_case, norm, eps, loss):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = peer_case()
    name = {"linf": "Linf", "l2": "L2"}[norm]
    adv = torchattacks.APGD(model, norm=name, eps=eps, steps=50, loss=loss, seed=0)(x, y)
    with torch.no_grad():
        theirs = (model(adv).argmax(1) == y).float().mean().item()
    ours = apgd(model, x, y, eps=eps, norm=norm, loss=loss, steps=50, bounds=(0.0, 1.0),
                generator=torch.Generator().manual_seed(0))
    assert 0.05 < ours.robust_accuracy < 0.95  # the check is informative
    assert ours.robust_accuracy <= theirs + 0.005
