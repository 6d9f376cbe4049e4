"""Figures of the ``tilting.*`` experiments (from saved results only)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from advgeom.plotting import new_figure


def _shade_degenerate(ax, r: dict) -> None:
    lams = np.asarray(r["lams"])
    bad = np.asarray(r["degenerate"], dtype=bool)
    if bad.any():
        ax.axvspan(
            lams[bad].min(),
            lams[bad].max(),
            color="0.9",
            zorder=0,
            label="collapsed (bias decides)",
        )


def path_figure(pairs: list[dict], dataset: str) -> Figure:
    """Angle, train/test error and mean adversarial distance against the penalty."""
    fig, axes = new_figure(3, width=4.4, height=3.4)
    many = len(pairs) > 1
    for j, r in enumerate(pairs):
        lams = np.asarray(r["lams"])
        bold = j == 0
        kw = dict(color="C0" if bold else "0.6", lw=2 if bold else 0.6, zorder=3 if bold else 2)
        label = f"{r['pair'][0]} vs {r['pair'][1]}" if bold else None
        axes[0, 0].semilogx(lams, r["angle"], label=label, **kw)
        axes[0, 2].loglog(lams, np.maximum(r["distance_mean"], 1e-6), label=label, **kw)
        if bold:
            axes[0, 1].semilogx(lams, r["train_error"], color="C0", label="train")
            axes[0, 1].semilogx(lams, r["test_error"], color="C3", label="test")
    for ax in axes[0]:
        _shade_degenerate(ax, pairs[0])
        ax.set_xlabel("L2 penalty lam")
    axes[0, 0].set(ylabel="tilting angle (deg)", title="Angle between w and z_hat")
    axes[0, 1].set(ylabel="error", title=f"Errors ({pairs[0]['pair'][0]} vs {pairs[0]['pair'][1]})")
    axes[0, 2].set(ylabel="mean l2 distance (test)", title="Adversarial distance (exact)")
    if many:
        axes[0, 0].plot([], [], color="0.6", lw=0.6, label=f"other pairs ({len(pairs) - 1})")
    for ax in axes[0]:
        ax.legend(fontsize=7)
    fig.suptitle(f"Linear SVM on {dataset}: hinge loss + lam/2 ||w||^2", fontsize=10)
    fig.tight_layout()
    return fig


def _show(ax, img, *, signed: bool = False, title: str | None = None) -> None:
    a = np.asarray(img)
    if signed:
        lim = max(float(np.abs(a).max()), 1e-12)
        ax.imshow(a, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        ax.imshow(a, cmap="gray", vmin=min(0.0, float(a.min())), vmax=max(1.0, float(a.max())))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7)


def image_grid(r: dict) -> Figure:
    """Rows: images; columns: x, then perturbation / adversarial / mirror at weak and strong
    regularisation. Top row: centroid difference and the two weight vectors."""
    im = r["images"]
    rows = im["rows"]
    n = len(im["x"])
    fig, axes = new_figure(1 + 3 * len(rows), n + 1, width=1.25, height=1.35)
    for ax in axes.flat:
        ax.axis("off")
    _show(axes[0, 0], im["centroid_difference"], signed=True, title="centroid diff.")
    axes[0, 0].axis("on")
    for j, row in enumerate(rows):
        ax = axes[0, 1 + 3 * j]
        ax.axis("on")
        lam = "lam -> inf" if row["lam"] is None else f"lam {row['lam']:.0e}"
        _show(ax, row["w"], signed=True, title=f"w {row['name']}: {lam}, {row['angle']:.0f} deg")
    for i in range(n):
        axes[i + 1, 0].axis("on")
        digit = r["pair"][0] if im["labels"][i] == 1 else r["pair"][1]
        _show(axes[i + 1, 0], im["x"][i], title=f"x (a {digit})")
        for j, row in enumerate(rows):
            for k, (key, signed) in enumerate(
                (("delta", True), ("adversarial", False), ("mirror", False))
            ):
                ax = axes[i + 1, 1 + 3 * j + k]
                ax.axis("on")
                extra = f" {row['distance'][i]:.2f}" if key == "delta" else ""
                _show(ax, row[key][i], signed=signed, title=f"{row['name']} {key}{extra}")
    fig.suptitle(
        "Adversarial (minimal l2, +overshoot) and mirror images; grey scale widened "
        "where images leave [0, 1]",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


def _plane_panel(ax, view: dict, pair: list[int], title: str) -> None:
    """Projected points by class, the boundary line, equal axes (the tilt shows as it is)."""
    u, v, lab = (np.asarray(view[k]) for k in ("u", "v", "label"))
    for cls, color, name in ((1, "C0", pair[0]), (0, "C3", pair[1])):
        sel = lab == cls
        ax.scatter(u[sel], v[sel], s=4, color=color, alpha=0.5, label=f"class {name}")
    seg = _line_in_box(*view["line"], u, v)
    if seg is not None:
        ax.plot(*seg, color="C1", lw=1.5, label="boundary")
    # Equal axes with adjustable data limits: matplotlib sets the ranges from what is drawn,
    # so the boundary is drawn only across the points' box (fixed limits would be ignored).
    ax.set_aspect("equal", adjustable="datalim")
    ax.set(xlabel="x . z_hat", ylabel="x . n_hat", title=title)
    ax.legend(fontsize=7, loc="upper left")


def _line_in_box(a: float, c: float, b: float, u: np.ndarray, v: np.ndarray):
    """The part of the line a u + c v + b = 0 inside the points' bounding box (padded by 10 %),
    as ([u0, u1], [v0, v1]); None when the line misses the box."""
    pad_u, pad_v = 0.1 * (np.ptp(u) + 1e-9), 0.1 * (np.ptp(v) + 1e-9)
    lo = np.array([u.min() - pad_u, v.min() - pad_v])
    hi = np.array([u.max() + pad_u, v.max() + pad_v])
    normal = np.array([a, c], dtype=float)
    if not np.any(normal):
        return None
    point = -b * normal / normal.dot(normal)  # the line's point closest to the origin
    direction = np.array([-c, a], dtype=float)
    # Clip the parametric line point + t * direction to the box (slab method).
    t_lo, t_hi = -np.inf, np.inf
    for k in range(2):
        if abs(direction[k]) < 1e-300:
            if not lo[k] <= point[k] <= hi[k]:
                return None
            continue
        t0, t1 = sorted(((lo[k] - point[k]) / direction[k], (hi[k] - point[k]) / direction[k]))
        t_lo, t_hi = max(t_lo, t0), min(t_hi, t1)
    if t_lo > t_hi:
        return None
    ends = point + np.outer([t_lo, t_hi], direction)
    return ends[:, 0], ends[:, 1]


def _turn_panel(ax, frames: list[dict], rot: dict) -> None:
    """Fig. 7 seen along z_hat: the unit weights' components orthogonal to z_hat in the 3-D
    subspace (n_strong, e3); the radius is sin(tilting angle), the polar angle the plane's turn
    around z_hat. The arc is the normalised interpolation between the two ends."""
    c0, c1 = np.asarray(frames[0]["coords"]), np.asarray(frames[-1]["coords"])
    ts = np.linspace(0.0, 1.0, 50)[:, None]
    arc = (1 - ts) * c0 + ts * c1
    arc /= np.linalg.norm(arc, axis=1, keepdims=True)
    circle = np.linspace(0, 2 * np.pi, 100)
    ax.plot(np.cos(circle), np.sin(circle), color="0.8", lw=0.8)
    ax.plot(arc[:, 1], arc[:, 2], color="C1", lw=1.5, label="boundary normal")
    for fr in frames:
        ax.plot(fr["coords"][1], fr["coords"][2], "o", color="C1", ms=4)
    for c, name in ((c0, "strong"), (c1, "weak")):
        ax.annotate(name, (c[1], c[2]), xytext=(4, 4), textcoords="offset points", fontsize=7)
        ax.plot([0, c[1]], [0, c[2]], color="0.5", lw=0.8, ls="--")
    ax.plot(0, 0, "k+", label="z_hat (out of the page)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set(
        xlabel="w . n_strong", ylabel="w . e3",
        title=f"seen along z_hat: w turns {rot['boundary_rotation']:.1f} deg,\n"
        f"tilt +{rot['tilt_change']:.1f} deg, plane turns {rot['plane_rotation']:.1f} deg",
    )
    ax.title.set_fontsize(8)
    ax.legend(fontsize=6, loc="lower left")


def plane_figure(m: dict) -> dict[str, Figure]:
    """Fig. 5: the two tilting planes. Fig. 7: the planes rotating from strong to weak."""
    figs = {}
    fig, axes = new_figure(2, width=5.0, height=4.2)
    for ax, name in zip(axes[0], ("strong", "weak"), strict=True):
        view = m["views"][name]
        _plane_panel(
            ax,
            view,
            m["pair"],
            f"{name}: lam {view['lam']:.2g}, angle "
            f"{view['angle']:.1f} deg, mean dist {view['distance_mean']:.2f}",
        )
    fig.suptitle(
        f"{m['dataset']} {m['pair'][0]} vs {m['pair'][1]}: training set in the tilting "
        "plane (Fig. 5)",
        fontsize=10,
    )
    fig.tight_layout()
    figs["plane"] = fig
    frames = m["rotation"]
    turn = "coords" in frames[0] and "rotation_angles" in m
    fig, axes = new_figure(len(frames) + turn, width=3.4, height=3.4)
    for ax, fr in zip(axes[0], frames, strict=False):
        _plane_panel(ax, fr, m["pair"], f"t = {fr['t']:.2f}: {fr['angle']:.1f} deg")
        ax.get_legend().remove()
    if turn:
        _turn_panel(axes[0, -1], frames, m["rotation_angles"])
    fig.suptitle(
        "The tilting plane rotating around z_hat from the strong (t = 0) to the weak "
        "(t = 1) boundary (Fig. 7)",
        fontsize=10,
    )
    fig.tight_layout()
    figs["rotation"] = fig
    return figs


def _toy_plane(ax, r: dict, cfg: dict) -> None:
    z, u, lab = (np.asarray(r["plane"][k]) for k in ("z", "u", "label"))
    ax.scatter(z[lab == 1], u[lab == 1], s=4, color="C0", label="class +")
    ax.scatter(z[lab == 0], u[lab == 0], s=4, color="C3", label="class -")
    span = np.linspace(-1.6, 1.6, 2)
    for theta, style in ((0.0, "-"), (cfg["tilted"], "--")):
        t = np.radians(theta)
        if np.sin(t) < 1e-12:
            ax.axvline(0.0, color="C1", ls=style, label="0 deg")
        else:  # cos(t) z + sin(t) u = 0
            ax.plot(
                span, -np.cos(t) / np.sin(t) * span, color="C1", ls=style, label=f"{theta:g} deg"
            )
    ax.set(
        xlim=(-1.6, 1.6),
        ylim=(-0.6, 0.6),
        xlabel="x . e_0 (class direction)",
        ylabel="x . u (flat direction)",
        title=f"n = {r['n']}: data and boundaries",
    )
    ax.legend(fontsize=7, loc="upper left")


def toy_figure(m: dict, cfg: dict) -> Figure:
    """Fig. 3/4: data in the plane of the tilts; distance and error vs angle; trained SVMs."""
    fixed = sorted(m["fixed"], key=lambda r: r["n"])
    fig, axes = new_figure(4, width=4.0, height=3.6)
    _toy_plane(axes[0, 0], fixed[0], cfg)
    _toy_plane(axes[0, 1], fixed[-1], cfg)
    ax = axes[0, 2]
    for k, r in enumerate(fixed):
        ax.plot(
            m["angles"],
            r["distance_mean"],
            "o-" if k == 0 else "x--",
            color=f"C{k}",
            label=f"distance, n = {r['n']}",
        )
        ax.plot(
            m["angles"],
            r["error"],
            "o:" if k == 0 else "x:",
            color=f"C{k}",
            alpha=0.6,
            label=f"error, n = {r['n']}",
        )
    ax.set(
        xlabel="tilting angle (deg)",
        ylabel="mean l2 distance / error",
        title="The tilt decides, not n",
    )
    ax.legend(fontsize=7)
    ax = axes[0, 3]
    svm = sorted(m["svm"], key=lambda r: r["n"])
    labels, angles, dists = [], [], []
    for r in svm:
        for name in ("weak", "strong"):
            labels.append(f"n={r['n']}\n{name}")
            angles.append(r[name]["angle"])
            dists.append(r[name]["distance_mean"])
    pos = np.arange(len(labels))
    ax.bar(pos - 0.2, angles, 0.4, color="C0", label="angle (deg)")
    ax.set_ylabel("tilting angle (deg)")
    ax2 = ax.twinx()
    ax2.bar(pos + 0.2, dists, 0.4, color="C1", label="mean distance")
    ax2.set_ylabel("mean l2 distance (test)")
    ax.set_xticks(pos, labels, fontsize=7)
    ax.set_title("SVMs on overlapping classes", fontsize=10)
    ax.legend(loc="upper left", fontsize=7)
    ax2.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    return fig


def deep_figure(m: dict) -> Figure:
    """Local angle and measured distance against weight decay; angle vs distance per point."""
    models = m["models"]
    fig, axes = new_figure(3, width=4.4, height=3.6)
    wds = sorted({r["weight_decay"] for r in models})
    pos = {wd: i for i, wd in enumerate(wds)}  # weight decay 0 has no place on a log axis
    for r in models:
        x = pos[r["weight_decay"]]
        if r["angle_mean"] is not None:
            axes[0, 0].plot(x, r["angle_mean"], "o", color="C0")
        if r["distance_mean"] is not None:
            axes[0, 1].plot(x, r["distance_mean"], "o", color="C3", label=None)
        if r["first_order_distance"] is not None:
            axes[0, 1].plot(x, r["first_order_distance"], "x", color="C7")
    for ax in axes[0, :2]:
        ax.set_xticks(range(len(wds)), [f"{w:g}" for w in wds], fontsize=7)
        ax.set_xlabel("weight decay")
    axes[0, 0].set(ylabel="mean local tilting angle (deg)", title="Local tilting angle")
    axes[0, 1].plot([], [], "o", color="C3", label="measured (PGD + line search)")
    axes[0, 1].plot([], [], "x", color="C7", label="first order: margin / ||grad||")
    axes[0, 1].set(ylabel="mean l2 distance (test)", title="Adversarial distance")
    axes[0, 1].legend(fontsize=7)
    ax = axes[0, 2]
    cmap = __import__("matplotlib").colormaps["viridis"]
    for r in models:
        a, d = np.asarray(r["angles"], dtype=float), np.asarray(r["distances"], dtype=float)
        keep = np.isfinite(a) & np.isfinite(d) & (d > 0)
        color = cmap(pos[r["weight_decay"]] / max(len(wds) - 1, 1))
        ax.scatter(a[keep], d[keep], s=4, color=color, alpha=0.5)
    for wd in wds:
        ax.scatter([], [], s=10, color=cmap(pos[wd] / max(len(wds) - 1, 1)), label=f"wd {wd:g}")
    ax.set(
        xlabel="local tilting angle (deg)", ylabel="measured l2 distance", title="Per test point"
    )
    ax.legend(fontsize=7)
    fig.suptitle(f"ReLU MLP on {m['dataset']} {m['pair'][0]} vs {m['pair'][1]}", fontsize=10)
    fig.tight_layout()
    return fig
