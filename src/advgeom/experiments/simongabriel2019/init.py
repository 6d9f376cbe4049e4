"""``firstorder.init``: at He-initialisation, E||grad_x L||_1 grows like sqrt(d), E||grad_x L||_2
does not depend on d.

Paper: Simon-Gabriel et al. (2019), Theorems 4-5 and Corollary 6 (Sec. 3.2), App. B. For ReLU
networks whose weights have variance 2 / fan-in, the coordinates of grad_x f_k scale like
1/sqrt(d), so ``||grad_x L||_q ~ d^(1/q - 1/2)``: log-log slope 1/2 for q = 1 and 0 for q = 2,
for a fully connected net (Thm. 4) and a strided CNN (Cor. 6) alike. Average pooling does not
follow He's variance rule and dampens the gradients (App. B).

The images are up-sampled by pixel copying (factors 1, 2, 4, 8: the paper's 32 to 256 pixels on
CIFAR-10, the paper scale; 8 to 64 on the bundled digits, the smoke and default scales) and
standardised per channel (see ``_common.standardise``
for why). Each network is measured in eval mode at initialisation, where every batch-norm is the
identity; each slope is fitted per seed (fresh initialisations) and the interval is over seeds.

Run: ``advgeom run firstorder.init --scale paper --data-dir DIR`` (or ``--scale default``:
digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from advgeom.errors import InputError, check_fields
from advgeom.experiments.simongabriel2019 import _common as c
from advgeom.plotting import new_figure
from advgeom.runs import rules
from advgeom.runs.claims import Claim, claim
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register

THEORY = {"l1": 0.5, "l2": 0.0}  # d^(1/q - 1/2)
NAMES = {"fc": "fully connected", "strided": "strided CNN", "avgpool": "average-pooling CNN"}


@dataclass(frozen=True)
class Config:
    """Paper settings: CIFAR-10, Sec. 4.1's CNN (64 channels), resolutions x1..x8 (32-256 px)."""

    dataset: Literal["digits", "mnist", "fashion-mnist", "cifar10"] = "cifar10"
    factors: tuple[int, ...] = (1, 2, 4, 8)
    archs: tuple[str, ...] = ("fc", "strided", "avgpool")
    seeds: int = 10  # independent initialisations per architecture and resolution
    examples: int = 1000  # test images the expectation is taken over
    hidden: int = 1024  # fully connected net: width and depth (the paper gives none: ours)
    depth: int = 3
    channels: int = 64
    slope_tol: float = 0.05  # the tolerance on the slopes 1/2 and 0

    def __post_init__(self) -> None:
        c.check_factors(self.factors, at_least=2)
        if not self.archs or any(a not in c.ARCHS for a in self.archs):
            raise InputError(f"archs must be a non-empty subset of {c.ARCHS} (got {self.archs})")
        check_fields(self, ("seeds", "examples", "hidden", "depth", "channels"))
        if not 0 < self.slope_tol < 1:
            raise InputError(f"slope_tol must be in (0, 1) (got {self.slope_tol})")


def measure(cfg: Config, ctx: RunContext, arch: str, factor: int) -> dict:
    """Mean gradient norms over the test images for each seed, at one resolution."""
    x_ref, _ = c.load_split(cfg.dataset, ctx.data_dir, "train", None)
    x, y = c.load_split(cfg.dataset, ctx.data_dir, "test", cfg.examples, factor)
    x = c.standardise(x, x_ref).to(ctx.device)
    y = y.to(ctx.device)
    per_seed = []
    for seed in range(cfg.seeds):
        model = c.build_model(
            arch,
            x.shape[1:],
            classes=c.classes_of(y),
            hidden=cfg.hidden,
            depth=cfg.depth,
            channels=cfg.channels,
            batch_norm=arch != "fc",
            generator=ctx.generator("init", arch, seed),
        )
        model.to(ctx.device).eval()
        per_seed.append(c.gradient_summary(model, x, y))
    return {
        "arch": arch,
        "factor": factor,
        "d": int(x[0].numel()),
        "grad_l1": [s["grad_l1"] for s in per_seed],
        "grad_l2": [s["grad_l2"] for s in per_seed],
    }


def slopes(points: list[dict]) -> dict:
    """Per-seed log-log slopes of E||g||_q against d, and their mean with a 95% interval."""
    d = [p["d"] for p in points]
    out = {}
    for q in ("l1", "l2"):
        values = np.array([p[f"grad_{q}"] for p in points])  # (resolutions, seeds)
        per_seed = [c.loglog_slope(d, values[:, s])["slope"] for s in range(values.shape[1])]
        out[q] = {
            **c.mean_interval(per_seed),
            "per_seed": per_seed,
            "pooled": c.loglog_slope(d, values.mean(axis=1)),
        }
    return out


def run(cfg: Config, ctx: RunContext) -> dict:
    """One point per (architecture, resolution); slopes per architecture."""
    # One batch of (architecture, factor) points, each on one CPU thread (many small batches).
    grid = [(arch, f) for arch in cfg.archs for f in cfg.factors]
    values = ctx.points([
        (f"{a}-x{f}", c.one_thread(ctx, lambda a=a, f=f: measure(cfg, ctx, a, f)))
        for a, f in grid
    ])
    runs = {}
    for arch in cfg.archs:
        points = [v for (a, _), v in zip(grid, values, strict=True) if a == arch]
        runs[arch] = {"points": points, "slopes": slopes(points)}
    metrics = {"dataset": cfg.dataset, "runs": runs, "theory": THEORY}
    return {"claims": claims(cfg, metrics, measurable=ctx.scale != "smoke"), "metrics": metrics}


def _note(cfg: Config, m: dict, arch: str, measurable: bool) -> str:
    pts = m["runs"][arch]["points"]
    ds = ", ".join(str(p["d"]) for p in pts)
    base = (
        f"{NAMES[arch]}, d = {ds} ({cfg.dataset} up-sampled by pixel copying, standardised), "
        f"mean of {cfg.seeds} per-initialisation slopes over {cfg.examples} images with 95% "
        "t interval"
    )
    if not measurable:
        return "smoke scale: the pipeline runs; the slopes need the default or paper scale; " + base
    return base


def _slope_claim(cfg: Config, m: dict, arch: str, q: str, measurable: bool) -> Claim:
    s = m["runs"][arch]["slopes"][q]
    theorem = "Theorem 4" if arch == "fc" else "Corollary 6"
    return claim(
        f"{arch}_slope_{q}",
        f"At He-initialisation E||grad_x L||_{q[1]} of a {NAMES[arch]} grows like "
        f"d^{THEORY[q]:g} ({theorem}: log-log slope {THEORY[q]:g}).",
        paper_value=THEORY[q],
        measured=c.finite(s["mean"]),
        rule=rules.slope_near(THEORY[q], cfg.slope_tol),
        measurable=measurable,
        note=f"slope {c.interval_text(s, 'mean')}; " + _note(cfg, m, arch, measurable),
    )


def _upper(fit: dict) -> float:
    return fit["mean"] if fit["high"] is None else fit["high"]


def claims(cfg: Config, m: dict, *, measurable: bool = True) -> list[Claim]:
    """Slopes 1/2 (q = 1) and 0 (q = 2) for FC and strided CNN; average pooling dampened."""
    out = [
        _slope_claim(cfg, m, arch, q, measurable)
        for arch in ("fc", "strided")
        if arch in m["runs"]
        for q in ("l1", "l2")
    ]
    if "avgpool" in m["runs"]:
        s = m["runs"]["avgpool"]["slopes"]["l1"]
        out.append(
            claim(
                "avgpool_dampened",
                "With average pooling instead of strided convolutions the input gradients are "
                "dampened (App. B): E||grad_x L||_1 grows slower than sqrt(d).",
                paper_value="slope < 0.5",
                measured=c.finite(_upper(s)),
                rule=rules.at_most(
                    THEORY["l1"] - cfg.slope_tol,
                    what="the upper end of the q = 1 slope's 95% interval",
                ),
                measurable=measurable,
                note=f"q = 1 slope {c.interval_text(s, 'mean')}, q = 2 slope "
                f"{m['runs']['avgpool']['slopes']['l2']['mean']:.3f}; "
                + _note(cfg, m, "avgpool", measurable),
            )
        )
    return out


def plot(results: dict) -> dict:
    """E||g||_1 and E||g||_2 against d (log-log), per architecture, with the theory lines."""
    m = results["metrics"]
    fig, axes = new_figure(2, width=5.0)
    for i, (arch, r) in enumerate(m["runs"].items()):
        d = np.array([p["d"] for p in r["points"]], float)
        for ax, q in zip(axes[0], ("l1", "l2"), strict=True):
            v = np.array([p[f"grad_{q}"] for p in r["points"]])
            mean = v.mean(axis=1)
            ax.errorbar(
                d,
                mean,
                yerr=[mean - v.min(axis=1), v.max(axis=1) - mean],
                fmt="o-",
                color=f"C{i}",
                capsize=3,
                ms=4,
                label=f"{NAMES[arch]} (slope {r['slopes'][q]['mean']:.2f})",
            )
            theory = mean[0] * (d / d[0]) ** m["theory"][q]
            ax.plot(d, theory, "--", color=f"C{i}", lw=1, alpha=0.7)
    for ax, q in zip(axes[0], ("1", "2"), strict=True):
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="input dimension d",
            ylabel=f"E ||grad_x L||_{q}",
            title=f"q = {q} at initialisation (dashed: d^{0.5 if q == '1' else 0:g})",
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    return {"init": fig}


EXPERIMENT = register(
    Experiment(
        id="firstorder.init",
        paper="simon-gabriel",
        title="Thm. 4-5, Cor. 6, App. B: gradient norms at He-initialisation against d",
        config=Config,
        run=run,
        plot=plot,
        scales={
            "smoke": {
                "dataset": "digits",
                "factors": (1, 2),
                "seeds": 2,
                "examples": 16,
                "hidden": 32,
                "depth": 2,
                "channels": 8,
            },
            # Reduced: 5 initialisations over 100 test digits, FC 256 x 2 (paper scale: 10 over
            # 1000 CIFAR-10 images, FC 1024 x 3).
            "default": {
                "dataset": "digits",
                "seeds": 5,
                "examples": 100,
                "hidden": 256,
                "depth": 2,
            },
        },
    )
)
