"""Random starts are uniform in the ball (unlike torchattacks' PGDL2, whose radius is eps * U)."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from advgeom.attacks import pgd, uniform_ball


@pytest.mark.parametrize("d", [2, 10, 100])
def test_l2_start_is_uniform_in_the_ball(d):
    x = torch.zeros(20_000, d, dtype=torch.float64)
    eps = 0.7
    delta = uniform_ball(x, eps=eps, norm="l2", generator=torch.Generator().manual_seed(d))
    r = delta.norm(dim=1) / eps
    assert (r <= 1 + 1e-12).all()
    assert abs(r.mean().item() / (d / (d + 1)) - 1) < 0.01  # E||delta||/eps = d/(d+1)
    # Uniform in the ball <=> (||delta||/eps)^d ~ U(0, 1); torchattacks' r ~ U(0, 1) fails this.
    assert stats.kstest((r**d).numpy(), "uniform").pvalue > 1e-3
    u = delta / delta.norm(dim=1, keepdim=True)  # direction uniform on the sphere: mean ~ 0
    assert u.mean(0).abs().max() < 5 / (20_000**0.5)


def test_linf_start_is_uniform_in_the_cube():
    x = torch.zeros(4000, 50)
    delta = uniform_ball(x, eps=0.3, norm="linf", generator=torch.Generator().manual_seed(0))
    assert delta.abs().max() <= 0.3
    assert stats.kstest((delta.flatten() / 0.3).numpy(), "uniform", args=(-1, 2)).pvalue > 1e-3


def test_pgd_random_start_uses_the_ball_sampler():
    # A model with zero input gradient: PGD stays at its random start.
    d = 10

    def flat(x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], 2) + 0.0 * x.sum(dim=1, keepdim=True)

    x = torch.zeros(20_000, d)
    y = torch.zeros(20_000, dtype=torch.long)
    res = pgd(
        flat,
        x,
        y,
        eps=1.0,
        norm="l2",
        steps=1,
        step_size=0.1,
        random_start=True,
        generator=torch.Generator().manual_seed(1),
    )
    assert abs(res.distance.mean().item() / (d / (d + 1)) - 1) < 0.01
