"""``softmax.unbounded``: every decision region of a wide softmax layer reaches infinity.

Paper: Zou, Su, Pang, Zhu, "Geometric Universality of Adversarial Examples in Deep Learning"
(Theorem 2, Fig. 1 left). For l > m, each class region of ``S(W h + b)`` contains a direction
along which points stay in the class forever with identical probabilities (a direction of V);
when l < m a region can be bounded. For every class region of random heads (``nn.Linear``
initialisation) with l > m and l < m, and of the heads of two ReLU MLPs trained on digits
(penultimate width above and below m = 10), linear programmes
(:func:`advgeom.geometry.softmax_regions.class_region`) find a point inside the region and a
direction to infinity, or prove there is none. Each direction is checked by evaluating the head
far along it (theta up to 1e6, float64) and by an independent LP that must be unbounded; each
bounded region by its finite extent. The trained heads are also examined in the orthant h >= 0
that ReLU features live in (the paper assumes H = R^l). Theorem 2 holds for every head with
l > m (V is not {0}), so its checks verify our LPs (kind ``construction``); whether random l < m
heads do have bounded regions (Fig. 1 left) is the one reproduction.

Run: ``advgeom run softmax.unbounded [--scale smoke|default|paper]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from advgeom.errors import InputError, check_fields, check_positive_fields
from advgeom.experiments.zou2018 import _figures, _model
from advgeom.experiments.zou2018._records import census
from advgeom.experiments.zou2018.directions import linear_init
from advgeom.geometry import softmax as sm
from advgeom.geometry import softmax_regions as sr
from advgeom.runs import rules
from advgeom.runs.claims import claim
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register


@dataclass(frozen=True)
class Config:
    """Head shapes on both sides of l = m; the paper has no experiment, only Fig. 1's sketch."""

    # ImageNet's (2048, 1000) would need 5000 LPs of 2048 variables; (600, 500) keeps l > m.
    above: tuple[tuple[int, int], ...] = ((11, 10), (20, 10), (64, 10), (150, 100), (600, 500))
    below: tuple[tuple[int, int], ...] = ((2, 6), (3, 10), (5, 10), (5, 20))
    draws_above: int = 3
    draws_below: int = 30
    trained_widths: tuple[int, ...] = (5, 32)  # penultimate widths l of digits MLPs (m = 10)
    depth: int = 2
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    thetas: tuple[float, ...] = (1e2, 1e4, 1e6)  # how far along each direction we evaluate
    theta_prob: float = 1e4  # farthest step along V for the probability check
    tol: float = 1e-9
    max_extent_dim: int = 8  # bounded regions are re-checked by 2 l LPs up to this l

    def __post_init__(self) -> None:
        check_fields(self, ("draws_above", "draws_below", "depth", "epochs", "batch_size"))
        if any(len(s) != 2 or s[1] < 2 or s[0] <= s[1] for s in self.above):
            raise InputError(f"above must hold (l, m) with l > m >= 2 (got {self.above})")
        if any(len(s) != 2 or s[0] < 1 or s[0] >= s[1] for s in self.below):
            raise InputError(f"below must hold (l, m) with 1 <= l < m (got {self.below})")
        if not self.thetas or min(self.thetas) <= 0:
            raise InputError(f"thetas must be positive (got {self.thetas})")
        check_positive_fields(self, ("lr", "theta_prob", "tol"))


def examine(head, cfg: Config, *, domain: str = "all") -> dict:
    """Kinds of all class regions of a head, with the checks of each direction or bound."""
    W, b = sm.head_weights(head)
    V = sm.adversarial_subspace((W, b))
    regions, checks = sr.class_regions((W, b), domain=domain), []
    for r in regions:
        rec = {"cls": r.cls, "kind": r.kind, "inradius": r.inradius, "growth": r.growth}
        if r.unbounded:
            far = sr.far_along((W, b), r, cfg.thetas)
            rec |= {
                "stays": all(c == r.cls for c in far["classes"]),
                "lp_unbounded": sr.is_unbounded_lp((W, b), r, domain=domain),
                "margins": far["margins"],
            }
        elif r.kind == "bounded" and W.shape[1] <= cfg.max_extent_dim:
            lo, hi = sr.region_box((W, b), r.cls, domain=domain)
            rec |= {"extent": float(np.abs(np.r_[lo, hi]).max()), "box": [lo.tolist(), hi.tolist()]}
        if r.interior is not None and V.dim and domain == "all":
            rec["v_change"] = sm.probability_change(
                (W, b), r.interior, V.basis[:, :1], thetas=(-cfg.theta_prob, cfg.theta_prob)
            )
        checks.append(rec)
    out = {"l": W.shape[1], "m": W.shape[0], "dim_V": V.dim, "domain": domain, "regions": checks}
    if W.shape[1] == 2:  # kept for the Fig. 1 (left) picture
        out["head"] = {
            "W": W.tolist(),
            "b": b.tolist(),
            "interior": [None if r.interior is None else r.interior.tolist() for r in regions],
            "direction": [None if r.direction is None else r.direction.tolist() for r in regions],
        }
    return out


def random_shape(cfg: Config, ctx: RunContext, width: int, m: int, draws: int) -> list[dict]:
    """Examine ``draws`` random ``nn.Linear(width, m)`` heads."""
    return [
        examine(linear_init(width, m, ctx.generator("head", width, m, k)), cfg)
        for k in range(draws)
    ]


def trained(cfg: Config, ctx: RunContext, width: int) -> dict:
    gen = ctx.generator("trained", width)
    digits = _model.load_digits(ctx.device)
    model = _model.build(width, cfg.depth, parallel=False, generator=gen)
    acc = _model.train(
        model, digits, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, generator=gen
    )
    return acc | {
        "all": examine(model[-1], cfg),
        "nonnegative": examine(model[-1], cfg, domain="nonnegative"),
    }


def run(cfg: Config, ctx: RunContext) -> dict:
    shapes = [(w, m, draws) for group, draws in ((cfg.above, cfg.draws_above),
                                                 (cfg.below, cfg.draws_below)) for w, m in group]
    values = ctx.points(
        [(f"random {w}x{m}", lambda w=w, m=m, d=d: random_shape(cfg, ctx, w, m, d))
         for w, m, d in shapes]
        + [(f"trained l={w}", lambda w=w: trained(cfg, ctx, w)) for w in cfg.trained_widths]
    )
    heads = {f"{w}x{m}": v for (w, m, _), v in zip(shapes, values, strict=False)}
    nets = {str(w): v for w, v in zip(cfg.trained_widths, values[len(shapes):], strict=True)}
    metrics = {"random": heads, "trained": nets}
    return {"claims": claims(cfg, metrics), "metrics": metrics}


def _heads(m: dict, wide: bool, domain: str = "all") -> list[dict]:
    out = [h for hs in m["random"].values() for h in hs if (h["l"] > h["m"]) == wide]
    return out + [t[domain] for t in m["trained"].values() if (t[domain]["l"] > 10) == wide]


def _confirmed(r: dict) -> bool:
    """A region's LP kind confirmed independently: an unbounded one keeps its class far along
    its direction and makes an unbounded LP; a bounded one has a finite extent (where checked)."""
    if r["kind"] == "bounded":
        return math.isfinite(r.get("extent", 0.0))
    return bool(r.get("stays") and r.get("lp_unbounded"))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def claims(cfg: Config, m: dict) -> list[dict]:
    wide = [r for h in _heads(m, True) for r in h["regions"] if r["kind"] != "empty"]
    verified = [r for r in wide if r.get("stays") and r.get("lp_unbounded")]
    relu = census([t["nonnegative"] for t in m["trained"].values() if t["nonnegative"]["l"] > 10])
    changes = [r["v_change"] for r in wide if "v_change" in r]
    narrow = [r for h in _heads(m, False) for r in h["regions"] if r["kind"] != "empty"]
    bounded = [r for r in narrow if r["kind"] == "bounded"]
    checked = [r for r in bounded if "extent" in r]
    confirmed = [r for r in narrow if _confirmed(r)]
    thetas = ", ".join(f"{t:g}" for t in cfg.thetas)
    return [
        claim(
            "regions_unbounded_l_gt_m",
            "Theorem 2: when l > m, every class region extends to infinity: points far along "
            "some direction keep the class.",
            paper_value=1.0,
            measured=_share(len(verified), len(wide)),
            rule=rules.at_least(1.0, what="the share of verified regions"),
            kind="construction",
            note=f"share of the {len(wide)} non-empty regions of l > m heads (random and "
            f"trained) whose LP direction keeps the class at theta = {thetas} and makes an "
            f"unbounded LP; kinds {census(_heads(m, True))}. Holds for every head with l > m "
            "(V != {0} and every region is invariant along V): verifies our LPs, not the paper. "
            f"In the orthant h >= 0 of ReLU features the trained wide head's regions are {relu}",
        ),
        claim(
            "identical_probabilities_far",
            "Theorem 2: ... with identical output probabilities (along the directions of V).",
            paper_value=0.0,
            measured=max(changes, default=None),
            rule=rules.at_most(cfg.tol, what="the largest probability change"),
            kind="construction",
            note=f"largest probability change from the {len(changes)} interior points of l > m "
            f"regions moved by |theta| <= {cfg.theta_prob:g} along V, float64. Softmax's shift "
            "invariance makes it 0 up to rounding for every head: verifies our code",
        ),
        claim(
            "bounded_regions_l_lt_m",
            "Fig. 1 (left): when l < m a decision region can be bounded.",
            paper_value="some regions bounded",
            measured=sum(_confirmed(r) for r in bounded),
            rule=rules.at_least(1, what="the number of bounded regions"),
            note=f"regions of l < m heads that an LP finds without a direction of recession, "
            f"counted when confirmed (a finite box where l <= {cfg.max_extent_dim}: {len(checked)} "
            f"of the {len(bounded)} were boxed), among {len(narrow)} non-empty regions (share "
            f"{len(bounded) / max(len(narrow), 1):.3g}); kinds {census(_heads(m, False))}",
        ),
        claim(
            "regions_l_lt_m_verified",
            "Our LP's verdict on each region of the l < m heads is confirmed independently.",
            paper_value=1.0,
            measured=_share(len(confirmed), len(narrow)),
            rule=rules.at_least(1.0, what="the share of confirmed regions"),
            kind="construction",
            note=f"share of the {len(narrow)} non-empty regions of l < m heads whose kind is "
            f"confirmed: unbounded ones keep the class at theta = {thetas} and make an "
            "unbounded LP, bounded ones have a finite extent: verifies our LPs",
        ),
    ]


EXPERIMENT = register(
    Experiment(
        id="softmax.unbounded",
        paper="zou",
        title="Theorem 2 / Fig. 1 left: class regions reach infinity when l > m, can be bounded "
        "when l < m",
        config=Config,
        run=run,
        plot=_figures.unbounded,
        scales={
            "smoke": {
                "above": ((5, 4), (12, 10)),
                "below": ((2, 6), (3, 8)),
                "draws_above": 1,
                "draws_below": 6,
                "trained_widths": (5, 12),
                "epochs": 2,
            },
            # One draw per wide shape (a 150 x 100 head takes ~7 s of LPs) and no 600 x 500.
            "default": {"above": ((11, 10), (20, 10), (64, 10), (150, 100)), "draws_above": 1},
        },
    )
)
