"""Figures of the final checks of ``spheres.dimension`` (:mod:`._final_checks`): Fig. A.1, the
histogram of d(x, E) of the final n = 500 net, and Fig. B.3, the out-of-sample loss and d(E)
during training. They read only the saved results."""

from __future__ import annotations

import math

import numpy as np

from advgeom.experiments.gilmer2018._final_checks import (
    PAPER_B3_D_E,
    PAPER_LOSS,
    SEC3_N,
    distance_summary,
)
from advgeom.plotting import new_figure


def plot(results: dict) -> dict:
    """Fig. A.1 (``distances``: histogram of d(x, E) of the final n = 500 net) and Fig. B.3
    (``loss``: out-of-sample loss and d(E) during training, and d(E) against the loss), each
    where the run measured it."""
    runs = results["metrics"]["runs"]
    figures = {}
    final = next((r.get("final") for r in runs if r["n"] == SEC3_N), None)
    summary = None if final is None else distance_summary(final["distances"])
    if summary is not None:
        figures["distances"] = _distances_figure(final["distances"], summary)
    if any(t.get("loss") is not None for r in runs for t in r["trace"]):
        figures["loss"] = _loss_figure(runs)
    return figures


def _distances_figure(distances: list[float | None], s: dict):
    fig, axes = new_figure(1, width=5.0)
    ax = axes[0, 0]
    d = np.array([v for v in distances if v is not None])
    ax.hist(d, bins=_bins(d), color="C0", alpha=0.7)
    ax.axvline(s["mean"], color="k", label=f"mean d(E) = {s['mean']:.3g}")
    ax.axvline(s["median"], color="k", ls="--", label=f"median = {s['median']:.3g}")
    cv = "undefined" if s["cv"] is None else f"{s['cv']:.2f}"
    ax.set(xlabel="d(x, E): distance to the first error found", ylabel="starting points",
           title=f"n = {SEC3_N}: d(x, E), std / mean {cv}, found {s['found']:.0%} (Fig. A.1)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _bins(d: np.ndarray) -> np.ndarray | int:
    """Bins one attack step wide, centred on whole steps: the attack stops after a whole number
    of steps, so its distances cluster near multiples of one step's move and finer bins would
    show gaps between the clusters (40 plain bins when that would be too many)."""
    step = float(d[d > 0].min()) if (d > 0).any() else 0.0
    if step <= 0 or d.max() / step > 80:
        return 40
    return (np.arange(math.ceil(d.max() / step) + 2) - 0.5) * step


def _loss_figure(runs: list[dict]):
    fig, axes = new_figure(3, width=4.6)
    for i, r in enumerate(runs):
        tr, main = r["trace"], r["n"] == SEC3_N
        style = {"color": f"C{i % 10}", "lw": 2.0 if main else 0.8, "alpha": 1.0 if main else 0.5,
                 "label": f"n = {r['n']}"}
        loss = [(max(t["step"], 1), t["loss"]) for t in tr if t.get("loss") is not None]
        if loss:
            axes[0, 0].plot(*zip(*loss, strict=True), "o-", ms=3, **style)
        pairs = [(t["loss"], t["d_E"]) for t in tr
                 if t.get("loss") is not None and t.get("d_E") is not None]
        if pairs:
            axes[0, 2].plot(*zip(*pairs, strict=True), "o-", ms=3, **style)
        if main:
            d = [(t["step"], t["d_E"]) for t in tr if t.get("d_E") is not None]
            if d:
                axes[0, 1].plot(*zip(*d, strict=True), "o-", ms=3, **style)
    axes[0, 0].axhline(PAPER_LOSS, color="k", ls=":", label="1e-9 (paper)")
    axes[0, 1].axhline(PAPER_B3_D_E, color="k", ls=":", label=".17 (paper)")
    axes[0, 0].set(xlabel="training step", ylabel="cross-entropy, fresh points", yscale="log",
                   title="Out-of-sample loss (Fig. B.3 left)")
    axes[0, 1].set(xlabel="training step", ylabel="d(E)",
                   title=f"d(E) at n = {SEC3_N} (Fig. B.3 right)")
    losses = [t["loss"] for r in runs for t in r["trace"] if t.get("loss")]
    # A loss that moves less than a decade (short runs) reads better on a linear axis.
    wide = bool(losses) and max(losses) / min(losses) >= 10
    axes[0, 2].set(xlabel="cross-entropy, fresh points", ylabel="d(E)",
                   xscale="log" if wide else "linear", title="d(E) against the loss over training")
    for ax in axes[0]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
