"""``tilting.deep``: the local tilting angle of a small ReLU network against weight decay,
beside its measured adversarial distance (beyond the article).

Paper: Tanay, "A boundary tilting perspective" closes with "this simple picture does not apply to
state-of-the-art deep networks ... the role of regularization should be explored further". This
experiment applies the lens locally: at each test input x of class y, the angle between the input
gradient of the logit margin (y against the other class) and the centroid difference mu_y - mu_k
(:func:`advgeom.geometry.tilting.local_tilting`; for a linear model it is the tilting angle).
A ReLU MLP (``advgeom.models.ReLUMLP``, no batch-norm, one logit) is trained full-batch with Adam
on a digit pair for several weight decays (L2 penalty ``wd / 2 * sum ||W||^2`` on the weights), and
the minimal l2 adversarial distance is measured by :func:`advgeom.attacks.minimal_distance`
(early-stopped PGD in a large ball, then a line search; an upper bound, no pixel box as for the
linear SVMs). The expectation carried over from the linear case: more weight decay, smaller local
angle, larger distance.

The paper scale runs on the article's MNIST 2 vs 3 (``--data-dir DIR`` holding the MNIST
files); the smoke and default scales on the bundled ``digits`` (8x8).
Run: ``advgeom run tilting.deep --scale paper --data-dir DIR``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from advgeom.attacks import minimal_distance
from advgeom.devices import single_thread_on_cpu
from advgeom.errors import InputError, check_int, check_positive
from advgeom.experiments.tanay2018 import _common as c
from advgeom.experiments.tanay2018._figures import deep_figure
from advgeom.geometry.tilting import class_centroids, local_tilting
from advgeom.models import ReLUMLP
from advgeom.models.mlp import initialise
from advgeom.runs import rules
from advgeom.runs.claims import claim
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register

RHO = 0.8  # |Spearman's rho| between weight decay and a mean needed for a trend


@dataclass(frozen=True)
class Config:
    """Our settings (the article has no deep-network experiment): MLP 2 x 100 on the article's
    data, MNIST 2 vs 3."""

    dataset: Literal["digits", "mnist", "fashion-mnist"] = "mnist"
    pair: tuple[int, ...] = (2, 3)
    hidden: int = 100
    depth: int = 2
    weight_decays: tuple[float, ...] = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    steps: int = 2000  # full-batch Adam steps
    lr: float = 1e-3
    seeds: int = 2
    attack_points: int = 200  # test points attacked (all when fewer)
    attack_steps: int = 100
    max_eps: float = 10.0  # l2 radius searched (image norms: ~3-4 on digits, ~9 on MNIST)
    max_error: float = 0.25  # test error above this: a collapsed model, left out of the claims

    def __post_init__(self) -> None:
        c.check_pair(self.pair)
        for name in ("hidden", "depth", "steps", "seeds", "attack_points", "attack_steps"):
            check_int(name, getattr(self, name), minimum=1)
        if not self.weight_decays or any(w < 0 or not math.isfinite(w) for w in self.weight_decays):
            raise InputError(
                f"weight_decays must be finite numbers >= 0 (got {self.weight_decays})"
            )
        for name in ("lr", "max_eps", "max_error"):
            check_positive(name, getattr(self, name))


@contextlib.contextmanager
def _flush_denormal() -> Iterator[None]:
    """Treat denormal floats as 0 while training (then back to PyTorch's default, off).

    Weight decay drives many weights towards 0, through the denormal range, where CPU
    arithmetic is tens of times slower: training was 4-5x slower without this.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def train(
    cfg: Config, x: torch.Tensor, y: torch.Tensor, wd: float, gen: torch.Generator
) -> ReLUMLP:
    """Full-batch Adam on sigmoid cross-entropy + wd/2 * sum of squared weights (not biases)."""
    model = ReLUMLP(in_features=x.shape[1], hidden=cfg.hidden, depth=cfg.depth, batch_norm=False)
    initialise(model, gen)  # PyTorch's default init, drawn from the run's generator
    model.to(x.device)
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    target = y.to(x.dtype)
    with single_thread_on_cpu(x.device), _flush_denormal():
        for _ in range(cfg.steps):
            loss = F.binary_cross_entropy_with_logits(model(x)[:, 0], target)
            if wd:
                loss = loss + wd / 2 * sum(w.square().sum() for w in weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def _negative_margin(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """-(2y - 1) * logit per example: rises as the example moves towards the other class."""
    return -(2 * y.to(out.dtype) - 1) * out[:, 0]


def measure(cfg: Config, ctx: RunContext, wd: float, seed: int) -> dict:
    """Train one model; its errors, local tilting angles and measured adversarial distances."""
    pair = (int(cfg.pair[0]), int(cfg.pair[1]))
    x, y, _ = c.load_pair(cfg.dataset, pair, ctx.data_dir, "train", ctx.device)
    xt, yt, _ = c.load_pair(cfg.dataset, pair, ctx.data_dir, "test", ctx.device)
    x, xt = x.float(), xt.float()
    model = train(cfg, x, y, wd, ctx.generator("init", wd, seed))
    with torch.no_grad():
        errors = [
            float(((model(a)[:, 0] > 0) != (b == 1)).float().mean()) for a, b in ((x, y), (xt, yt))
        ]
    xa, ya = xt[: cfg.attack_points], yt[: cfg.attack_points]
    local = local_tilting(model, xa, ya, centroids=class_centroids(x, y, num_classes=2))
    with single_thread_on_cpu(ctx.device):
        # The attack ascends the negative logit margin: unlike the saturating cross-entropy its
        # gradient never underflows on confidently classified points.
        found = minimal_distance(
            model,
            xa,
            ya,
            max_eps=cfg.max_eps,
            norm="l2",
            steps=cfg.attack_steps,
            loss=_negative_margin,
        )
    dist = found.distance.double()
    ok = torch.isfinite(dist)
    correct = local.margin > 0
    angle = local.angle[correct & torch.isfinite(local.angle)]
    return {
        "weight_decay": wd,
        "seed": seed,
        "train_error": errors[0],
        "test_error": errors[1],
        "angle_mean": float(angle.mean()) if len(angle) else None,
        "angle_median": float(angle.median()) if len(angle) else None,
        "first_order_distance": float(local.distance[correct].mean()) if correct.any() else None,
        "distance_mean": float(dist[ok].mean()) if ok.any() else None,
        "distance_found": float(ok.double().mean()),
        "angles": local.angle.tolist(),
        "distances": dist.tolist(),
    }


def run(cfg: Config, ctx: RunContext) -> dict:
    """One point per (weight decay, seed)."""
    models = ctx.points([
        (f"wd={wd:g} seed={s}", lambda wd=wd, s=s: measure(cfg, ctx, wd, s))
        for wd in cfg.weight_decays
        for s in range(cfg.seeds)
    ])
    metrics = {"dataset": cfg.dataset, "pair": list(cfg.pair), "models": models}
    return {"claims": claims(cfg, metrics, ctx.scale), "metrics": metrics}


def _per_wd(models: list[dict], key: str) -> dict[float, float]:
    out: dict[float, list] = {}
    for r in models:
        out.setdefault(r["weight_decay"], []).append(r[key])
    return {wd: float(np.mean(v)) for wd, v in sorted(out.items())}


def _rho(per_wd: dict[str, float]) -> float:
    """Spearman's rho between the weight decays (the keys, as text) and the values."""
    return c.spearman([float(k) for k in per_wd], list(per_wd.values()))


def trend_rule(falls: bool, what: str) -> rules.Rule:
    """Spearman's rho(weight decay, value) <= -0.8 (``falls``) or >= 0.8, from the measured
    per-weight-decay means."""
    up = {"0": 1.0, "0.001": 2.0, "0.01": 3.0}
    down = {"0": 3.0, "0.001": 2.0, "0.01": 1.0}
    return rules.predicate(
        (lambda m: _rho(m) <= -RHO) if falls else (lambda m: _rho(m) >= RHO),
        f"Spearman's rho between the weight decay and {what} is "
        f"{'<= -' if falls else '>= '}{RHO:g}",
        fails_on=up if falls else down,
        holds_on=down if falls else up,
    )


def claims(cfg: Config, m: dict, scale: str) -> list[dict]:
    """Angle falls and distance grows with weight decay; the angle tracks the distance."""
    good = [
        r
        for r in m["models"]
        if r["test_error"] <= cfg.max_error
        and r["angle_mean"] is not None
        and r["distance_mean"] is not None
    ]
    left_out = sorted({r["weight_decay"] for r in m["models"]} - {r["weight_decay"] for r in good})
    angle, dist = _per_wd(good, "angle_mean"), _per_wd(good, "distance_mean")
    errors = _per_wd(good, "test_error")
    enough = len(angle) >= 3 and scale != "smoke"
    angle = {f"{k:g}": v for k, v in angle.items()}
    dist = {f"{k:g}": v for k, v in dist.items()}
    rho_ad = c.spearman([r["angle_mean"] for r in good], [r["distance_mean"] for r in good])
    setting = (
        f"ReLU MLP {cfg.depth} x {cfg.hidden} on {m['dataset']} {m['pair'][0]} vs "
        f"{m['pair'][1]}, {cfg.steps} full-batch Adam steps, {cfg.seeds} seed(s) per "
        f"weight decay; minimal l2 distance by early-stopped PGD ({cfg.attack_steps} "
        f"steps, radius {cfg.max_eps}) + line search, an upper bound; test error per "
        f"weight decay { ({k: round(v, 3) for k, v in errors.items()}) }"
        + (f"; left out (test error > {cfg.max_error}): {left_out}" if left_out else "")
    )
    why = (
        ""
        if enough
        else "; not measurable here (smoke scale or < 3 usable weight decays): the default "
        "scale (6 weight decays) can show it"
    )
    return [
        claim(
            "local_angle_falls_with_weight_decay",
            "Beyond the article: the local tilting angle of a ReLU network falls as weight "
            "decay grows, as the tilting angle of a linear SVM falls with L2 regularisation.",
            paper_value="falls (linear case)",
            measured=angle,
            rule=trend_rule(True, "the mean local angle"),
            kind="beyond",
            measurable=enough,
            note=f"mean local angle (deg) over correctly classified test points per weight "
            f"decay (rho = {_rho(angle):.2f}); {setting}{why}",
        ),
        claim(
            "distance_grows_with_weight_decay",
            "Beyond the article: the measured adversarial distance grows with weight decay.",
            paper_value="grows (linear case)",
            measured=dist,
            rule=trend_rule(False, "the mean distance"),
            kind="beyond",
            measurable=enough,
            note=f"mean minimal l2 distance (0 for clean errors) per weight decay (rho = "
            f"{_rho(dist):.2f}){why}",
        ),
        claim(
            "local_angle_tracks_distance",
            "Beyond the article: across models, a larger local tilting angle goes with a "
            "smaller adversarial distance.",
            paper_value="negative association",
            measured=rho_ad,
            rule=rules.at_most(-0.7, what="Spearman's rho(angle, distance)"),
            kind="beyond",
            measurable=enough,
            note=f"Spearman's rho between mean local angle and mean measured distance over the "
            f"{len(good)} usable models{why}",
        ),
    ]


def plot(results: dict) -> dict:
    return {"deep": deep_figure(results["metrics"])}


EXPERIMENT = register(
    Experiment(
        id="tilting.deep",
        paper="tanay",
        title="Beyond the article: local tilting angle of a ReLU MLP vs weight decay, beside its "
        "measured adversarial distance",
        config=Config,
        run=run,
        plot=plot,
        scales={
            "default": {"dataset": "digits"},
            "smoke": {
                "dataset": "digits",
                "hidden": 32,
                "weight_decays": (0.0, 1e-2),
                "steps": 60,
                "seeds": 1,
                "attack_points": 20,
                "attack_steps": 20,
            }
        },
    )
)
