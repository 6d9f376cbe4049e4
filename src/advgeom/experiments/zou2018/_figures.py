"""The figures of the ``softmax.*`` experiments, drawn from their saved results alone."""

from __future__ import annotations

import numpy as np

from advgeom.experiments.zou2018._records import HEADS, census, head_name, rate
from advgeom.geometry import softmax_regions as sr
from advgeom.plotting import new_figure


def directions(results: dict) -> dict:
    """dim V against l - m; the probability changes; a probability along V and off V."""
    heads = results["metrics"]["heads"]
    fig, axes = new_figure(3, width=4.6)
    ax = axes[0, 0]
    lo = min(h["lower_bound"] for h in heads)
    hi = max(h["lower_bound"] for h in heads)
    grid = np.union1d(np.linspace(lo, hi, 400), np.arange(min(lo, -1), 2))
    ax.plot(grid, np.maximum(grid, 0), "k--", lw=1, label="max(l - m, 0)")
    ax.plot(grid, np.where(grid >= 0, grid + 1, 0), "k:", lw=1, label="generic: l - m + 1")
    for i, kind in enumerate(("random", "trained", "low-rank", "parallel")):
        pts = [(h["lower_bound"], h["dim"]) for h in heads if h["kind"] == kind]
        if pts:
            ax.plot(*zip(*pts, strict=True), "o^sD"[i], ms=5, alpha=0.7, label=kind)
    ax.set(
        xscale="symlog",
        yscale="symlog",
        xlabel="l - m",
        ylabel="dim V",
        title="Theorem 1: dim V >= l - m",
    )
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    names = [head_name(h) for h in heads]
    ax.barh(
        range(len(heads)),
        [max(h["max_change"], 1e-18) for h in heads],
        color="C0",
        label="measured",
    )
    ax.plot(
        [max(h["bound"], 1e-18) for h in heads],
        range(len(heads)),
        "k|",
        ms=8,
        label="rounding bound",
    )
    ax.axvline(results["config"]["tol"], color="C3", ls="--", label="tolerance")
    ax.set_yticks(range(len(heads)), names, fontsize=5)
    ax.set(
        xscale="log",
        xlabel=f"max |dp| along V, |theta| <= {results['config']['theta_max']:g}",
        title="Probabilities along V (float64)",
    )
    ax.legend(fontsize=7)
    ax = axes[0, 2]
    trained = [h for h in heads if h["kind"] == "trained" and "along_V" in h["curves"]]
    if trained:
        h = trained[-1]
        c = h["curves"]
        ax.plot(c["theta"], c["along_V"], label="d in V")
        ax.plot(c["theta"], c["random"], label="random d")
        ax.set(
            xscale="symlog",
            xlabel="theta",
            ylabel=f"p(class {c['class']})",
            title=f"Trained head l = {h['l']}: h + theta d",
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    return {"directions": fig}


COLORS = {"strict": "C0", "recession": "C1", "invariant": "C2", "bounded": "C3", "empty": "0.7"}


def unbounded(results: dict) -> dict:
    """Fig. 1 (left) on a random 2-D head; census of region kinds; margins far along."""
    m = results["metrics"]
    fig, axes = new_figure(3, width=4.8)
    _picture(axes[0, 0], m)
    ax = axes[0, 1]
    rows = [(f"{k} random", census(v)) for k, v in m["random"].items()]
    rows += [
        (f"{w}x10 trained{' h>=0' if d == 'nonnegative' else ''}", census([t[d]]))
        for w, t in m["trained"].items()
        for d in ("all", "nonnegative")
    ]
    left = np.zeros(len(rows))
    for kind in sr.KINDS:
        share = np.array([c[kind] / max(sum(c.values()), 1) for _, c in rows])
        ax.barh(range(len(rows)), share, left=left, color=COLORS[kind], label=kind)
        left += share
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=6)
    ax.set(xlabel="share of class regions", title="Region kinds (l x m)")
    ax.legend(fontsize=6)
    ax = axes[0, 2]
    thetas = results["config"]["thetas"]
    for w, t in m["trained"].items():
        for r in t["all"]["regions"]:
            if "margins" in r:
                ax.plot(
                    thetas,
                    np.maximum(r["margins"], 1e-3),
                    "o-",
                    ms=3,
                    color="C0" if int(w) > 10 else "C1",
                    alpha=0.6,
                )
    ax.plot([], [], "C0o-", label="l > m trained"), ax.plot([], [], "C1o-", label="l < m trained")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="theta",
        ylabel="margin of the class",
        title="Far along each region's direction",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return {"unbounded": fig}


def _fattest(h: dict) -> float:
    """Largest inradius / box size over a head's bounded regions (0 without one)."""
    fat = [r["inradius"] / np.ptp(r["box"], axis=0).max() for r in h["regions"] if "box" in r]
    return max(fat, default=0.0)


def _picture(ax, m: dict) -> None:
    flat = [h for hs in m["random"].values() for h in hs if "head" in h]
    if not flat:
        ax.set_axis_off()
        return
    h = max(flat, key=_fattest)  # the draw whose bounded region shows best
    W, b = np.asarray(h["head"]["W"]), np.asarray(h["head"]["b"])
    boxes = [np.asarray(r["box"]) for r in h["regions"] if "box" in r]
    if boxes:
        centre = boxes[0].mean(axis=0)
        half = 2.5 * np.ptp(boxes[0], axis=0).max()
    else:
        centre, half = np.zeros(2), 3 * float(np.abs(b).max() / np.abs(W).max())
    gx = np.linspace(centre[0] - half, centre[0] + half, 300)
    gy = np.linspace(centre[1] - half, centre[1] + half, 300)
    xx, yy = np.meshgrid(gx, gy)
    grid = np.stack([xx.ravel(), yy.ravel()], 1)
    label = (grid @ W.T + b).argmax(1)
    levels = np.arange(len(W) + 1) - 0.5
    ax.contourf(xx, yy, label.reshape(xx.shape), levels=levels, cmap="tab10", alpha=0.35)
    ax.contour(xx, yy, label.reshape(xx.shape), levels=levels, colors="k", linewidths=0.4)
    for r, d in zip(h["regions"], h["head"]["direction"], strict=True):
        if not np.any(label == r["cls"]):
            continue  # empty, or outside the window
        p = grid[label == r["cls"]].mean(axis=0)
        ax.text(
            *p,
            f"{r['cls']}: {r['kind']}",
            fontsize=7,
            ha="center",
            color=COLORS[r["kind"]],
            weight="bold",
        )
        if d is not None:
            ax.annotate(
                "",
                xy=p + np.multiply(d, half / 3),
                xytext=p,
                arrowprops={"arrowstyle": "->", "color": "k", "lw": 0.8},
            )
    ax.set(xlabel="h1", ylabel="h2", title=f"Fig. 1 left: l = 2 < m = {len(W)} (random head)")


def universality(results: dict) -> dict:
    """Success vs eps for both heads and attacks; separated vs adjacent; distance to T."""
    heads = results["metrics"]["heads"]
    eps = results["config"]["eps"]

    def residual(kind: str, e: float, attack: str) -> float:
        run = next(r for r in heads[kind]["runs"] if r["eps"] == e)
        return float(np.median(run[attack]["residual"]))

    # Per panel: (colour, label prefix, value at (eps, attack)) of each curve pair.
    panels = (
        [(f"C{c}", k, lambda e, a, k=k: rate(heads[k], e, a)[0]) for c, k in enumerate(HEADS)],
        [
            (f"C{c + 2}", s, lambda e, a, s=s: rate(heads["parallel"], e, a, s)[0])
            for c, s in enumerate(("adjacent", "separated"))
        ],
        [(f"C{c}", k, lambda e, a, k=k: residual(k, e, a)) for c, k in enumerate(HEADS)],
    )
    styles = {"feature": "-", "pgd": "--"}
    names = {"feature": "search to g(x')+V", "pgd": "targeted PGD"}
    fig, axes = new_figure(3, width=4.6)
    for ax, curves in zip(axes[0], panels, strict=True):
        for color, prefix, value in curves:
            for attack in ("feature", "pgd"):
                values = [value(e, attack) for e in eps]
                label = f"{prefix}: {names[attack]}"
                ax.plot(eps, values, styles[attack], marker="o", ms=3, color=color, label=label)
    axes[0, 2].axhline(results["config"]["feature_tol"], color="k", lw=0.8, ls=":")
    axes[0, 0].set(title="Success (classified y')", ylabel="share of pairs")
    axes[0, 1].set(title="Parallel (chain) head by pair", ylabel="share of pairs")
    axes[0, 2].set(
        title="Distance of g(x*) to g(x') + V", ylabel="relative to g(x) (median)", yscale="log"
    )
    for ax in axes[0]:
        ax.set(xlabel="eps (l_inf)")
        ax.legend(fontsize=6)
    fig.tight_layout()
    return {"universality": fig}
