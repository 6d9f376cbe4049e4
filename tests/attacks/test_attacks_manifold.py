"""Manifold PGD (Gilmer et al. 2.1) keeps ||x_hat|| = ||x|| and reports the first error."""

from __future__ import annotations

import pytest
import torch

from advgeom.attacks import manifold_pgd
from advgeom.errors import InputError
from advgeom.models import QuadraticNet, ReLUMLP


def _sphere_batch(n: int, batch: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n, generator=g)
    radius = torch.where(torch.arange(batch) % 2 == 0, 1.0, 1.3)
    return x / x.norm(dim=1, keepdim=True) * radius[:, None]


@pytest.fixture
def relu_case():
    torch.manual_seed(0)
    model = ReLUMLP(in_features=20, hidden=32, depth=2)
    x = _sphere_batch(20, 24, 1)
    with torch.no_grad():
        y = (model.eval()(x)[:, 0] > 0).long()  # clean-correct labels, so errors must be found
    return model, x, y


@pytest.mark.parametrize("mode", ["first_error", "worst_case"])
@pytest.mark.parametrize("tangent", [True, False])
def test_norm_is_kept(relu_case, mode, tangent):
    model, x, y = relu_case
    res = manifold_pgd(model, x, y, steps=60, step_size=0.05, mode=mode, tangent=tangent)
    rel = (res.x_adv.norm(dim=1) / x.norm(dim=1) - 1).abs()
    assert rel.max() < 1e-5
    assert res.success.any()


def test_first_error_and_worst_case_agree_on_the_first_error(relu_case):
    model, x, y = relu_case
    first = manifold_pgd(model, x, y, steps=80, step_size=0.05, mode="first_error")
    worst = manifold_pgd(model, x, y, steps=80, step_size=0.05, mode="worst_case")
    ok = first.success
    assert torch.allclose(first.first_error_distance[ok], first.distance[ok])
    assert torch.isinf(first.first_error_distance[~ok]).all()
    seen = worst.steps_to_success >= 0
    assert torch.equal(seen, ok)
    assert torch.allclose(worst.first_error_distance[ok], first.distance[ok], atol=1e-5)
    assert torch.equal(worst.steps_to_success[ok], first.steps_to_success[ok])
    assert ((model(first.x_adv[ok])[:, 0] > 0).long() != y[ok]).all()


def test_quadratic_net_errors_on_sphere():
    torch.manual_seed(0)
    model = QuadraticNet(in_features=10, hidden=40)
    x = _sphere_batch(10, 16, 2)
    # Labels from the data (inner sphere 0, outer 1): the perturbed ellipsoid leaves errors.
    y = (x.norm(dim=1) > 1.1).long()
    res = manifold_pgd(model, x, y, steps=200, step_size=0.05)
    assert ((res.x_adv.norm(dim=1) / x.norm(dim=1) - 1).abs() < 1e-5).all()
    assert res.success.any()


def test_bad_mode_and_non_classifier():
    x = _sphere_batch(5, 4, 0)
    y = torch.zeros(4, dtype=torch.long)
    with pytest.raises(InputError, match="mode"):
        manifold_pgd(torch.nn.Linear(5, 1), x, y, mode="nearest")
    with pytest.raises(InputError, match="is_adversarial"):
        manifold_pgd(torch.nn.Linear(5, 5), x, x, loss="mse", steps=2)


def _one_step(x: torch.Tensor, direction: torch.Tensor, step: float) -> torch.Tensor:
    """x + step * d / ||d||, re-normalised to ||x|| (rows)."""
    moved = x + step * direction / direction.norm(dim=1, keepdim=True)
    return moved / moved.norm(dim=1, keepdim=True) * x.norm(dim=1, keepdim=True)


def test_default_step_is_the_papers_literal_step():
    """Paper (Sec. 2.1): a PGD step along the normalised gradient, then the projection onto the
    sphere; the tangent step is our variant. On a linear logit w.x + b the BCE gradient of an
    inner-sphere example (label 0) is a positive multiple of w, so one step is known exactly."""
    g = torch.Generator().manual_seed(3)
    model = torch.nn.Linear(8, 1).double()
    w = model.weight.detach()[0]
    x = torch.nn.functional.normalize(torch.randn(5, 8, generator=g, dtype=torch.float64), dim=1)
    y = torch.zeros(5, dtype=torch.long)
    default = manifold_pgd(model, x, y, steps=1, step_size=0.3, mode="worst_case").x_adv
    literal = manifold_pgd(model, x, y, steps=1, step_size=0.3, mode="worst_case",
                           tangent=False).x_adv
    tangent = manifold_pgd(model, x, y, steps=1, step_size=0.3, mode="worst_case",
                           tangent=True).x_adv
    expected = _one_step(x, w.expand_as(x), 0.3)
    torch.testing.assert_close(default, expected)
    torch.testing.assert_close(literal, expected)
    w_t = w - (x @ w)[:, None] * x  # the tangential part of w at each x (||x|| = 1)
    torch.testing.assert_close(tangent, _one_step(x, w_t, 0.3))
    assert (tangent - expected).norm(dim=1).min() > 1e-3  # the two steps really differ


def test_literal_step_moves_less_along_the_sphere_when_the_gradient_is_radial():
    """With a nearly radial gradient the literal step's move along the sphere shrinks (the reason
    the experiments report the tangent variant beside it)."""
    x = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    model = torch.nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.1, 0.0]], dtype=torch.float64))
    y = torch.zeros(1, dtype=torch.long)
    moved = {t: (manifold_pgd(model, x, y, steps=1, step_size=0.1, mode="worst_case",
                              tangent=t).x_adv - x).norm().item() for t in (False, True)}
    assert moved[True] == pytest.approx(0.1, rel=1e-2)
    assert moved[False] < 0.2 * moved[True]
