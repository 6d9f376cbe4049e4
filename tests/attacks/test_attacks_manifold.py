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
