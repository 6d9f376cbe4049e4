"""Fig. 1 (a)-(f) of Simon-Gabriel et al. from a ``firstorder.regularizers`` run's results."""

from __future__ import annotations

from advgeom.experiments.simongabriel2019._figure1_claims import cross_lipschitz_gaps
from advgeom.plotting import new_figure

LABELS = {
    "plain": "plain",
    "grad_l1": "gradient penalty q=1",
    "grad_l2": "gradient penalty q=2",
    "adv_linf": "adv. augmentation l_inf (FGSM)",
    "adv_l2": "adv. augmentation l2",
    "pgd": "PGD training",
    "cross_lipschitz": "cross-Lipschitz (weight)",
}
STYLE = {
    "grad_l1": ("C0", "-"),
    "grad_l2": ("C1", "-"),
    "adv_linf": ("C0", "--"),
    "adv_l2": ("C1", "--"),
    "pgd": ("C2", "-"),
    "cross_lipschitz": ("C3", ":"),
}


def _curves(points: list[dict]) -> dict[str, list[dict]]:
    plain = next(p for p in points if p["method"] == "plain")
    methods = [m for m in STYLE if any(p["method"] == m for p in points)]
    return {
        m: [plain] + sorted((p for p in points if p["method"] == m), key=lambda p: p["eps"])
        for m in methods
    }


def plot(results: dict) -> dict:
    """Upper row: E||g||_1, vulnerability, accuracy against eps per pixel (eps = 0 drawn at the
    left edge); lower row: vulnerability vs E||g||_1, E||g||_2 vs E||g||_1, accuracy vs
    vulnerability (one point per trained network)."""
    m, cfg = results["metrics"], results["config"]
    fig, axes = new_figure(3, 2, width=4.6, height=3.6)
    curves = _curves(m["points"])
    eps_all = [p["eps"] for p in m["points"] if p["eps"] > 0]
    floor = min(eps_all) / 3 if eps_all else 1e-3  # where eps = 0 is drawn on the log axis
    upper = (
        ("grad_l1", "E ||grad_x L||_1 (test)"),
        ("vulnerability", "vulnerability (test)"),
        ("accuracy", "accuracy (test)"),
    )
    lower = (("grad_l1", "vulnerability"), ("grad_l1", "grad_l2"), ("vulnerability", "accuracy"))
    for name, pts in curves.items():
        color, ls = STYLE[name]
        xs = [p["eps"] if p["eps"] > 0 else floor for p in pts]
        for ax, (key, _) in zip(axes[0], upper, strict=True):
            ax.plot(
                xs, [p[key] for p in pts], ls, color=color, marker="o", ms=3, label=LABELS[name]
            )
        for ax, (kx, ky) in zip(axes[1], lower, strict=True):
            ax.plot(
                [p[kx] for p in pts],
                [p[ky] for p in pts],
                "o",
                color=color,
                ms=4,
                mfc="none" if ls == "--" else color,
                label=LABELS[name],
            )
    titles = ("(a) gradient norm", "(b) vulnerability", "(c) accuracy")
    for ax, (_, ylabel), title in zip(axes[0], upper, titles, strict=True):
        ax.set(
            xscale="log",
            xlabel="eps per pixel (eps_p d^(-1/p); cross-Lip.: weight)",
            ylabel=ylabel,
            title=f"{title}; eps = 0 at {floor:.2g}",
        )
    axes[0, 0].set_yscale("log")
    axes[1, 0].set(
        xscale="log",
        xlabel="E ||grad_x L||_1",
        ylabel="vulnerability",
        title=f"(d) PGD-{cfg['attack_steps']} at {cfg['attack_eps']} per pixel",
    )
    axes[1, 1].set(
        xlabel="E ||grad_x L||_1", ylabel="E ||grad_x L||_2", title="(e) l1 vs l2 gradient norms"
    )
    axes[1, 2].set(
        xlabel="vulnerability", ylabel="accuracy", title="(f) accuracy-vulnerability trade-off"
    )
    if any(p["method"] == "cross_lipschitz" for p in m["points"]):
        # Where cross_lipschitz_tradeoff_worse compares the methods with cross-Lipschitz.
        for v in sorted({g["low"] for g in cross_lipschitz_gaps(m["points"]).values()}):
            axes[1, 2].axvline(v, color="C3", ls=":", lw=0.8)
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(f"{m['dataset']}, {cfg['arch']} network, {cfg['epochs']} epochs", fontsize=9)
    fig.tight_layout()
    return {"regularizers": fig}
