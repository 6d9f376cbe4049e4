"""Closed forms on an affine model w.x + b: distances, FGSM's step and loss increase."""

from __future__ import annotations

import pytest
import torch

from advgeom.attacks import fgm, fgsm, minimal_distance, pgd, robustness_curve


@pytest.fixture
def affine_case(affine_factory):
    g = torch.Generator().manual_seed(3)
    n = 12
    w = torch.randn(n, generator=g, dtype=torch.float64)
    b = 0.4
    x = torch.randn(40, n, generator=g, dtype=torch.float64)
    model = affine_factory(w, b)
    y = (model(x)[:, 0] > 0).long()
    margin = (x @ w + b).abs()
    return model, x, y, w, margin


@pytest.mark.parametrize("method", ["path", "bisection"])
@pytest.mark.parametrize("norm,q", [("l2", 2), ("linf", 1)])
def test_minimal_distance_is_margin_over_dual_norm(affine_case, method, norm, q):
    model, x, y, w, margin = affine_case
    true = margin / w.norm(p=q)
    res = minimal_distance(
        model,
        x,
        y,
        max_eps=float(true.max()) * 2,
        norm=norm,
        method=method,
        steps=30,
        search_steps=30,
        refine_steps=30,
    )
    assert res.success.all()
    assert torch.allclose(res.distance, true, rtol=1e-4, atol=0)
    assert torch.equal(model(res.x_adv)[:, 0] > 0, y == 0)  # really on the other side


@pytest.mark.parametrize("norm,q", [("l2", 2), ("linf", 1)])
def test_pgd_breaks_just_above_the_distance_and_not_below(affine_case, norm, q):
    model, x, y, w, margin = affine_case
    true = margin / w.norm(p=q)
    kw = dict(norm=norm, steps=40, early_stop=True)
    above = pgd(model, x, y, eps=true * (1 + 1e-3), step_size=true / 10, **kw)
    below = pgd(model, x, y, eps=true * (1 - 1e-3), step_size=true / 10, **kw)
    assert above.success.all() and not below.success.any()


def test_fgsm_step_and_first_order_loss_increase(affine_case):
    model, x, y, w, margin = affine_case
    eps = 1e-4
    res = fgsm(model, x, y, eps=eps)
    # The sign step of a binary model moves every coordinate by eps against the margin.
    direction = torch.where(y == 1, -1.0, 1.0).to(x.dtype)
    expected = x + eps * direction[:, None] * w.sign()[None, :]
    assert torch.allclose(res.x_adv, expected, atol=1e-12)
    # Loss linear in the output: the increase is exactly eps * ||w||_1.
    linear = fgsm(model, x, y, eps=eps, loss=lambda out, yy: out[:, 0] * (1 - 2 * yy))
    clean = (model(x)[:, 0] * (1 - 2 * y)).detach()
    assert torch.allclose(linear.loss - clean, eps * w.norm(p=1).expand(40), rtol=1e-9)
    # Sigmoid cross-entropy: eps * |sigma(z) - y| * ||w||_1 to first order.
    z = model(x)[:, 0].detach()
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    rise = res.loss - bce(z, y.double(), reduction="none")
    first_order = eps * (torch.sigmoid(z) - y).abs() * w.norm(p=1)
    assert torch.allclose(rise, first_order, rtol=1e-3)


def test_fgm_l2_moves_exactly_eps_along_w(affine_case):
    model, x, y, w, _ = affine_case
    res = fgm(model, x, y, eps=0.05, norm="l2")
    step = res.x_adv - x
    assert torch.allclose(step.norm(dim=1), torch.full((40,), 0.05, dtype=x.dtype))
    cos = (step @ w) / (step.norm(dim=1) * w.norm())
    assert torch.allclose(cos.abs(), torch.ones_like(cos))


@pytest.mark.parametrize("method", ["pgd", "minimal"])
def test_robustness_curve_matches_closed_form(affine_case, method):
    model, x, y, w, margin = affine_case
    true = margin / w.norm()
    eps = [0.0, 0.2, 0.5, 1.0, 3.0]
    curve = robustness_curve(model, x, y, eps=eps, norm="l2", method=method, steps=60)
    expected = torch.stack([(true > e).double().mean() for e in eps])
    assert curve.success.shape == (5, 40)
    assert torch.allclose(curve.robust_accuracy.double(), expected, atol=1 / 40 + 1e-9)
