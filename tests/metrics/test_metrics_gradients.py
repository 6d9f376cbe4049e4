"""Gradient norms: closed forms on an affine model, per-example independence."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.metrics import gradient_norm, gradient_norms, input_gradient


def test_gradient_norms_of_an_affine_model_are_norms_of_w(affine_factory):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(7, generator=g, dtype=torch.float64)
    model = affine_factory(w, 0.3)
    x = torch.randn(9, 7, generator=g, dtype=torch.float64)
    y = torch.zeros(9)
    linear = lambda out, yy: out[:, 0]  # noqa: E731 - a loss linear in the output: grad = w
    norms = gradient_norms(model, x, y, loss=linear)
    for q, p in (("l1", 1), ("l2", 2), ("linf", float("inf"))):
        assert norms[q].shape == (9,)
        assert torch.allclose(norms[q], w.norm(p=p).expand(9))
    # Sigmoid cross-entropy: grad = (sigma(z) - y) w.
    z = (x @ w + 0.3).detach()
    scale = (torch.sigmoid(z) - y).abs()
    assert torch.allclose(gradient_norm(model, x, y, norm="l2"), scale * w.norm())


def test_input_gradient_is_per_example_and_model_untouched():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).train()
    x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
    g_all = input_gradient(model, x, y)
    g_one = torch.cat([input_gradient(model, x[i : i + 1], y[i : i + 1]) for i in range(6)])
    assert torch.allclose(g_all, g_one, atol=1e-6)  # eval mode: examples are independent
    assert model.training and all(p.grad is None for p in model.parameters())


def test_bad_norm():
    with pytest.raises(InputError, match="norms must be one of"):
        gradient_norms(nn.Linear(3, 2), torch.rand(2, 3), torch.tensor([0, 1]), norms=("l3",))
