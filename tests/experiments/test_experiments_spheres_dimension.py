"""``spheres.dimension``: the Monte Carlo error rate and the claims logic on fabricated traces;
the checks of the final n = 500 net and the n = 2 contrast (Sec. 3, App. A, Fig. B.3)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from scipy import stats

from advgeom.errors import InputError
from advgeom.experiments.gilmer2018 import _attack, _final_checks, dimension
from advgeom.experiments.gilmer2018.dimension import Config, claims, late_d_E
from advgeom.models.mlp import ReLUMLP
from advgeom.runs import rules
from advgeom.runs.context import RunContext
from advgeom.store.rundir import RunDir


def _trace(d_values, found=1.0, mu=1e-3, found_tangent=None, loss=None):
    return [{"step": 100 * i, "mu_E": mu, "mu_E_errors": 5, "mu_E_samples": 5_000,
             "mu_E_bound": False, "d_E": d, "found": found if d is not None else 0.0,
             "d_E_tangent": d, "found_tangent": found if found_tangent is None else found_tangent,
             "loss": 1e-3 if loss is None else loss}
            for i, d in enumerate(d_values)]


def _final(errors=(0, 0), samples=10**7, distances=None):
    if distances is None:  # 1000 points, d(x, E) ~ 0.18 +- 0.02
        distances = (0.18 + 0.02 * np.random.default_rng(0).standard_normal(1000)).tolist()
    return {"errors_inner": errors[0], "errors_outer": errors[1], "samples_per_sphere": samples,
            "distances": distances}


def _contrast(errors=(0, 0), found=(0.0, 0.0), samples=10**7):
    return {"n": 2, "N": 100, "steps": 10**6, "errors_inner": errors[0],
            "errors_outer": errors[1], "samples_per_sphere": samples, "found_inner": found[0],
            "found_outer": found[1]}


def _metrics(per_n, final=None, contrast=None):
    runs = [{"n": n, "trace": copy.deepcopy(tr)} for n, tr in per_n.items()]
    for r in runs:
        if r["n"] == 500 and final is not False:
            r["final"] = _final() if final is None else final
    return {"dims": list(per_n), "runs": runs,
            "contrast": _contrast() if contrast is None else contrast}


PAPER_LIKE = {
    10: _trace([0.9, 1.0, None, None, None, None]),
    50: _trace([0.8, None, None, None, None, None]),
    100: _trace([0.5, 0.6, 0.7, 0.72, 0.68, 0.7]),
    500: _trace([0.3, 0.2, 0.19, 0.18, 0.17, 0.18]),
}
LONG = Config(dims=(10, 50, 100, 500), steps=200_000)
PAPER = Config(dims=(10, 50, 100, 500))  # the paper's net and 10^6 steps
NEW = ["no_sampled_error_n500", "no_errors_n2", "distances_concentrated",
       "loss_below_1e-9_d_E_plateaus"]


def by_id(cs):
    return {c["id"]: c for c in cs}


def _paper_b3(**final):
    """Paper-like traces whose n = 500 loss falls to 1e-10 (Fig. B.3)."""
    per_n = dict(PAPER_LIKE)
    per_n[500] = _trace([0.3, 0.2, 0.19, 0.18, 0.17, 0.18], loss=1e-10)
    return _metrics(per_n, **final)


def test_claims_agree_on_paper_like_traces():
    cs = by_id(claims(LONG, _metrics(PAPER_LIKE)))
    assert list(cs) == ["no_errors_small_n", "plateau_n100", "plateau_n500",
                        "d_E_decreases_with_n", *NEW]
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
    assert 0 < snap["loss"] < 10 and math.isfinite(snap["loss"])  # fresh points, both spheres
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
                                 {"min_found": 1.5}, {"final_samples": 0}, {"loss_samples": 0},
                                 {"final_attack_points": 0}, {"contrast_n": 1},
                                 {"contrast_N": 0}, {"contrast_samples": 0}, {"cv_max": 0.0}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(InputError):
        Config(**bad)


def test_defaults_are_the_papers():
    cfg = Config()
    assert cfg.dims == (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 500)
    assert (cfg.hidden, cfg.depth, cfg.steps, cfg.batch_size, cfg.lr) == (1000, 2, 10**6, 50, 1e-4)
    assert (cfg.attack_points, cfg.attack_steps, cfg.step_size) == (100, 1000, 0.01)
    assert cfg.final_samples == 10**7  # Sec. 3: 10 million of each sphere, 2 x 10^7 in all
    assert (cfg.contrast_n, cfg.contrast_N, cfg.contrast_steps) == (2, 100, 10**6)
    assert dimension.EXPERIMENT.id == "spheres.dimension"


# --- Sec. 3, App. A, Fig. B.3 and the n = 2 contrast -----------------------------------------


def test_the_final_net_checks_agree_on_paper_like_measurements():
    cs = by_id(claims(PAPER, _paper_b3()))
    for cid in NEW:
        assert cs[cid]["agrees"] is True, (cid, cs[cid]["measured"], cs[cid]["note"])
    sampled = cs["no_sampled_error_n500"]
    assert sampled["paper_value"] == pytest.approx(1.5e-7)
    assert sampled["measured"]["errors"] == 0 and sampled["measured"]["samples"] == 2 * 10**7
    assert sampled["measured"]["mu_E_upper"] == pytest.approx(-math.log(0.05) / 2e7, rel=1e-6)
    assert sampled["measured"]["mu_E_upper"] > 0  # zero errors are a bound, never 0
    assert "1.5e-07" in sampled["note"]
    conc = cs["distances_concentrated"]["measured"]
    assert conc["found"] == 1.0 and conc["cv"] == pytest.approx(0.02 / 0.18, rel=0.1)
    loss = cs["loss_below_1e-9_d_E_plateaus"]["measured"]
    assert loss["loss"] == 1e-10 and loss["d_E"] == pytest.approx(0.175)
    assert loss["d_E_range"] == pytest.approx(0.01 / 0.175)


def test_the_final_net_checks_report_disagreement_honestly():
    # One error among the 2 x 10^7 points: the bound is above 3 / (2 x 10^7).
    c = by_id(claims(PAPER, _paper_b3(final=_final(errors=(0, 1)))))["no_sampled_error_n500"]
    assert c["agrees"] is False and c["measured"]["mu_E_upper"] > 1.5e-7
    # No error sampled, but the attack found none either.
    c = by_id(claims(PAPER, _paper_b3(final=_final(distances=[None] * 100))))
    assert c["no_sampled_error_n500"]["agrees"] is False
    assert c["distances_concentrated"]["agrees"] is None  # no distance to describe
    # Errors in 2-D, sampled or found by the attack.
    for contrast in (_contrast(errors=(3, 0)), _contrast(found=(0.0, 0.01))):
        c = by_id(claims(PAPER, _paper_b3(contrast=contrast)))["no_errors_n2"]
        assert c["agrees"] is False
    # Widely spread distances (exponential: std / mean ~ 1).
    wide = np.random.default_rng(1).exponential(0.18, 1000).tolist()
    c = by_id(claims(PAPER, _paper_b3(final=_final(distances=wide))))["distances_concentrated"]
    assert c["agrees"] is False and c["measured"]["cv"] > 0.8
    # The loss stays at 1e-6, or d(E) keeps growing late in training.
    per_n = dict(PAPER_LIKE)
    per_n[500] = _trace([0.3, 0.2, 0.19, 0.18, 0.17, 0.18], loss=1e-6)
    assert by_id(claims(PAPER, _metrics(per_n)))["loss_below_1e-9_d_E_plateaus"]["agrees"] is False
    per_n[500] = _trace([0.1, 0.1, 0.1, 0.1, 0.15, 0.22], loss=1e-10)
    c = by_id(claims(PAPER, _metrics(per_n)))["loss_below_1e-9_d_E_plateaus"]
    assert c["agrees"] is False and c["measured"]["d_E_range"] > 0.3


def test_the_final_net_checks_are_decided_only_where_the_run_can_show_them():
    # 2 x 10^5 points: the zero-error bound is 3 / (2 x 10^5), and the note says so.
    small = Config(dims=(10, 50, 100, 500), final_samples=10**5)
    c = by_id(claims(small, _paper_b3(final=_final(samples=10**5))))["no_sampled_error_n500"]
    assert c["agrees"] is True and "1.5e-05" in c["rule"] and "1.5e-05" in c["note"]
    # 2 x 10^5 steps of the paper's net: App. A is decided, Sec. 3 and Fig. B.3 are not.
    cs = by_id(claims(LONG, _paper_b3()))
    assert cs["distances_concentrated"]["agrees"] is True
    for cid in ("no_sampled_error_n500", "loss_below_1e-9_d_E_plateaus"):
        assert cs[cid]["agrees"] is None and "paper scale" in cs[cid]["note"]
        assert cs[cid]["measured"] is not None  # still reported
    # The default scale's small net: only the 2-D contrast is decided.
    default = Config(dims=(10, 50, 100, 500), hidden=100, steps=10_000)
    cs = by_id(claims(default, _paper_b3()))
    assert cs["no_errors_n2"]["agrees"] is True
    assert all(cs[cid]["agrees"] is None for cid in NEW if cid != "no_errors_n2")
    # No n = 500 in dims, or a run saved before these checks existed.
    cs = by_id(claims(Config(dims=(10, 100)), _metrics({10: PAPER_LIKE[10]})))
    assert all(cs[cid]["agrees"] is None for cid in NEW if cid != "no_errors_n2")
    assert "n = 500 not in dims" in cs["no_sampled_error_n500"]["note"]
    old = _metrics(PAPER_LIKE, final=False)
    del old["contrast"]
    for t in old["runs"][-1]["trace"]:
        del t["loss"]
    cs = by_id(claims(PAPER, old))
    assert all(cs[cid]["agrees"] is None for cid in NEW)
    other = Config(dims=(10, 500), contrast_n=3)
    assert by_id(claims(other, _paper_b3()))["no_errors_n2"]["agrees"] is None
    smoke = by_id(claims(PAPER, _paper_b3(), measurable=False))
    assert all(smoke[cid]["agrees"] is None and "smoke" in smoke[cid]["note"] for cid in NEW)


@pytest.mark.parametrize("M", [1, 10, 2 * 10**7])
@pytest.mark.parametrize("k", [0, 1, 5])
def test_upper_bound_is_the_exact_one_sided_binomial_bound(k, M):
    if k > M:
        return
    ub = _final_checks.upper_bound(k, M)
    if k == M:
        assert ub == 1.0
        return
    # Exact: at the bound, seeing k or fewer errors has probability 5%.
    assert stats.binom.cdf(k, M, ub) == pytest.approx(0.05, rel=1e-4)
    if k == 0:
        assert ub < 3 / M  # the rule of three is just above it
    if k == 0 and M > 100:
        assert ub == pytest.approx(3 / M, rel=2e-3)


class _Tilted(torch.nn.Module):
    """logit = scale (||x|| - 1.15) + tilt x_1: a perfect spheres classifier for tilt = 0; with a
    tilt, wrong on the cap x_1 > (1.15 - 1) scale / tilt of the inner sphere and on the cap
    x_1 < -(1.3 - 1.15) scale / tilt of the outer one."""

    def __init__(self, scale: float, tilt: float = 0.0) -> None:
        super().__init__()
        self.scale, self.tilt = scale, tilt

    def forward(self, x):
        return self.scale * (x.norm(dim=1, keepdim=True) - 1.15) + self.tilt * x[:, :1]


def _cap(a: float, n: int) -> float:
    """The share of the unit sphere of R^n where u_1 > a (u_1^2 ~ Beta(1/2, (n - 1)/2))."""
    return 0.5 * stats.beta.sf(a * a, 0.5, (n - 1) / 2)


def test_out_of_sample_loss_keeps_losses_near_1e_9():
    """Old defect: float32 cross-entropy read a loss of 7.6e-10 as 3.8e-10 (the inner sphere's
    share rounded to 0)."""
    # Every point is 0.15 from the boundary: the loss is exactly log(1 + exp(-0.15 scale)).
    g = torch.Generator().manual_seed(0)
    loss = _final_checks.out_of_sample_loss(_Tilted(140.0), 20, R=1.3, samples=5_000, chunk=700,
                                            generator=g, device=torch.device("cpu"))
    assert loss == pytest.approx(math.log1p(math.exp(-21.0)), rel=1e-3)  # 7.6e-10
    assert loss < 1e-9


def _ctx(tmp_path):
    return RunContext(run=RunDir(tmp_path / "run").create(), device=torch.device("cpu"), seed=0,
                      scale="smoke")


def test_measure_final_counts_errors_on_both_spheres_and_attacks(tmp_path):
    n, M = 30, 20_000
    cfg = Config(final_samples=M, chunk=5_000, final_attack_points=50, attack_steps=100)
    perfect = _final_checks.measure_final(_Tilted(10.0), cfg, _ctx(tmp_path), n)
    assert (perfect["errors_inner"], perfect["errors_outer"]) == (0, 0)
    assert perfect["samples_per_sphere"] == M
    # Its loss gradient is radial, so the attack, which keeps the norm, goes nowhere.
    assert perfect["distances"] == [None] * 50
    tilted = _final_checks.measure_final(_Tilted(10.0, tilt=10.0), cfg, _ctx(tmp_path / "b"), n)
    for key, share in (("errors_inner", _cap(0.15, n)), ("errors_outer", _cap(0.15 / 1.3, n))):
        assert tilted[key] == pytest.approx(M * share, abs=5 * math.sqrt(M * share))
    assert all(d is not None for d in tilted["distances"])  # the attack climbs x_1 to the cap
    s = _final_checks.distance_summary(tilted["distances"])
    assert s["found"] == 1.0 and 0.05 < s["at_zero"] < 0.45  # ~20% start in the cap
    rate = _final_checks.rate_of(tilted)
    assert rate["samples"] == 2 * M and rate["errors"] == tilted["errors_inner"] + \
        tilted["errors_outer"]


def test_measure_contrast_trains_on_100_points_of_the_2d_spheres(tmp_path):
    cfg = Config(hidden=16, contrast_steps=30, contrast_samples=500, chunk=500, attack_points=4,
                 attack_steps=5)
    c = _final_checks.measure_contrast(cfg, _ctx(tmp_path))
    assert (c["n"], c["N"], c["steps"], c["samples_per_sphere"]) == (2, 100, 30, 500)
    assert 0 <= c["errors_inner"] <= 500 and 0 <= c["errors_outer"] <= 500
    assert 0 <= c["found_inner"] <= 1 and 0 <= c["found_outer"] <= 1


def test_distance_summary():
    s = _final_checks.distance_summary([0.1, 0.2, 0.3, None])
    assert s["found"] == 0.75 and s["mean"] == pytest.approx(0.2)
    assert s["cv"] == pytest.approx(np.std([0.1, 0.2, 0.3]) / 0.2)
    assert s["spread"] == pytest.approx((0.28 - 0.12) / 0.2)
    assert _final_checks.distance_summary([None, None]) is None
    zeros = _final_checks.distance_summary([0.0, 0.0])
    assert zeros["cv"] is None and zeros["spread"] is None and zeros["at_zero"] == 1.0


def test_plot_draws_figs_a1_and_b3_where_measured():
    results = {"metrics": _paper_b3()}
    assert set(dimension.plot(results)) == {"dimension", "distances", "loss"}
    old = _metrics(PAPER_LIKE, final=False)
    for r in old["runs"]:
        for t in r["trace"]:
            del t["loss"]
    assert set(dimension.plot({"metrics": old})) == {"dimension"}
