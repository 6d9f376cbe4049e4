"""Robust accuracy under the evaluation ensemble at a list of radii, and minimal distances.

Robust accuracy comes from :func:`advgeom.attacks.evaluate_radii` (AutoAttack's ensemble: APGD-CE,
APGD-T, FAB-T, Square), with PGD's curve beside it: the gap is how much a single PGD run would
have overstated robustness. Minimal distances are per example the smallest of DeepFool, FMN and
the PGD path search (``minimal_distance(method="best")``), with which method found it. The l2
radii are the l_inf ones times sqrt(d) (Simon-Gabriel et al., eq. 3: for a given per-pixel size
the l_p threshold scales as d^(1/p)), so the two curves share a "threshold unit". All of these
come from attacks and are upper bounds on what a stronger attack would find: robust accuracies can
only fall and distances only shrink.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from advgeom.attacks import evaluate_radii, minimal_distance, robustness_curve
from advgeom.audit.context import AuditContext, Instrument
from advgeom.audit.instruments._robustness_findings import (
    distance_findings,
    method_shares,
    ratio_finding,
    robust_accuracy_findings,
)
from advgeom.audit.instruments.accuracy import predict
from advgeom.plotting import new_figure

NORMS = {"linf": "l_inf", "l2": "l2"}
EVALUATIONS = "evaluations"  # ctx.memo key: (EVALUATIONS, norm) -> list of Evaluation


def measure(ctx: AuditContext) -> dict:
    correct = predict(ctx) == ctx.y
    steps, protocol, findings = ctx.settings.steps, ctx.settings.protocol, []
    metrics: dict = {"steps": steps, "protocol": protocol, "d": ctx.d,
                     "correct": correct.tolist(), "norms": {}}
    for norm, name in NORMS.items():
        eps = list(ctx.radii(norm))
        runs = evaluate_radii(ctx.model, ctx.x, ctx.y, eps=eps, norm=norm, protocol=protocol,
                              bounds=ctx.bounds, seed=ctx.settings.seed)
        ctx.memo[(EVALUATIONS, norm)] = runs
        pgd = robustness_curve(ctx.model, ctx.x, ctx.y, eps=eps, norm=norm, steps=steps,
                               bounds=ctx.bounds)
        found = minimal_distance(ctx.model, ctx.x, ctx.y, max_eps=ctx.max_eps(norm), norm=norm,
                                 method="best", steps=max(steps, 100), bounds=ctx.bounds)
        dist = found.distance[correct]
        median = float(dist.median()) if len(dist) else math.nan
        metrics["norms"][norm] = {
            "eps": eps,
            "robust_accuracy": [r.robust_accuracy for r in runs],
            "pgd_robust_accuracy": pgd.robust_accuracy.tolist(),
            "broken_by": [r.counts() for r in runs],
            "attacks": list(runs[-1].attacks),
            "notes": runs[-1].notes,
            "distance": found.distance.tolist(),
            "method": list(found.method),
            "method_share": method_shares(found.method, correct.tolist()),
            "median_distance": median,
            "max_eps": ctx.max_eps(norm),
            "found": int(torch.isfinite(dist).sum()),
        }
        findings += robust_accuracy_findings(norm, name, metrics["norms"][norm], steps)
        findings += distance_findings(norm, name, metrics["norms"][norm], len(dist))
    findings.append(ratio_finding(metrics, correct, ctx.d))
    return {"findings": findings, "metrics": metrics}


def plot(result: dict) -> dict:
    """Robust accuracy against eps (ensemble and PGD), with the share of minimal distances > eps,
    and which attack broke the examples at each eps."""
    m = result["metrics"]
    correct = np.asarray(m["correct"], dtype=bool)
    fig, axes = new_figure(2, 2, width=4.8, height=3.6)
    for col, (norm, name) in enumerate(NORMS.items()):
        r = m["norms"][norm]
        dist = np.asarray([float(v) for v in r["distance"]])
        grid = np.linspace(0, max(r["eps"]) if max(r["eps"]) > 0 else 1.0, 200)
        ax = axes[0][col]
        ax.plot(r["eps"], r["robust_accuracy"], "o-", label=f"ensemble ({m['protocol']})")
        ax.plot(r["eps"], r["pgd_robust_accuracy"], "s:", label=f"PGD-{m['steps']}")
        ax.plot(grid, [np.mean(correct & (dist > e)) for e in grid], "--",
                label="minimal distance > eps")
        ax.set(xlabel=f"eps ({name})" + (" = eps_inf * sqrt(d)" if norm == "l2" else ""),
               ylabel="robust accuracy", ylim=(-0.02, 1.02), title=f"{name} attacks")
        ax.legend(fontsize=8)
        _plot_breakers(axes[1][col], r, name)
    fig.tight_layout()
    return {"curves": fig, "distances": _plot_distances(m, correct)}


def _plot_distances(m: dict, correct: np.ndarray):
    """Per correctly classified example, its minimal distance (sorted), coloured by the method
    that found it: which attack wins where."""
    fig, axes = new_figure(2, width=4.8, height=3.4)
    for ax, (norm, name) in zip(axes[0], NORMS.items(), strict=True):
        r = m["norms"][norm]
        dist = np.asarray([float(v) for v in r["distance"]])[correct]
        method = np.asarray([str(v) for v in r["method"]], dtype=object)[correct]
        order = np.argsort(dist)
        rank = np.arange(len(order))
        for who in ("deepfool", "fmn", "path"):
            pick = method[order] == who
            ax.scatter(rank[pick], dist[order][pick], s=8, label=who)
        ax.set(xlabel="example (sorted by distance)", ylabel=f"minimal {name} distance",
               title=f"smallest {name} perturbation, by method")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _plot_breakers(ax, r: dict, name: str) -> None:
    """Stacked bars: per eps, how many examples each attack broke first."""
    labels = [f"{e:.3g}" for e in r["eps"]]
    bottom = np.zeros(len(labels))
    for who in ("clean error", *r["attacks"]):
        counts = np.asarray([c.get(who, 0) for c in r["broken_by"]], dtype=float)
        ax.bar(labels, counts, bottom=bottom, label=who)
        bottom += counts
    ax.set(xlabel=f"eps ({name})", ylabel="examples broken", title="first attack to succeed")
    ax.legend(fontsize=7)


INSTRUMENT = Instrument(
    id="robustness",
    title="Robust accuracy against l_inf and l2 attacks, and minimal adversarial distances",
    source="AutoAttack-style ensemble (advgeom.attacks.evaluate), PGD beside it; minimal "
    "distances: best of DeepFool, FMN and the PGD path; l2 radii by Simon-Gabriel et al.'s eq. 3",
    measure=measure,
    plot=plot,
)
