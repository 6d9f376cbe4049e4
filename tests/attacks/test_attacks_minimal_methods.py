"""minimal_distance with the minimal-norm attacks, and the best of them per example."""

from __future__ import annotations

import pytest
import torch

from advgeom.attacks.deepfool import deepfool
from advgeom.attacks.fab import fab
from advgeom.attacks.fmn import fmn
from advgeom.attacks.minimal import minimal_distance, robustness_curve
from advgeom.errors import InputError


def affine(affine_case, n: int = 40):
    """The affine case and its exact l2 / l_inf distances |w.x + b| / ||w||_dual."""
    model, x, y, w, gap = affine_case(seed=0, batch=n)
    return model, x, y, {"l2": gap / w.norm(), "linf": gap / w.abs().sum()}


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("method", ["deepfool", "fmn", "fab", "best"])
def test_each_method_reaches_the_closed_form_distance(affine_case, norm, method):
    model, x, y, exact = affine(affine_case)
    r = minimal_distance(model, x, y, max_eps=100.0, norm=norm, method=method, steps=100)
    assert r.success.all()
    # FAB with its default eta = 1.05 settles 0.5 % above the boundary of an affine model (the
    # reference algorithm does too); the others reach it to 0.2 %.
    assert torch.allclose(r.distance, exact[norm], rtol=6e-3 if method == "fab" else 2e-3)
    assert (r.distance >= exact[norm] * (1 - 1e-4)).all()  # an upper bound: never below
    if method == "best":
        assert set(r.method) <= {"deepfool", "fmn", "path"}
    else:
        assert r.method is None


@pytest.mark.parametrize(
    ("attack", "steps"), [(deepfool, 50), (fmn, 20), (fab, 5)], ids=["deepfool", "fmn", "fab"]
)
def test_clean_errors_get_distance_zero(affine_case, attack, steps):
    model, x, y, *_ = affine_case(seed=4, batch=10)
    y = y.clone()
    y[:3] = 1 - y[:3]  # these three are misclassified before any attack
    res = attack(model, x, y, steps=steps)
    assert res.success.all()
    assert torch.equal(res.distance[:3], torch.zeros(3, dtype=x.dtype))
    assert torch.equal(res.x_adv[:3], x[:3]) and (res.steps_to_success[:3] == 0).all()
    assert (res.distance[3:] > 0).all()


def test_best_is_the_smallest_of_its_parts(mlp_factory):
    model = mlp_factory(d=8, classes=4, hidden=24).eval()
    x = torch.rand(48, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = model(x).argmax(1)
    opts = dict(max_eps=3.0, norm="l2", steps=60, bounds=(0.0, 1.0))
    best = minimal_distance(model, x, y, method="best", **opts)
    for m in ("deepfool", "fmn", "path"):
        part = minimal_distance(model, x, y, method=m, **opts)
        assert (best.distance <= part.distance + 1e-6).all()
        chosen = torch.tensor([name == m for name in best.method])
        assert torch.allclose(best.distance[chosen], part.distance[chosen])
    broken = best.success
    assert (model(best.x_adv[broken]).argmax(1) != y[broken]).all()


def test_distances_beyond_max_eps_count_as_not_found(affine_case):
    model, x, y, exact = affine(affine_case)
    cap = float(exact["l2"].detach().median())
    r = minimal_distance(model, x, y, max_eps=cap, norm="l2", method="deepfool")
    assert not r.success[exact["l2"] > cap * 1.01].any()
    assert torch.isinf(r.distance[~r.success]).all()
    curve = robustness_curve(model, x, y, eps=[cap], norm="l2", method="deepfool")
    assert curve.success[0].tolist() == r.success.tolist()


def test_pgd_only_options_are_refused_for_the_logit_attacks(affine_case):
    model, x, y, _ = affine(affine_case, n=4)
    with pytest.raises(InputError, match="loss, targeted and is_adversarial"):
        minimal_distance(model, x, y, max_eps=1.0, method="fmn", targeted=True)
    with pytest.raises(InputError, match="method must be one of"):
        minimal_distance(model, x, y, max_eps=1.0, method="cw")
