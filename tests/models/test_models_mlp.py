"""The sphere networks of Gilmer et al.: shapes, layers, the quadratic net's closed form."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.models import QuadraticNet, ReLUMLP


def test_relu_h1000_d2_layout():
    model = ReLUMLP(in_features=500, hidden=1000, depth=2)
    kinds = [type(m) for m in model]
    assert kinds == [
        nn.Linear,
        nn.BatchNorm1d,
        nn.ReLU,
        nn.Linear,
        nn.BatchNorm1d,
        nn.ReLU,
        nn.Linear,
    ]
    assert model[0].weight.shape == (1000, 500) and model[6].weight.shape == (1, 1000)
    assert model.eval()(torch.randn(3, 500)).shape == (3, 1)
    plain = ReLUMLP(in_features=4, hidden=5, depth=3, out_features=2, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in plain)
    assert plain(torch.randn(2, 4)).shape == (2, 2)


def test_quadratic_net_is_its_closed_form():
    torch.manual_seed(0)
    model = QuadraticNet(in_features=6, hidden=9)
    with torch.no_grad():
        model.w.fill_(0.5)
        model.b.fill_(-2.0)
    x = torch.randn(4, 6)
    expected = 0.5 * ((x @ model.W1.T) ** 2).sum(1) - 2.0
    assert torch.allclose(model(x)[:, 0], expected, atol=1e-5)
    # y = sum_i alpha_i z_i^2 - 1 (times -b) with z the coordinates in W1's right singular basis.
    _, s, vh = torch.linalg.svd(model.W1.detach().double())
    z = x.double() @ vh.T
    alpha = model.alpha().double()
    assert torch.allclose(alpha, 0.5 * s**2 / 2.0, rtol=1e-5)
    assert torch.allclose(model(x)[:, 0].double(), 2.0 * ((alpha * z**2).sum(1) - 1), atol=1e-4)


def test_quadratic_alpha_pads_unseen_directions():
    model = QuadraticNet(in_features=8, hidden=3)
    alpha = model.alpha()
    assert alpha.shape == (8,) and (alpha[3:] == 0).all() and (alpha[:3] > 0).all()


@pytest.mark.parametrize(
    "kwargs", [{"hidden": 0}, {"depth": 0}, {"in_features": 2.5}, {"hidden": True}]
)
def test_bad_sizes(kwargs):
    args = {"in_features": 3, "hidden": 4, "depth": 1, **kwargs}
    with pytest.raises(InputError):
        ReLUMLP(**args)
