"""Robust accuracy against l_inf and l2 PGD over a list of radii, and minimal distances.

The l2 radii are the l_inf ones times sqrt(d) (Simon-Gabriel et al., eq. 3: for a given
per-pixel size the l_p threshold scales as d^(1/p)), so the two curves share a "threshold unit".
Both estimates come from attacks and are upper bounds on what a stronger attack would find:
robust accuracies can only fall and distances only shrink.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from advgeom.attacks import minimal_distance, robustness_curve
from advgeom.audit.context import AuditContext, Instrument
from advgeom.audit.instruments.accuracy import predict
from advgeom.runs.claims import claim
from advgeom.plotting import new_figure

NORMS = {"linf": "l_inf", "l2": "l2"}


def measure(ctx: AuditContext) -> dict:
    correct = predict(ctx) == ctx.y
    steps, findings = ctx.settings.steps, []
    metrics: dict = {"steps": steps, "d": ctx.d, "correct": correct.tolist(), "norms": {}}
    for norm, name in NORMS.items():
        eps = list(ctx.radii(norm))
        curve = robustness_curve(
            ctx.model, ctx.x, ctx.y, eps=eps, norm=norm, steps=steps, bounds=ctx.bounds
        )
        found = minimal_distance(
            ctx.model,
            ctx.x,
            ctx.y,
            max_eps=ctx.max_eps(norm),
            norm=norm,
            steps=max(steps, 100),
            bounds=ctx.bounds,
        )
        dist = found.distance[correct]
        median = float(dist.median()) if len(dist) else math.nan
        within = int(torch.isfinite(dist).sum())
        metrics["norms"][norm] = {
            "eps": eps,
            "robust_accuracy": curve.robust_accuracy.tolist(),
            "distance": found.distance.tolist(),
            "median_distance": median,
            "max_eps": ctx.max_eps(norm),
            "found": within,
        }
        findings += [
            claim(
                f"robust_accuracy_{norm}",
                f"Robust accuracy under {name} PGD-{steps} at radii {_radii(eps)}.",
                paper_value=None,
                measured=curve.robust_accuracy.tolist(),
                rule=None,
                kind="measurement",
                note="fraction of the examples still classified correctly under the attack "
                "(clean errors count as broken); a stronger attack can only lower it"
                + ("; l2 radii are the l_inf ones times sqrt(d) (eq. 3)" if norm == "l2" else ""),
            ),
            claim(
                f"median_distance_{norm}",
                f"Median smallest {name} perturbation that changes the prediction of a "
                "correctly classified example.",
                paper_value=None,
                measured=median if math.isfinite(median) else None,
                rule=None,
                kind="measurement",
                note=f"found for {within} of {len(dist)} within {ctx.max_eps(norm):.4g} "
                f"(unfound count as infinite); early-stopped PGD-{max(steps, 100)} in that "
                "ball, then bisection along its path: an upper bound on the true distance",
            ),
        ]
    findings.append(_ratio_finding(metrics, correct, ctx.d))
    return {"findings": findings, "metrics": metrics}


def _radii(eps: list[float]) -> str:
    return "[" + ", ".join(f"{e:.3g}" for e in eps) + "]"


def _ratio_finding(metrics: dict, correct: torch.Tensor, d: int) -> dict:
    """Per example, minimal l2 over minimal l_inf distance, against eq. 3's sqrt(d)."""
    d2 = torch.tensor(metrics["norms"]["l2"]["distance"])[correct.cpu()]
    dinf = torch.tensor(metrics["norms"]["linf"]["distance"])[correct.cpu()]
    both = torch.isfinite(d2) & torch.isfinite(dinf) & (dinf > 0)
    ratio = float((d2[both] / dinf[both]).median()) if both.any() else None
    metrics["l2_over_linf"] = ratio
    return claim(
        "l2_over_linf_distance",
        "Minimal l2 over minimal l_inf distance, per example: eq. 3 of Simon-Gabriel et al. takes "
        "eps_2 = eps_inf * sqrt(d) as the same perturbation size.",
        paper_value=math.sqrt(d),
        measured=ratio,
        rule=None,
        kind="measurement",
        note=f"median over {int(both.sum())} examples with both distances found; the ratio lies "
        "between 1 and sqrt(d) (an l_inf ball of radius r lies inside the l2 ball of radius "
        "r*sqrt(d)); near sqrt(d): the attack spreads over all d inputs, near 1: over a few",
    )


def plot(result: dict) -> dict:
    """Robust accuracy against eps, with the share of minimal distances above eps."""
    m = result["metrics"]
    correct = np.asarray(m["correct"], dtype=bool)
    fig, axes = new_figure(2, width=4.8, height=3.6)
    for ax, (norm, name) in zip(axes[0], NORMS.items(), strict=True):
        r = m["norms"][norm]
        dist = np.asarray([float(v) for v in r["distance"]])
        grid = np.linspace(0, max(r["eps"]) if max(r["eps"]) > 0 else 1.0, 200)
        ax.plot(r["eps"], r["robust_accuracy"], "o-", label=f"PGD-{m['steps']} at each eps")
        ax.plot(
            grid,
            [np.mean(correct & (dist > e)) for e in grid],
            "--",
            label="minimal distance > eps",
        )
        ax.set(
            xlabel=f"eps ({name})" + (" = eps_inf * sqrt(d)" if norm == "l2" else ""),
            ylabel="robust accuracy",
            ylim=(-0.02, 1.02),
            title=f"{name} attacks",
        )
        ax.legend(fontsize=8)
    fig.tight_layout()
    return {"curves": fig}


INSTRUMENT = Instrument(
    id="robustness",
    title="Robust accuracy against l_inf and l2 attacks, and minimal adversarial distances",
    source="PGD (advgeom.attacks.robustness_curve, minimal_distance); l2 radii by "
    "Simon-Gabriel et al.'s eq. 3",
    measure=measure,
    plot=plot,
)
