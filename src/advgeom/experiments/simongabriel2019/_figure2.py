"""Fig. 2 (a)-(d) of Simon-Gabriel et al. from a ``firstorder.dimension`` run's results."""

from __future__ import annotations

import math

from advgeom.plotting import new_figure


def points_at(points: list[dict], eps: float) -> list[dict]:
    """The points trained at strength ``eps``, by increasing d."""
    return sorted((p for p in points if p["eps"] == eps), key=lambda p: p["d"])


def plot(results: dict) -> dict:
    """Fig. 2: (a) vulnerability and (b) E||g||_1 vs sqrt(d); (c) accuracy vs eps; (d) accuracy
    vs vulnerability, one curve per resolution."""
    pts, cfg = results["metrics"]["points"], results["config"]
    fig, axes = new_figure(4, width=4.3, height=3.6)
    for i, eps in enumerate(cfg["eps"]):
        sel = points_at(pts, eps)
        sq = [math.sqrt(p["d"]) for p in sel]
        for ax, key in ((axes[0, 0], "vulnerability"), (axes[0, 1], "grad_l1")):
            lo = [p[key] - p[f"{key}_q10"] for p in sel]
            hi = [p[f"{key}_q90"] - p[key] for p in sel]
            ax.errorbar(
                sq,
                [p[key] for p in sel],
                yerr=[lo, hi],
                fmt="o--",
                color=f"C{i}",
                capsize=3,
                ms=4,
                label=f"eps = {eps:g}",
            )
    floor = min([e for e in cfg["eps"] if e > 0], default=1e-3) / 3
    for j, f in enumerate(cfg["factors"]):
        sel = sorted((p for p in pts if p["factor"] == f), key=lambda p: p["eps"])
        label = f"d = {sel[0]['d']}" if sel else f"x{f}"
        axes[0, 2].plot(
            [p["eps"] or floor for p in sel],
            [p["accuracy"] for p in sel],
            "o-",
            color=f"C{j}",
            ms=4,
            label=label,
        )
        axes[0, 3].plot(
            [p["vulnerability"] for p in sel],
            [p["accuracy"] for p in sel],
            "o-",
            color=f"C{j}",
            ms=4,
            label=label,
        )
    axes[0, 0].set(xlabel="sqrt(d)", ylabel="vulnerability", title="(a) vulnerability")
    axes[0, 1].set(xlabel="sqrt(d)", ylabel="E ||grad_x L||_1", title="(b) gradient norm")
    axes[0, 2].set(
        xscale="log",
        xlabel=f"PGD eps per pixel (0 at {floor:.2g})",
        ylabel="accuracy",
        title="(c) accuracy",
    )
    axes[0, 3].set(xlabel="vulnerability", ylabel="accuracy", title="(d) trade-off")
    for ax in axes[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return {"dimension": fig}
