"""Ensemble: stacked members evaluate as the members alone; mixed architectures are refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.models.ensemble import Ensemble
from advgeom.models.mlp import QuadraticNet, ReLUMLP


def _members(count=3, **kw):
    torch.manual_seed(0)
    return [ReLUMLP(in_features=6, hidden=8, depth=2, **kw) for _ in range(count)]


def test_forward_equals_each_member_in_both_modes():
    members = _members()
    ensemble = Ensemble(members)
    x = torch.randn(3, 5, 6)
    for train in (True, False):
        ensemble.train(train)
        out = ensemble(x)
        for i, m in enumerate(members):
            m.train(train)
            torch.testing.assert_close(out[i], m(x[i]))
    # In eval mode (train mode would update member 2's statistics twice on the ensemble's side).
    torch.testing.assert_close(ensemble.forward_shared(x[0])[2], members[2](x[0]))


def test_member_is_a_standalone_copy_with_its_weights():
    members = _members()
    ensemble = Ensemble(members).eval()
    copy = ensemble.member(1)
    assert type(copy) is ReLUMLP and not copy.training
    x = torch.randn(4, 6)
    torch.testing.assert_close(copy(x), members[1].eval()(x))
    with torch.no_grad():
        next(copy.parameters()).zero_()  # the copy does not share storage with the ensemble
    torch.testing.assert_close(ensemble.member(1)(x), members[1](x))
    with pytest.raises(InputError, match="index"):
        ensemble.member(3)


def test_as_single_model_gives_each_member_its_rows():
    members = _members(2)
    flat = Ensemble(members).eval().as_single_model()
    x = torch.randn(6, 6)
    out = flat(x)
    assert out.shape == (6, 1)
    torch.testing.assert_close(out[:3], members[0].eval()(x[:3]))
    torch.testing.assert_close(out[3:], members[1].eval()(x[3:]))
    with pytest.raises(InputError, match="multiple of the ensemble size"):
        flat(torch.randn(5, 6))


def test_gradients_reach_each_member_separately():
    members = _members(2)
    ensemble = Ensemble(members)
    x = torch.randn(2, 4, 6)
    ensemble(x)[0].sum().backward()  # member 0 only
    grads = [p.grad for p in ensemble.parameters()]
    assert all(g[1].abs().max() == 0 for g in grads)
    assert any(g[0].abs().max() > 0 for g in grads)


def test_mixed_or_wrong_inputs_are_refused():
    with pytest.raises(InputError, match="at least one"):
        Ensemble([])
    with pytest.raises(InputError, match="one architecture"):
        Ensemble([ReLUMLP(in_features=6, hidden=8, depth=2), QuadraticNet(in_features=6, hidden=8)])
    with pytest.raises(InputError, match="shapes"):
        Ensemble(
            [ReLUMLP(in_features=6, hidden=8, depth=2), ReLUMLP(in_features=6, hidden=9, depth=2)]
        )
    with pytest.raises(InputError, match=r"shape \(E=2"):
        Ensemble(_members(2))(torch.randn(3, 4, 6))
    assert isinstance(Ensemble([nn.Linear(3, 1)]).member(0), nn.Linear)
