"""``softmax.directions``: adversarial directions of softmax layers (Theorem 1).

Paper: Zou, Su, Pang, Zhu, "Geometric Universality of Adversarial Examples in Deep Learning"
(Definition 1, Theorem 1). A softmax layer ``S(W h + b)`` with l inputs and m classes has a
subspace V of directions with ``S(W (h + theta d) + b) = S(W h + b)`` for all theta, of dimension
at least ``l - m``. We compute V by SVD (:func:`advgeom.geometry.softmax.adversarial_subspace`)
for random heads (PyTorch's ``nn.Linear`` initialisation) of several widths with ``l > m``,
``l = m`` and ``l < m`` (the paper's ImageNet shapes, l = 4096 or 2048 and m = 1000, at the
``paper`` scale), one rank-deficient head, one parallel (:class:`ChainHead`) head, and the heads
of ReLU MLPs trained on digits with penultimate widths around m = 10. For each we report dim V
beside ``l - m`` and the largest probability change in float64 when points move along V by
``|theta| <= 1e4``.

Run: ``advgeom run softmax.directions [--scale smoke|default|paper]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from advgeom.errors import InputError, check_fields, check_positive_fields
from advgeom.experiments.claims import claim
from advgeom.experiments.context import RunContext
from advgeom.experiments.registry import Experiment, register
from advgeom.experiments.zou2018 import _model
from advgeom.geometry import softmax as sm
from advgeom.geometry.softmax_parallel import ChainHead
from advgeom.plotting import new_figure


@dataclass(frozen=True)
class Config:
    """The paper's shapes (ImageNet: l = 4096 or 2048, m = 1000) and small ones on each side."""

    random_heads: tuple[tuple[int, int], ...] = (
        (4096, 1000),
        (2048, 1000),
        (1000, 1000),
        (500, 1000),
        (64, 10),
        (10, 10),
        (5, 10),
    )
    draws: int = 3  # random heads per shape
    low_rank: tuple[int, int, int] = (64, 10, 5)  # l, m and rank of one rank-deficient head
    parallel: tuple[int, int] = (64, 10)  # l, m of one random ChainHead
    trained_widths: tuple[int, ...] = (5, 10, 32, 128)  # penultimate widths l (m = 10 classes)
    depth: int = 2
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    theta_max: float = 1e4
    directions: int = 32  # random unit vectors of V checked per head (plus the basis if smaller)
    points: int = 8  # feature vectors h per head
    tol: float = 1e-9  # largest probability change counted as "unchanged"

    def __post_init__(self) -> None:
        check_fields(self, ("draws", "depth", "epochs", "batch_size", "directions", "points"))
        shapes = [*self.random_heads, self.parallel, self.low_rank[:2]]
        if any(len(s) != 2 or min(s) < 1 for s in (*self.random_heads, self.parallel)):
            raise InputError(
                f"random_heads and parallel must be (l, m) pairs of positive integers "
                f"(got {self.random_heads}, {self.parallel})"
            )
        if any(m < 2 for _, m in shapes):
            raise InputError("every head needs m >= 2 classes")
        if not 1 <= self.low_rank[2] <= min(self.low_rank[:2]):
            raise InputError(
                f"low_rank is (l, m, r) with 1 <= r <= min(l, m) (got {self.low_rank})"
            )
        if not self.trained_widths or min(self.trained_widths) < 1:
            raise InputError(f"trained_widths must be positive (got {self.trained_widths})")
        check_positive_fields(self, ("lr", "theta_max", "tol"))


def linear_init(width: int, m: int, gen: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A head drawn like a fresh ``nn.Linear(l, m)``: W, b ~ U(-1/sqrt(l), 1/sqrt(l))."""
    bound = 1 / math.sqrt(width)
    W = torch.empty(m, width, dtype=torch.float64).uniform_(-bound, bound, generator=gen)
    b = torch.empty(m, dtype=torch.float64).uniform_(-bound, bound, generator=gen)
    return W.numpy(), b.numpy()


def measure(head, points: np.ndarray, cfg: Config, rng: np.random.Generator, **info) -> dict:
    """dim V, its formula, and the largest probability change along V at ``points``."""
    V = sm.adversarial_subspace(head)
    dirs = sm.random_unit_directions(V.basis, cfg.directions, rng)
    if 0 < V.dim <= cfg.directions:
        dirs = np.hstack([dirs, V.basis])
    thetas = [s * t for t in (1.0, math.sqrt(cfg.theta_max), cfg.theta_max) for s in (-1, 1)]
    return info | {
        "l": V.l,
        "m": V.m,
        "dim": V.dim,
        "lower_bound": V.lower_bound,
        "generic": V.lower_bound + 1 if V.lower_bound >= 0 else 0,
        "formula": sm.dimension_formula(head),
        "rank_margin": min(V.margin, 1e300),
        "max_change": sm.probability_change(head, points, dirs, thetas=thetas),
        "bound": sm.invariance_bound(head, V, cfg.theta_max),
    }


def random_heads(cfg: Config, ctx: RunContext) -> list[dict]:
    """Random ``nn.Linear`` heads, a rank-deficient one and a random ChainHead."""
    out = []
    for width, m in cfg.random_heads:
        for k in range(cfg.draws):
            gen = ctx.generator("random", width, m, k)
            head = linear_init(width, m, gen)
            pts = torch.randn(cfg.points, width, generator=gen, dtype=torch.float64).numpy()
            out.append(measure(head, pts, cfg, _model.numpy_rng(gen), kind="random"))
    width, m, r = cfg.low_rank
    gen = ctx.generator("low-rank")
    left, right = linear_init(r, m, gen)[0], linear_init(width, r, gen)[0]
    pts = torch.randn(cfg.points, width, generator=gen, dtype=torch.float64).numpy()
    out.append(
        measure(
            (left @ right, np.zeros(m)), pts, cfg, _model.numpy_rng(gen), kind="low-rank", rank=r
        )
    )
    width, m = cfg.parallel
    gen = ctx.generator("parallel")
    pts = torch.randn(cfg.points, width, generator=gen, dtype=torch.float64).numpy()
    out.append(
        measure(
            ChainHead(width, m, generator=gen), pts, cfg, _model.numpy_rng(gen), kind="parallel"
        )
    )
    return out


def trained_head(cfg: Config, ctx: RunContext, width: int) -> dict:
    """Train a digits MLP with penultimate width ``width``; measure its head at test features."""
    gen = ctx.generator("trained", width)
    digits = _model.load_digits(ctx.device)
    model = _model.build(width, cfg.depth, parallel=False, generator=gen)
    acc = _model.train(
        model, digits, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, generator=gen
    )
    with torch.no_grad():
        pts = _model.features(model, digits["x_test"][: cfg.points]).double().cpu().numpy()
    rec = measure(model[-1], pts, cfg, _model.numpy_rng(gen), kind="trained", **acc)
    rec["curves"] = curves(model[-1], pts[0], _model.numpy_rng(gen), cfg.theta_max)
    return rec


def curves(head, h: np.ndarray, rng: np.random.Generator, theta_max: float) -> dict:
    """Top-class probability along a unit direction of V and along a random unit direction."""
    W, b = sm.head_weights(head)
    V = sm.adversarial_subspace(head)
    thetas = np.concatenate([-np.geomspace(theta_max, 1e-2, 40), np.geomspace(1e-2, theta_max, 40)])
    y = int(np.argmax(h @ W.T + b))
    out = {"theta": thetas.tolist(), "class": y}
    rand = rng.standard_normal(len(h))
    for name, d in (
        ("along_V", sm.random_unit_directions(V.basis, 1, rng)),
        ("random", (rand / np.linalg.norm(rand))[:, None]),
    ):
        if d.shape[1]:
            p = sm.softmax64((h[None, :] + thetas[:, None] * d[:, 0]) @ W.T + b)[:, y]
            out[name] = p.tolist()
    return out


def run(cfg: Config, ctx: RunContext) -> dict:
    heads = ctx.point("random", lambda: random_heads(cfg, ctx))
    heads = heads + [
        ctx.point(f"trained l={w}", lambda w=w: trained_head(cfg, ctx, w))
        for w in cfg.trained_widths
    ]
    metrics = {"heads": heads}
    return {"claims": claims(cfg, metrics), "metrics": metrics}


def _name(h: dict) -> str:
    return f"{h['kind']} {h['l']}x{h['m']}"


def claims(cfg: Config, m: dict) -> list[dict]:
    heads = m["heads"]
    slack = [h["dim"] - h["lower_bound"] for h in heads]
    generic = [h for h in heads if h["kind"] in ("random", "trained")]
    worst = max(heads, key=lambda h: h["max_change"])
    kinds = ", ".join(sorted({h["kind"] for h in heads}))
    return [
        claim(
            "dim_at_least_l_minus_m",
            "Theorem 1: every softmax layer has a subspace V of adversarial directions with "
            "dim V >= l - m.",
            paper_value="dim V >= l - m",
            measured=min(slack),
            agrees=min(slack) >= 0,
            note=f"smallest dim V - (l - m) over {len(heads)} heads ({kinds}); V from an SVD of "
            "the centred weights C W (singular values <= max(m, l) * eps * ||W||_F count as 0)",
        ),
        claim(
            "dim_generic_heads",
            "The bound is attained up to one: random and trained heads have dim V = l - m + 1 "
            "when l >= m (the common logit shift adds one) and 0 when l < m.",
            paper_value="l - m (lower bound)",
            measured={_name(h): h["dim"] for h in generic},
            agrees=all(h["dim"] == h["generic"] for h in generic)
            and all(h["dim"] == h["formula"] for h in heads),
            note="agrees when every random/trained head has that dimension and every head "
            "(also the rank-deficient and parallel ones, whose V is larger) matches "
            "l - rank(W) + [1 in range(W)] computed from W itself; "
            + "; ".join(
                f"{h['kind']} {h['l']}x{h['m']}: dim {h['dim']}"
                for h in heads
                if h["kind"] in ("low-rank", "parallel")
            ),
        ),
        claim(
            "probabilities_unchanged_along_V",
            "Definition 1: moving the features along V by any theta leaves every probability "
            "unchanged.",
            paper_value=0.0,
            measured=max(h["max_change"] for h in heads),
            agrees=all(h["max_change"] <= cfg.tol for h in heads),
            note=f"largest change of any probability in float64 for |theta| <= {cfg.theta_max:g} "
            f"({cfg.directions} random unit directions of V per head, {cfg.points} points; "
            f"worst: {_name(worst)}); agrees when <= {cfg.tol:g}. The rounding bound theta/2 "
            f"||C W B||_2 over all of V is at most {max(h['bound'] for h in heads):.2g}",
        ),
    ]


def plot(results: dict) -> dict:
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
    names = [_name(h) for h in heads]
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


EXPERIMENT = register(
    Experiment(
        id="softmax.directions",
        paper="zou",
        title="Theorem 1: dim V >= l - m for the adversarial directions V; probabilities "
        "constant on V",
        config=Config,
        run=run,
        plot=plot,
        scales={
            "smoke": {
                "random_heads": ((16, 4), (4, 4), (3, 4)),
                "draws": 1,
                "low_rank": (16, 4, 2),
                "parallel": (8, 4),
                "trained_widths": (5, 16),
                "epochs": 2,
                "directions": 8,
                "points": 4,
            },
            # The ImageNet shapes (SVDs of 1000 x 4096) are left to the paper scale.
            "default": {
                "random_heads": ((512, 100), (100, 100), (50, 100), (64, 10), (10, 10), (5, 10))
            },
        },
    )
)
