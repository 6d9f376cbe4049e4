"""``spheres.dimension``: the Monte Carlo error rate and the claims logic on fabricated traces."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.experiments.gilmer2018 import dimension
from advgeom.experiments.gilmer2018._measure import describe_rate, error_rate
from advgeom.experiments.gilmer2018.dimension import Config, claims, late_d_E
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
    out = error_rate(CapModel(cap_height(mu, n)), n, samples=samples, chunk=30_000, generator=gen)
    assert out["samples"] == samples and not out["bound"]
    assert out["mu"] == out["errors"] / samples
    assert abs(out["mu"] - mu) < 4 * math.sqrt(mu * (1 - mu) / samples)
    assert "in 200000" in describe_rate(out)


def test_zero_errors_are_reported_as_an_upper_bound():
    gen = torch.Generator().manual_seed(1)
    model = CapModel(2.0)  # the cap x_1 > 2 is empty on the unit sphere
    out = error_rate(model, 10, samples=3_000, chunk=1_000, generator=gen)
    assert out["errors"] == 0 and out["bound"] is True
    assert out["mu"] == pytest.approx(3 / 3_000)
    assert "95% bound" in describe_rate(out)
    # On the outer sphere of radius 2.5 (label 1) the same model errs wherever x_1 < 2: nearly all.
    outer = error_rate(model, 10, radius=2.5, label=1, samples=1_000, generator=gen)
    assert outer["errors"] > 900


def test_error_rate_restores_training_mode():
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).train()
    error_rate(model, 5, samples=100, chunk=40, generator=torch.Generator().manual_seed(0))
    assert model.training


def _trace(d_values, found=1.0, mu=1e-3):
    return [{"step": 100 * i, "mu_E": mu, "mu_E_errors": 5, "mu_E_samples": 5_000,
             "mu_E_bound": False, "d_E": d, "found": found if d is not None else 0.0}
            for i, d in enumerate(d_values)]


def _metrics(per_n):
    return {"dims": list(per_n), "runs": [{"n": n, "trace": tr} for n, tr in per_n.items()]}


PAPER_LIKE = {
    10: _trace([0.9, 1.0, None, None, None, None]),
    50: _trace([0.8, None, None, None, None, None]),
    100: _trace([0.5, 0.6, 0.7, 0.72, 0.68, 0.7]),
    500: _trace([0.3, 0.2, 0.19, 0.18, 0.17, 0.18]),
}
LONG = Config(dims=(10, 50, 100, 500), steps=200_000)


def by_id(cs):
    return {c["id"]: c for c in cs}


def test_claims_agree_on_paper_like_traces():
    cs = by_id(claims(LONG, _metrics(PAPER_LIKE)))
    assert list(cs) == ["no_errors_small_n", "plateau_n100", "plateau_n500",
                        "d_E_decreases_with_n"]
    assert cs["no_errors_small_n"]["agrees"] is True
    assert cs["plateau_n100"]["agrees"] is True
    assert cs["plateau_n100"]["measured"] == pytest.approx(0.69)
    assert cs["plateau_n500"]["agrees"] is True
    assert cs["plateau_n500"]["measured"] == pytest.approx(0.175)
    assert cs["d_E_decreases_with_n"]["agrees"] is True
    assert cs["d_E_decreases_with_n"]["measured"] == {"100": pytest.approx(0.69),
                                                      "500": pytest.approx(0.175)}


def test_claims_report_disagreement_honestly():
    per_n = dict(PAPER_LIKE)
    per_n[10] = _trace([0.9, 0.3, 0.3, 0.3, 0.3, 0.3], found=0.4)  # errors found at n = 10
    per_n[500] = _trace([0.9, 0.9, 0.9, 0.9, 0.9, 0.9])  # larger than at n = 100
    cs = by_id(claims(LONG, _metrics(per_n)))
    assert cs["no_errors_small_n"]["agrees"] is False
    assert cs["no_errors_small_n"]["measured"]["10"] == 0.4
    assert cs["plateau_n500"]["agrees"] is False
    assert cs["d_E_decreases_with_n"]["agrees"] is False
    per_n[100] = _trace([None] * 6)  # the paper found errors at n = 100: none found is a miss
    assert by_id(claims(LONG, _metrics(per_n)))["plateau_n100"]["agrees"] is False


def test_plateaus_not_compared_when_the_run_cannot_show_them():
    short = Config(dims=(10, 50, 100, 500), hidden=100, steps=4_000)
    cs = by_id(claims(short, _metrics(PAPER_LIKE)))
    assert cs["plateau_n100"]["agrees"] is None and cs["plateau_n500"]["agrees"] is None
    assert "ReLU-h1000-d2" in cs["plateau_n100"]["note"]
    assert cs["plateau_n100"]["measured"] == pytest.approx(0.69)  # still reported
    assert cs["no_errors_small_n"]["agrees"] is True  # the qualitative claims are still tested
    no100 = Config(dims=(10, 500), steps=200_000)
    cs = by_id(claims(no100, _metrics({10: PAPER_LIKE[10], 500: PAPER_LIKE[500]})))
    assert cs["plateau_n100"]["agrees"] is None and "not in dims" in cs["plateau_n100"]["note"]
    assert cs["d_E_decreases_with_n"]["agrees"] is None  # one dim with errors: nothing to order
    smoke = by_id(claims(LONG, _metrics(PAPER_LIKE), measurable=False))
    assert all(c["agrees"] is None for c in smoke.values())
    assert all("smoke" in c["note"] for c in smoke.values())


def test_late_d_E_uses_the_last_snapshots_with_errors():
    assert late_d_E(_trace([1.0, 1.0, 0.2, None, 0.4]), 0.5) == pytest.approx(0.3)
    assert late_d_E(_trace([1.0, None, None]), 0.5) is None
    assert late_d_E(_trace([0.5]), 0.1) == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [{"dims": ()}, {"dims": (10, 10)}, {"dims": (1,)},
                                 {"steps": 0}, {"step_size": 0.0}, {"late": 0.0},
                                 {"R": 1.0}, {"attack_points": 0}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(InputError):
        Config(**bad)


def test_defaults_are_the_papers():
    cfg = Config()
    assert cfg.dims == (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 500)
    assert (cfg.hidden, cfg.depth, cfg.steps, cfg.batch_size, cfg.lr) == (1000, 2, 10**6, 50, 1e-4)
    assert (cfg.attack_points, cfg.attack_steps, cfg.step_size) == (100, 1000, 0.01)
    assert dimension.EXPERIMENT.id == "spheres.dimension"
