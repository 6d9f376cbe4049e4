"""Claims and figure of ``spheres.bound`` (Fig. 4), computed from the saved measurements only.

Each snapshot's measured d(E) is compared with the optimum for its measured mu(E): the average
distance to a spherical cap of that measure, computed exactly by quadrature
(:func:`advgeom.theory.caps.mean_distance_quadrature`). By the isoperimetric inequality the cap is
the error set of measure mu that lies farthest from the data on average, so the true d(E) of any
network is at most the optimum: the ratio d(E) / optimum is <= 1. A measured ratio above 1
("better than optimal") comes from the attack missing the nearest error or from noise in mu(E), as
the paper notes; the paper's finding is that trained networks sit close to 1.
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from advgeom.plotting import new_figure
from advgeom.runs import rules
from advgeom.runs.claims import claim
from advgeom.theory import caps

PAPER_RATIO = 1.0  # "the measured d(E) is always close to what is theoretically optimal"
PAPER_MC_SAMPLES = 1_000_000
LARGE_N = 10_000  # "when N >= 10000 the networks later in training become so accurate ..."
CURVE_RANGE = (1e-6, 0.05)  # where the two optimal curves are compared (small mu, as Fig. 4)
LATE_MIN_STEPS = 50_000  # shorter training is not expected to reach the accuracy of Fig. 4


def add_ratios(metrics: dict, n: int) -> None:
    """Add ``optimal`` (cap d(E) at the measured mu), ``ratio`` (the paper's step) and
    ``ratio_tangent`` to every snapshot, in place."""
    for arch in metrics["architectures"]:
        for model in arch["models"]:
            for p in model["trace"]:
                p["optimal"] = caps.mean_distance_quadrature(p["mu_E"], n) \
                    if 0 < p["mu_E"] <= 0.5 else None
                for key, d in (("ratio", p["d_E"]), ("ratio_tangent", p.get("d_E_tangent"))):
                    p[key] = d / p["optimal"] if d is not None and p["optimal"] else None


def measured_points(metrics: dict, min_errors: int, min_found: float = 0.0,
                    step: str = "") -> list[dict]:
    """Snapshots with a measured mu(E) (>= min_errors errors, not a bound) and a d(E) found from
    at least ``min_found`` of the attack points; ``step`` "" is the paper's, "_tangent" ours."""
    return [p | {"architecture": a["architecture"], "N": m["N"]}
            for a in metrics["architectures"] for m in a["models"] for p in m["trace"]
            if not p["bound"] and p["errors"] >= min_errors and p.get("ratio" + step) is not None
            and p["found" + step] >= min_found]


def _scale_note(cfg, measurable: bool) -> str:
    if not measurable:
        return "smoke scale: the pipeline runs; the comparison needs the default or paper scale"
    return (f"{', '.join(cfg.architectures)} at n = {cfg.n}, N in "
            f"{[N or 'inf' for N in cfg.train_sizes]}, {cfg.seeds} seeds, {cfg.steps} steps at "
            f"lr {cfg.lr}; mu(E) from {cfg.mc_samples} points, d(E) from {cfg.attack_points} "
            f"points x {cfg.attack_steps} steps of {cfg.step_size}, the paper's step (paper: "
            "ReLU-h1000-d2, Quad-h1000, ReLU-h2000-d8, 4 seeds, 10^6 points, 100 x 1000 steps of "
            ".001)")


def _spread(cfg, m: dict, pts: list[dict]) -> str:
    """Where the ratios lie, what was left out for a low found share, and the tangent step."""
    base = measured_points(m, cfg.min_errors)
    left = len(base) - len(pts)
    found = (f"{len(pts)} snapshots with >= {cfg.min_errors} errors in mu(E) and an error found "
             f"from >= {cfg.min_found:.0%} of the attack points ({left} more left out for a lower "
             "found share)")
    if not pts:
        return found
    ratios = np.array([p["ratio"] for p in pts])
    tangent = [p["ratio_tangent"] for p in measured_points(m, cfg.min_errors, cfg.min_found,
                                                           "_tangent")]
    return (f"{found}; median found share {np.median([p['found'] for p in pts]):.2f}; 10-90% "
            f"range {np.quantile(ratios, 0.1):.2f}-{np.quantile(ratios, 0.9):.2f}, "
            f"{np.mean(np.abs(ratios - 1) <= cfg.tolerance):.0%} within {cfg.tolerance:g} of 1, "
            f"{np.mean(ratios > 1.05):.0%} above 1.05 (better than optimal: the attack missed the "
            "nearest error or mu(E) is noisy); tangent step: median ratio "
            + (f"{np.median(tangent):.3g} over {len(tangent)} snapshots" if tangent
               else "not measured"))


def claims(cfg, m: dict, *, measurable: bool = True) -> list[dict]:
    """Near-optimal d(E) overall and per architecture; late accuracy; the two optimal curves."""
    pts = measured_points(m, cfg.min_errors, cfg.min_found)
    note = _scale_note(cfg, measurable)
    enough = measurable and len(pts) >= 5
    median = float(np.median([p["ratio"] for p in pts])) if pts else None
    per_arch = {a: float(np.median([p["ratio"] for p in pts if p["architecture"] == a]))
                for a in cfg.architectures if any(p["architecture"] == a for p in pts)}
    archs, tol = tuple(cfg.architectures), cfg.tolerance
    return [
        claim("near_optimal",
              "Measured d(E) is always close to the optimum (the largest d(E) any error set of "
              "measure mu(E) can have) for the observed mu(E) (Fig. 4): median d(E) / optimal "
              "d(E) near 1.",
              paper_value=PAPER_RATIO, measured=median, measurable=enough,
              rule=rules.within(abs=tol, what="the median ratio"),
              note=f"optimum = average distance to a cap of measure mu(E) (exact quadrature); "
              f"{_spread(cfg, m, pts)}; {note}"),
        claim("near_optimal_per_architecture",
              "Each of the three architectures is close to optimal (Fig. 4).",
              paper_value=PAPER_RATIO, measured=per_arch or None, measurable=enough,
              rule=rules.predicate(
                  lambda r: set(r) == set(archs) and all(abs(v - 1) <= tol for v in r.values()),
                  f"every architecture's median ratio is within {tol:g} of 1",
                  fails_on={a: 2.0 for a in archs}, holds_on={a: 1.0 for a in archs}),
              note=f"median ratio per architecture over the snapshots of near_optimal; {note}"),
        _late_claim(cfg, m, note, measurable),
        _curves_claim(m, note, measurable),
    ]


def _late_claim(cfg, m: dict, note: str, measurable: bool) -> dict:
    large = [mod["trace"][-1] for a in m["architectures"] for mod in a["models"]
             if mod["N"] is None or mod["N"] >= LARGE_N]
    share = float(np.mean([p["errors"] < cfg.min_errors for p in large])) if large else None
    long_enough = cfg.steps >= LATE_MIN_STEPS
    why = ("" if long_enough else
           f"; not compared: {cfg.steps} training steps are too few to reach the accuracy the "
           f"paper's networks reach late in training (needs >= {LATE_MIN_STEPS}, the paper scale)")
    return claim(
        "too_accurate_late",
        "For N >= 10,000 the networks late in training are too accurate for their error rate "
        "to be estimated from 10^6 samples (Fig. 4).",
        paper_value=1.0, measured=share, measurable=measurable and long_enough,
        rule=rules.at_least(0.75, what="the share of such models"),
        note=f"share of the models with N >= 10,000 (or online) whose last snapshot had fewer than "
        f"{cfg.min_errors} errors in {cfg.mc_samples} samples (the paper's sample: "
        f"{PAPER_MC_SAMPLES}){why}{'' if large else '; no such N in train_sizes'}; {note}")


def _curves_claim(m: dict, note: str, measurable: bool) -> dict:
    c = m["curves"]
    mu = np.asarray(c["mu"])
    keep = (mu >= CURVE_RANGE[0]) & (mu <= CURVE_RANGE[1])
    gap = np.abs(np.asarray(c["gaussian"]) / np.asarray(c["sampled_caps"]) - 1)[keep]
    worst = float(gap.max()) if gap.size else None
    return claim(
        "gaussian_curve_matches_caps",
        "The optimal curve Phi^-1(1 - mu)/sqrt(n) closely matches the average distance to actual "
        "spherical caps estimated from sampled points (Fig. 4, App. C: black vs blue).",
        paper_value="close", measured=worst, measurable=measurable,
        rule=rules.at_most(0.05, what="the largest relative gap"),
        note=f"largest relative gap for mu in [{CURVE_RANGE[0]:g}, {CURVE_RANGE[1]:g}] at "
        f"n = {m['n']}, the caps' curve from {m['curves'].get('samples', 'sampled')} points. For "
        "larger mu the Gaussian form falls below the caps' (by about a quarter at mu = 0.3, "
        f"n = 500): Theorem 5.1's form is a small-mu approximation"
        f"{'' if measurable else '; ' + note}")


MARKERS = {"relu": "o", "quad": "s"}


def plot(results: dict) -> dict:
    """Fig. 4: d(E) vs mu(E) with both optimal curves; and the ratio to the optimum."""
    m, cfg = results["metrics"], results["config"]
    fig, axes = new_figure(2, width=5.6, height=4.4)
    left, right = axes[0]
    c = m["curves"]
    left.plot(c["mu"], c["gaussian"], "k-", lw=1.5, label="Phi^-1(1-mu)/sqrt(n) (Thm 5.1)")
    left.plot(c["mu"], c["sampled_caps"], "b--", lw=1.5, label="sampled caps")
    sizes = [N or "inf" for N in cfg["train_sizes"]]
    handles = []
    for i, arch in enumerate(m["architectures"]):
        marker = MARKERS["quad" if arch["architecture"].startswith("quad") else "relu"]
        marker = marker if i < 2 else "^"
        handles.append(Line2D([], [], ls="", marker=marker, color="gray",
                              label=arch["architecture"]))
        for model in arch["models"]:
            color = f"C{sizes.index(model['N'] or 'inf') % 10}"
            for p in model["trace"]:
                if not p["d_E"]:  # none found, or 0 (the whole sphere wrong): not on a log axis
                    continue
                hollow = p["bound"] or p["errors"] < cfg["min_errors"] \
                    or p["found"] < cfg.get("min_found", 0.0)
                left.plot(p["mu_E"], p["d_E"], marker if not p["bound"] else "<", ms=4,
                          color=color, mfc="none" if hollow else color, alpha=0.8)
                if p["ratio"] is not None and not hollow:
                    right.plot(p["mu_E"], p["ratio"], marker, ms=4, color=color, alpha=0.8)
    handles += [Line2D([], [], ls="", marker="o", color=f"C{i % 10}", label=f"N = {N}")
                for i, N in enumerate(sizes)]
    left.set(xscale="log", yscale="log", xlabel="mu(E), inner sphere",
             ylabel="d(E) (manifold attack)",
             title=f"Fig. 4: n = {m['n']} (hollow: few errors or found points; '<': bound)")
    left.legend(handles=left.get_legend_handles_labels()[0] + handles, fontsize=7,
                loc="lower left")
    right.axhline(1.0, color="k", lw=1)
    right.set(xscale="log", xlabel="mu(E)", ylabel="d(E) / optimal d(E)",
              title="Distance relative to the optimal cap")
    fig.tight_layout()
    return {"bound": fig}
