"""``spheres.dimension``: the Monte Carlo error rate and the claims logic on fabricated traces."""

from __future__ import annotations

import pytest

from advgeom.errors import InputError
from advgeom.experiments.gilmer2018 import dimension
from advgeom.experiments.gilmer2018.dimension import Config, claims, late_d_E


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
