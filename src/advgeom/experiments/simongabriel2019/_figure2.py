"""Fig. 2 (a)-(d) and Fig. 7e of Simon-Gabriel et al. from a ``firstorder.dimension`` run's
results, with a panel for the caption's plateau and onset of accuracy damage."""

from __future__ import annotations

import math

from advgeom.experiments.simongabriel2019._common import points_at
from advgeom.experiments.simongabriel2019._figure2_caption import profile
from advgeom.plotting import new_figure

__all__ = ["per_d_panels", "per_eps_panels", "plot", "points_at"]


def per_d_panels(ax_a, ax_b, pts: list[dict], cfg: dict) -> None:
    """(a) vulnerability and (b) E||g||_1 against sqrt(d), one curve per eps."""
    for i, eps in enumerate(cfg["eps"]):
        sel = points_at(pts, eps)
        sq = [math.sqrt(p["d"]) for p in sel]
        for ax, key in ((ax_a, "vulnerability"), (ax_b, "grad_l1")):
            lo = [p[key] - p[f"{key}_q10"] for p in sel]
            hi = [p[f"{key}_q90"] - p[key] for p in sel]
            ax.errorbar(sq, [p[key] for p in sel], yerr=[lo, hi], fmt="o--", color=f"C{i % 10}",
                        capsize=3, ms=4, label=f"eps = {eps:g}")


def per_eps_panels(axes, pts: list[dict], cfg: dict, floor: float) -> None:
    """(c) accuracy vs eps, (d) accuracy vs vulnerability, (e) E||g||_2 vs E||g||_1 (skipped
    where its axes are None): one curve per d."""
    for j, f in enumerate(cfg["factors"]):
        sel = sorted((p for p in pts if p["factor"] == f), key=lambda p: p["eps"])
        label = f"d = {sel[0]['d']}" if sel else f"x{f}"
        style = {"color": f"C{j % 10}", "ms": 4, "label": label}
        axes[0].plot([p["eps"] or floor for p in sel], [p["accuracy"] for p in sel], "o-",
                     **style)
        axes[1].plot([p["vulnerability"] for p in sel], [p["accuracy"] for p in sel], "o-",
                     **style)
        if axes[2] is not None:
            axes[2].plot([p["grad_l1"] for p in sel], [p["grad_l2"] for p in sel], "o", **style)


def _caption(ax, results: dict, floor: float) -> None:
    """(f) the E||g||_1 slope against d and the mean accuracy drop, per eps (Fig. 2's caption)."""
    cfg = results["config"]
    prof = profile(cfg["eps"], results["metrics"])
    xs = [e or floor for e in prof]
    ax.plot(xs, [v["slope"] for v in prof.values()], "o-", color="C0",
            label="slope of E||g||_1 vs d (log-log)")
    ax.plot(xs, [v["accuracy_drop"] for v in prof.values()], "s--", color="C3",
            label="accuracy drop vs plain (mean over d)")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.axhline(cfg["accuracy_tol"], color="C3", lw=0.6, ls=":")


def plot(results: dict) -> dict:
    """Fig. 2: (a) vulnerability and (b) E||g||_1 vs sqrt(d); (c) accuracy vs eps; (d) accuracy
    vs vulnerability, one curve per resolution; Fig. 7e: (e) E||g||_2 vs E||g||_1 per d; (f) the
    caption's reading: slope and accuracy drop against eps."""
    pts, cfg = results["metrics"]["points"], results["config"]
    fig, axes = new_figure(3, 2, width=4.3, height=3.6)
    per_d_panels(axes[0, 0], axes[0, 1], pts, cfg)
    floor = min([e for e in cfg["eps"] if e > 0], default=1e-3) / 3
    per_eps_panels((axes[0, 2], axes[1, 0], axes[1, 1]), pts, cfg, floor)
    _caption(axes[1, 2], results, floor)
    axes[0, 0].set(xlabel="sqrt(d)", ylabel="vulnerability", title="(a) vulnerability")
    axes[0, 1].set(xlabel="sqrt(d)", ylabel="E ||grad_x L||_1", title="(b) gradient norm")
    eps_label = f"PGD eps per pixel (0 at {floor:.2g})"
    axes[0, 2].set(xscale="log", xlabel=eps_label, ylabel="accuracy", title="(c) accuracy")
    axes[1, 0].set(xlabel="vulnerability", ylabel="accuracy", title="(d) trade-off")
    axes[1, 1].set(xscale="log", yscale="log", xlabel="E ||grad_x L||_1",
                   ylabel="E ||grad_x L||_2", title="(e) l1 vs l2 norms per d (Fig. 7e)")
    axes[1, 2].set(xscale="log", xlabel=eps_label,
                   title="(f) caption: damage where the dependence breaks")
    for ax in axes.flat:
        ax.legend(fontsize=6)
    fig.tight_layout()
    return {"dimension": fig}
