"""``spheres.dimension``: the Monte Carlo error rate and the claims logic on fabricated traces."""

from __future__ import annotations

import pytest
import torch

from advgeom.errors import InputError
from advgeom.experiments import rules
from advgeom.experiments.gilmer2018 import _attack, dimension
from advgeom.experiments.gilmer2018.dimension import Config, claims, late_d_E
from advgeom.models.mlp import ReLUMLP


def _trace(d_values, found=1.0, mu=1e-3, found_tangent=None):
    return [{"step": 100 * i, "mu_E": mu, "mu_E_errors": 5, "mu_E_samples": 5_000,
             "mu_E_bound": False, "d_E": d, "found": found if d is not None else 0.0,
             "d_E_tangent": d, "found_tangent": found if found_tangent is None else found_tangent}
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
    assert cs["plateau_n100"]["measured"] == {"d_E": pytest.approx(0.69), "found": 1.0}
    assert cs["plateau_n500"]["agrees"] is True
    assert cs["plateau_n500"]["measured"]["d_E"] == pytest.approx(0.175)
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
    assert cs["plateau_n100"]["measured"]["d_E"] == pytest.approx(0.69)  # still reported
    assert cs["no_errors_small_n"]["agrees"] is True  # the qualitative claims are still tested
    no100 = Config(dims=(10, 500), steps=200_000)
    cs = by_id(claims(no100, _metrics({10: PAPER_LIKE[10], 500: PAPER_LIKE[500]})))
    assert cs["plateau_n100"]["agrees"] is None and "not in dims" in cs["plateau_n100"]["note"]
    assert cs["d_E_decreases_with_n"]["agrees"] is None  # one dim with errors: nothing to order
    smoke = by_id(claims(LONG, _metrics(PAPER_LIKE), measurable=False))
    assert all(c["agrees"] is None for c in smoke.values())
    assert all("smoke" in c["note"] for c in smoke.values())


def test_every_claim_rule_can_fail_and_accepts_the_paper():
    for c in claims(LONG, _metrics(PAPER_LIKE)):
        assert rules.contract_problems(c.decided_by, c["paper_value"]) == [], c["id"]


def test_a_d_E_over_few_found_points_is_not_the_papers_d_E():
    """Old defect: d(E) averaged over the found points only, whatever their share, so a d(E)
    from 3 of 100 points could "reproduce" the paper's plateau."""
    per_n = dict(PAPER_LIKE)
    per_n[100] = _trace([0.7] * 6, found=0.03)
    cs = by_id(claims(LONG, _metrics(per_n)))
    assert cs["plateau_n100"]["measured"] == {"d_E": pytest.approx(0.7),
                                              "found": pytest.approx(0.03)}
    assert cs["plateau_n100"]["agrees"] is False
    assert "80%" in cs["plateau_n100"]["rule"]
    # The ordering over n leaves that dimension out and says so.
    assert cs["d_E_decreases_with_n"]["measured"] is None  # only n = 500 is left
    assert "left out: n = 100 (found 0.03)" in cs["d_E_decreases_with_n"]["note"]
    per_n[50] = _trace([0.9] * 6, found=0.9)
    cs = by_id(claims(LONG, _metrics(per_n)))
    assert cs["d_E_decreases_with_n"]["measured"] == {"50": 0.9, "500": pytest.approx(0.175)}
    assert cs["d_E_decreases_with_n"]["agrees"] is True


def test_no_errors_small_n_is_decided_by_the_papers_step():
    """The claim is about an attack failing: the tangent step finding errors does not change it,
    the paper's step finding them does."""
    per_n = dict(PAPER_LIKE)
    per_n[10] = _trace([0.9, None, None], found_tangent=0.5)
    c = by_id(claims(LONG, _metrics(per_n)))["no_errors_small_n"]
    assert c["agrees"] is True and c["measured"] == {"10": 0.0, "50": 0.0}
    assert "attack failing" in c["note"] and "n = 10: 0.50" in c["note"]
    per_n[10] = _trace([0.9, 0.8, 0.8], found=0.2, found_tangent=0.0)
    c = by_id(claims(LONG, _metrics(per_n)))["no_errors_small_n"]
    assert c["agrees"] is False and c["measured"]["10"] == 0.2


def test_snapshot_measures_with_the_papers_step_and_reports_the_tangent_one(monkeypatch):
    """Old defect: the claims' d(E) came from the tangent step (tangent=True by default)."""
    calls = []
    real = _attack.manifold_pgd

    def spy(model, x, y, **kw):
        calls.append(kw)
        return real(model, x, y, **kw)

    monkeypatch.setattr(_attack, "manifold_pgd", spy)
    torch.manual_seed(0)
    model = ReLUMLP(in_features=8, hidden=16, depth=2).eval()
    x = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    cfg = Config(attack_points=6, attack_steps=30, step_size=0.05, mc_samples=500, chunk=500)
    snap = dimension.snapshot(model, 3, cfg, x, torch.Generator().manual_seed(1))
    assert [c["tangent"] for c in calls] == [False, True]
    assert all(c["mode"] == "first_error" for c in calls)
    alone = real(model, x, torch.zeros(6, dtype=torch.long), steps=30, step_size=0.05,
                 mode="first_error", tangent=False).first_error_distance
    found = torch.isfinite(alone)
    assert snap["found"] == pytest.approx(found.float().mean().item())
    if found.any():
        assert snap["d_E"] == pytest.approx(alone[found].mean().item(), rel=1e-5)
    assert {"d_E_tangent", "found_tangent"} <= set(snap)
    calls.clear()
    off = dimension.snapshot(model, 3, Config(**{**vars(cfg), "report_tangent": False}), x,
                             torch.Generator().manual_seed(1))
    assert len(calls) == 1 and off["found_tangent"] is None


def test_late_d_E_uses_the_last_snapshots_with_errors():
    assert late_d_E(_trace([1.0, 1.0, 0.2, None, 0.4]), 0.5) == pytest.approx(0.3)
    assert late_d_E(_trace([1.0, None, None]), 0.5) is None
    assert late_d_E(_trace([0.5]), 0.1) == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [{"dims": ()}, {"dims": (10, 10)}, {"dims": (1,)},
                                 {"steps": 0}, {"step_size": 0.0}, {"late": 0.0},
                                 {"R": 1.0}, {"attack_points": 0}, {"min_found": 0.0},
                                 {"min_found": 1.5}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(InputError):
        Config(**bad)


def test_defaults_are_the_papers():
    cfg = Config()
    assert cfg.dims == (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 500)
    assert (cfg.hidden, cfg.depth, cfg.steps, cfg.batch_size, cfg.lr) == (1000, 2, 10**6, 50, 1e-4)
    assert (cfg.attack_points, cfg.attack_steps, cfg.step_size) == (100, 1000, 0.01)
    assert dimension.EXPERIMENT.id == "spheres.dimension"
