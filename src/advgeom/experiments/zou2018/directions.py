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
``|theta| <= 1e4``. Theorem 1 and Definition 1 hold for every W, so their checks are of kind
``construction`` (they verify our SVD and forward pass); that generic heads attain l - m + 1 is
ours (``beyond``).

Run: ``advgeom run softmax.directions [--scale smoke|default|paper]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from advgeom.errors import InputError, check_fields, check_positive_fields
from advgeom.experiments.zou2018 import _figures, _model
from advgeom.experiments.zou2018._records import head_name
from advgeom.geometry import softmax as sm
from advgeom.geometry.softmax_parallel import ChainHead
from advgeom.runs import rules
from advgeom.runs.claims import claim
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register


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
            out.append(measure(head, pts, cfg, _model.numpy_rng(gen), kind="random", draw=k))
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
    drawn, *fitted = ctx.points(
        [("random", lambda: random_heads(cfg, ctx))]
        + [(f"trained l={w}", lambda w=w: trained_head(cfg, ctx, w)) for w in cfg.trained_widths]
    )
    heads = drawn + fitted
    metrics = {"heads": heads}
    return {"claims": claims(cfg, metrics), "metrics": metrics}


# Theorem 1 is rank-nullity (C W has rank <= m - 1) and Definition 1's invariance is softmax's
# indifference to a common logit shift: both hold for every W, so checking them on our SVD and
# our forward pass verifies the code (kind "construction"), whatever the heads.
THEOREM_NOTE = "holds for every W (rank-nullity and softmax's shift invariance): verifies our code"


def generic_dim(l: int, m: int) -> int:  # noqa: E741 - the paper's names
    """dim V of a head whose centred weights have full rank: ``l - m + 1`` (>= 0) or 0."""
    return l - m + 1 if l >= m else 0


def _all_generic(expected: dict[str, int]):
    return lambda got: isinstance(got, dict) and got == expected


def _pairs_equal(got) -> bool:
    return isinstance(got, dict) and bool(got) and all(a == b for a, b in got.values())


def claims(cfg: Config, m: dict) -> list[dict]:
    heads = m["heads"]
    slack = [h["dim"] - h["lower_bound"] for h in heads]
    generic = [h for h in heads if h["kind"] in ("random", "trained")]
    expected = {head_name(h): generic_dim(h["l"], h["m"]) for h in generic}
    worst = max(heads, key=lambda h: h["max_change"])
    kinds = ", ".join(sorted({h["kind"] for h in heads}))
    special = "; ".join(
        f"{head_name(h)}: dim {h['dim']}" for h in heads if h["kind"] in ("low-rank", "parallel")
    )
    return [
        claim(
            "dim_at_least_l_minus_m",
            "Theorem 1: every softmax layer has a subspace V of adversarial directions with "
            "dim V >= l - m.",
            paper_value="dim V >= l - m",
            measured=min(slack),
            rule=rules.at_least(0, what="the smallest dim V - (l - m)"),
            kind="construction",
            note=f"smallest dim V - (l - m) over {len(heads)} heads ({kinds}); V from an SVD of "
            "the centred weights C W (singular values <= max(m, l) * eps * ||W||_F count as 0). "
            f"Theorem 1 {THEOREM_NOTE}",
        ),
        claim(
            "dim_generic_heads",
            "Beyond the paper's bound: random and trained heads have dim V = l - m + 1 when "
            "l >= m (the common logit shift adds one) and 0 when l < m.",
            paper_value="dim V >= l - m (the paper gives only the bound)",
            measured={head_name(h): h["dim"] for h in generic},
            rule=rules.predicate(
                _all_generic(expected),
                "every random and trained head has dim V = l - m + 1 (l >= m) or 0 (l < m)",
                fails_on={k: v + 1 for k, v in expected.items()},
                holds_on=dict(expected),
            ),
            kind="beyond",
            note="dim V by SVD of each random (nn.Linear init) and trained (digits MLP) head; "
            "a smaller V would mean rank-deficient centred weights. The rank-deficient and "
            f"parallel heads, whose V is larger by design: {special}",
        ),
        claim(
            "dim_matches_formula",
            "Our SVD of C W gives the dimension that W itself implies: l - rank(W) + "
            "[1 in range(W)], for every head (also the rank-deficient and parallel ones).",
            paper_value="dim V = l - rank(W) + [1 in range(W)]",
            measured={head_name(h): [h["dim"], h["formula"]] for h in heads},
            rule=rules.predicate(
                _pairs_equal,
                "every head's [dim V by SVD of C W, l - rank(W) + [1 in range(W)]] are equal",
                fails_on={"a head": [3, 2]},
                holds_on={"a head": [2, 2]},
            ),
            kind="construction",
            note="two computations of one number from the same W (the SVD's rank tolerance "
            "against matrix rank and range membership): verifies our code, not the paper",
        ),
        claim(
            "probabilities_unchanged_along_V",
            "Definition 1: moving the features along V by any theta leaves every probability "
            "unchanged.",
            paper_value=0.0,
            measured=max(h["max_change"] for h in heads),
            rule=rules.at_most(cfg.tol, what="the largest probability change"),
            kind="construction",
            note=f"largest change of any probability in float64 for |theta| <= {cfg.theta_max:g} "
            f"({cfg.directions} random unit directions of V per head, {cfg.points} points; "
            f"worst: {head_name(worst)}). The rounding bound theta/2 ||C W B||_2 over all of V is "
            f"at most {max(h['bound'] for h in heads):.2g}. Definition 1's invariance "
            f"{THEOREM_NOTE}",
        ),
    ]


EXPERIMENT = register(
    Experiment(
        id="softmax.directions",
        paper="zou",
        title="Theorem 1: dim V >= l - m for the adversarial directions V; probabilities "
        "constant on V",
        config=Config,
        run=run,
        plot=_figures.directions,
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
