"""Monte Carlo error rates on a sphere: the estimate, the zero-error bound, ensembles, and the
reduced-precision pass whose decisions must equal fp32's."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.metrics.error_rate import describe_rate, sphere_error_rate, sphere_error_rates
from advgeom.models.ensemble import Ensemble
from advgeom.models.mlp import ReLUMLP
from advgeom.theory.caps import cap_height


class CapModel(nn.Module):
    """One logit ``x_1 - h``: on the inner sphere (label 0) it errs exactly on the cap x_1 > h."""

    def __init__(self, h: float) -> None:
        super().__init__()
        self.h = h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, :1] - self.h).float()


def test_error_rate_matches_a_cap_of_known_measure():
    mu, n, samples = 0.1, 20, 200_000
    gen = torch.Generator().manual_seed(0)
    # A chunk that does not divide the sample count: the last chunk is a partial one.
    out = sphere_error_rate(
        CapModel(cap_height(mu, n)), n, samples=samples, chunk=30_000, generator=gen
    )
    assert out["samples"] == samples and not out["bound"]
    assert out["mu"] == out["errors"] / samples
    assert abs(out["mu"] - mu) < 4 * math.sqrt(mu * (1 - mu) / samples)
    assert "in 200000" in describe_rate(out)


def test_zero_errors_are_reported_as_an_upper_bound():
    gen = torch.Generator().manual_seed(1)
    model = CapModel(2.0)  # the cap x_1 > 2 is empty on the unit sphere
    out = sphere_error_rate(model, 10, samples=3_000, chunk=1_000, generator=gen)
    assert out["errors"] == 0 and out["bound"] is True
    assert out["mu"] == pytest.approx(3 / 3_000)
    assert "95% bound" in describe_rate(out)
    # On the outer sphere of radius 2.5 (label 1) the same model errs wherever x_1 < 2: nearly all.
    outer = sphere_error_rate(model, 10, radius=2.5, label=1, samples=1_000, generator=gen)
    assert outer["errors"] > 900


def test_error_rate_restores_training_mode():
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).train()
    sphere_error_rate(model, 5, samples=100, chunk=40, generator=torch.Generator().manual_seed(0))
    assert model.training


def test_ensemble_rates_equal_each_member_measured_alone():
    torch.manual_seed(0)
    members = [ReLUMLP(in_features=12, hidden=16, depth=2) for _ in range(3)]
    ensemble = Ensemble(members)
    together = sphere_error_rates(
        ensemble, 12, samples=5_000, chunk=1_500, generator=torch.Generator().manual_seed(4)
    )
    for member, rate in zip(members, together, strict=True):
        alone = sphere_error_rate(
            member, 12, samples=5_000, chunk=1_500, generator=torch.Generator().manual_seed(4)
        )
        assert rate["errors"] == alone["errors"]


class NearBoundary(nn.Module):
    """Logits spread evenly through [-1, 1] by a wide random layer: many samples sit within
    bf16's rounding of the boundary, so a first pass alone would misjudge some of them."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.layer = nn.Linear(n, 1)
        with torch.no_grad():
            self.layer.weight.normal_(generator=torch.Generator().manual_seed(0))
            self.layer.weight.mul_(math.sqrt(n) / self.layer.weight.norm() / 3)
            self.layer.bias.fill_(0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


@pytest.mark.parametrize("classes", [1, 3])
def test_bf16_first_pass_makes_exactly_the_fp32_decisions(classes):
    n = 64
    model = (
        NearBoundary(n)
        if classes == 1
        else nn.Sequential(nn.Linear(n, 32), nn.ReLU(), nn.Linear(32, classes))
    )
    torch.manual_seed(1)
    exact = sphere_error_rate(
        model, n, samples=40_000, chunk=8_000, generator=torch.Generator().manual_seed(2)
    )
    fast = sphere_error_rate(
        model,
        n,
        samples=40_000,
        chunk=8_000,
        precision="bf16",
        generator=torch.Generator().manual_seed(2),
    )
    assert 0 < exact["errors"] < 40_000
    assert fast["errors"] == exact["errors"]
    # The fp32 re-check covers the calibration chunk and some near-boundary samples, not all.
    assert 8_000 < fast["rechecked"] < 40_000
    assert exact["rechecked"] == 0


def test_bad_precision_is_refused():
    with pytest.raises(InputError, match="precision"):
        sphere_error_rate(
            NearBoundary(4), 4, samples=10, precision="fp8", generator=torch.Generator()
        )
