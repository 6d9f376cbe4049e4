"""Input-gradient norms (q = 1, 2), the sqrt(d) law and the first-order damage prediction.

Simon-Gabriel et al. (2019): an eps-sized l_p attack raises the loss by eps * ||grad_x L||_q to
first order (Lemma 2, q dual to p), and under their symmetry assumption the gradient's
coordinates are of comparable size, so ||grad_x L||_q grows like d^(1/q - 1/2) (Thm 5):
||grad||_1 / ||grad||_2 then grows like sqrt(d) (i.i.d. Gaussian coordinates give
sqrt(2d/pi)). With eq. 3's radii eps_2 = eps_inf * sqrt(d), the l_inf and l2 damages agree.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from advgeom.audit.context import AuditContext, Instrument
from advgeom.metrics import gradient_norms, scaled_eps, vulnerability
from advgeom.plotting import new_figure
from advgeom.runs import rules
from advgeom.runs.claims import claim

FIRST_ORDER_TOL = 0.25  # |measured / predicted damage - 1| for a small step to count as linear
RATIO_FLOOR = 0.5  # ||g||_1 / ||g||_2 above this share of sqrt(2d/pi) counts as spread out


def measure(ctx: AuditContext) -> dict:
    norms = gradient_norms(ctx.model, ctx.x, ctx.y, norms=("l1", "l2"))
    g1, g2 = norms["l1"].double().cpu(), norms["l2"].double().cpu()
    live = g2 > 0  # saturated softmax: a zero gradient in float32 says nothing about shape
    ratio = (g1[live] / g2[live]) if live.any() else torch.empty(0, dtype=torch.float64)
    d = ctx.d
    metrics = {
        "d": d,
        "l1": g1.tolist(),
        "l2": g2.tolist(),
        "ratio": ratio.tolist(),
        "gaussian_ratio": math.sqrt(2 * d / math.pi),
        "sqrt_d": math.sqrt(d),
    }
    findings = [
        claim(
            "gradient_l1",
            "Mean ||grad_x L||_1 (the dual norm of l_inf attacks).",
            paper_value=None,
            measured=float(g1.mean()),
            rule=None,
            kind="measurement",
            note=f"median {float(g1.median()):.4g} over {len(g1)} examples; "
            f"{int((~live).sum())} have a zero gradient (saturated loss)",
        ),
        claim(
            "gradient_l2",
            "Mean ||grad_x L||_2 (the dual norm of l2 attacks).",
            paper_value=None,
            measured=float(g2.mean()),
            rule=None,
            kind="measurement",
            note=f"median {float(g2.median()):.4g}",
        ),
        _ratio_claim(ratio, d),
    ]
    positive = [e for e in ctx.eps_linf if e > 0]
    if positive:
        metrics["first_order"] = _first_order(ctx, min(positive))
        findings += [
            _first_order_claim(metrics["first_order"][norm], norm) for norm in ("linf", "l2")
        ]
    return {"findings": findings, "metrics": metrics}


def _ratio_claim(ratio: torch.Tensor, d: int) -> dict:
    predicted = math.sqrt(2 * d / math.pi)
    if len(ratio) == 0:
        return claim(
            "l1_over_l2",
            "||grad_x L||_1 / ||grad_x L||_2 grows like sqrt(d).",
            paper_value=predicted,
            measured=None,
            rule=rules.at_least(RATIO_FLOOR * predicted, what="the median ratio"),
            note="every gradient is zero (saturated loss): nothing to measure",
        )
    median = float(ratio.median())
    return claim(
        "l1_over_l2",
        "The gradient's coordinates are of comparable size, so ||grad_x L||_1 / ||grad_x L||_2 "
        "grows like sqrt(d) (Simon-Gabriel et al., Thm 5 under symmetry): sqrt(2d/pi) for "
        "Gaussian coordinates.",
        paper_value=predicted,
        measured=median,
        rule=rules.at_least(RATIO_FLOOR * predicted, what="the median ratio"),
        note=f"median over {len(ratio)} examples, d = {d}; at most sqrt(d) = {math.sqrt(d):.4g} "
        f"(all coordinates equal); the rule's floor is {RATIO_FLOOR:g} x sqrt(2d/pi). As many "
        f"Gaussian coordinates would give this ratio: d_eff = pi/2 * ratio^2 = "
        f"{math.pi / 2 * median**2:.4g} ({100 * math.pi / 2 * median**2 / d:.3g}% of d)",
    )


def _first_order(ctx: AuditContext, eps_inf: float) -> dict:
    """One gradient step of size eps (l_inf) and eps * sqrt(d) (l2), without the box, as in
    Lemma 2: measured loss increase against eps * ||grad||_q."""
    out = {}
    for norm in ("linf", "l2"):
        eps = eps_inf if norm == "linf" else scaled_eps(eps_inf, d=ctx.d, norm="l2")
        v = vulnerability(ctx.model, ctx.x, ctx.y, eps=eps, norm=norm, attack="fgm")
        out[norm] = {
            "eps": eps,
            "damage": v.damage.double().cpu().tolist(),
            "predicted": v.predicted_damage.double().cpu().tolist(),
            "changed": float(v.changed.float().mean()),
        }
    return out


def _first_order_claim(r: dict, norm: str) -> dict:
    damage, predicted = float(np.mean(r["damage"])), float(np.mean(r["predicted"]))
    ratio = damage / predicted if predicted > 0 else None
    name, q = ("l_inf", 1) if norm == "linf" else ("l2", 2)
    radius = "" if norm == "linf" else " = eps_inf * sqrt(d) (eq. 3)"
    return claim(
        f"first_order_{norm}",
        f"To first order an eps-sized {name} step raises the loss by eps * ||grad_x L||_{q} "
        "(Lemma 2): measured over predicted mean loss increase.",
        paper_value=1.0,
        measured=ratio,
        rule=rules.within(abs=FIRST_ORDER_TOL),
        note=f"one gradient step (FGM) of eps = {r['eps']:.4g}{radius}, no box clipping; mean "
        f"loss increase {damage:.4g} vs predicted {predicted:.4g}; prediction changed for "
        f"{100 * r['changed']:.3g}%",
    )


def plot(result: dict) -> dict:
    """The ratio ||g||_1 / ||g||_2 against sqrt(d), and measured vs first-order damage."""
    m = result["metrics"]
    fig, axes = new_figure(2, width=4.8, height=3.6)
    ax = axes[0, 0]
    if m["ratio"]:
        ax.hist(m["ratio"], bins=30, color="C0", alpha=0.7)
    ax.axvline(m["gaussian_ratio"], color="C3", ls="--", label="sqrt(2d/pi): Gaussian coordinates")
    ax.axvline(m["sqrt_d"], color="k", ls=":", label="sqrt(d): upper bound")
    ax.set(
        xlabel="||grad||_1 / ||grad||_2", ylabel="examples", title=f"Gradient shape (d = {m['d']})"
    )
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for i, (norm, r) in enumerate((m.get("first_order") or {}).items()):
        pred, dmg = np.asarray(r["predicted"]), np.asarray(r["damage"])
        ax.scatter(pred, dmg, s=8, alpha=0.6, color=f"C{i}", label=f"{norm}, eps = {r['eps']:.3g}")
    lim = ax.get_xlim()
    ax.plot(lim, lim, "k--", lw=1, label="measured = predicted")
    ax.set(
        xlabel="predicted: eps * ||grad||_q",
        ylabel="measured loss increase",
        title="First-order damage (Lemma 2)",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return {"shape-and-damage": fig}


INSTRUMENT = Instrument(
    id="gradients",
    title="Input-gradient norms (q = 1, 2), the sqrt(d) law and first-order damage",
    source="Simon-Gabriel et al., First-order Adversarial Vulnerability of Neural Networks and "
    "Input Dimension (Lemma 2, eq. 3, Thm 5)",
    measure=measure,
    plot=plot,
)
