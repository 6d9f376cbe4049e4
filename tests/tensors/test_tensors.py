"""The shared tensor helpers: per-example norms, eval mode, and the norm balls of the attacks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from advgeom.attacks.balls import BALLS, ball
from advgeom.errors import InputError
from advgeom.tensors import ATTACK_NORMS, NORMS, dual_norm, eval_mode, lp_norm, scaled_eps, unit


def test_lp_norm_closed_forms_per_example():
    v = torch.tensor([[3.0, -4.0], [1.0, 1.0]]).view(2, 1, 2)
    assert lp_norm(v, "l2").tolist() == pytest.approx([5.0, math.sqrt(2)])
    assert lp_norm(v, "l1").tolist() == [7.0, 2.0]
    assert lp_norm(v, "linf").tolist() == [4.0, 1.0]
    assert lp_norm(torch.tensor([-2.0, 3.0]), "l2").tolist() == [2.0, 3.0]  # one coordinate each


def test_lp_norm_names_the_field_on_bad_input():
    with pytest.raises(InputError, match="norm must be one of"):
        lp_norm(torch.ones(2, 2), "l3")
    with pytest.raises(InputError, match="batch dimension"):
        lp_norm(torch.tensor(1.0), "l2")


def test_unit_rows_have_norm_one_and_zero_rows_stay_zero():
    v = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert torch.allclose(unit(v, "l2"), torch.tensor([[0.6, 0.8], [0.0, 0.0]]))


def test_duals_and_scaled_eps():
    assert [dual_norm(n) for n in NORMS] == ["linf", "l2", "l1"]
    assert scaled_eps(0.1, d=100, norm="l2") == pytest.approx(1.0)
    assert scaled_eps(0.1, d=100, norm="l1") == pytest.approx(10.0)
    assert set(ATTACK_NORMS) <= set(NORMS)


def test_eval_mode_restores_each_submodule_s_own_mode():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train()
    model[0].eval()
    with eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert model.training and not model[0].training and model[1].training


@pytest.mark.parametrize("norm", ATTACK_NORMS)
def test_balls_sample_inside_and_project_onto_ball_and_box(norm):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 5, generator=g)
    eps = torch.full((64,), 0.3)
    b = ball(norm)
    delta = b.sample(x, eps, g)
    assert (lp_norm(delta, norm) <= eps + 1e-6).all()
    far = x + 5 * torch.randn(64, 5, generator=g)
    lim = b.limits(x, eps, (0.0, 1.0))
    p = b.project(far, lim, None, (0.0, 1.0))
    assert (lp_norm(p - x, norm) <= eps + 1e-6).all()
    assert p.min() >= 0 and p.max() <= 1
    assert torch.allclose(b.project(p, lim, None, (0.0, 1.0)), p, atol=1e-6)  # idempotent
    assert (lp_norm(b.project_delta(far - x, eps), norm) <= eps + 1e-6).all()


def test_direction_has_unit_norm_and_raises_a_linear_loss():
    g = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(BALLS["linf"].direction(g), g.sign())
    assert torch.allclose(lp_norm(BALLS["l2"].direction(g), "l2"), torch.ones(4))
    with pytest.raises(InputError, match="norm must be one of"):
        ball("l1")
