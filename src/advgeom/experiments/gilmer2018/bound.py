"""``spheres.bound``: trained networks sit near the optimal d(E) for their mu(E) (Fig. 4).

Paper: Gilmer et al., "The Relationship Between High-Dimensional Geometry and Adversarial Examples"
(Sec. 5, Fig. 4). Three architectures at n = 500 (ReLU-h1000-d2 with batch-norm, Quad-h1000,
ReLU-h2000-d8) are trained on N in {1e3, 5e3, 1e4, 1e5, inf} points, 4 seeds each (60 models).
At snapshots during training the error rate mu(E) on the inner sphere is estimated from 10^6
points and the average distance to the nearest error d(E) by the manifold attack from 100 points
(1000 steps of size .001). Every snapshot lands close to the optimum of Theorem 5.1 (the largest
d(E) a set of measure mu can have): the black curve Phi^-1(1 - mu)/sqrt(n), and the blue one, the
average distance to an actual spherical cap of measure mu over 10^6 sampled points.

Here each architecture's seeds x N grid trains as one :class:`~advgeom.models.ensemble.Ensemble`
(members identical to models trained alone), and a snapshot measures all members at once. A
snapshot with no error in M samples is kept, as the 95% upper bound mu < 3/M (drawn hollow), not
dropped or counted as 0. The paper does not give the training length; ``steps`` sets it.

The claims use the paper's attack step (a PGD step along the normalised gradient, then
re-normalisation: ``tangent=False`` in :func:`~advgeom.attacks.manifold.manifold_pgd`); our tangent
step is run beside it from the same points and reported next to it (``report_tangent``). d(E) is
the mean over the points where the attack found an error; a snapshot enters the comparison with
the optimum only when that share is at least ``min_found`` (a mean over a few points is not the
paper's d(E)).

Run: ``advgeom run spheres.bound [--scale smoke|default|paper]``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from advgeom.data.spheres import sample_sphere
from advgeom.devices import PRECISIONS
from advgeom.errors import InputError, check_fields, check_positive_fields
from advgeom.experiments.gilmer2018 import bound_report
from advgeom.experiments.gilmer2018._attack import STEPS, d_E_and_found
from advgeom.metrics.error_rate import sphere_error_rates
from advgeom.models.ensemble import Ensemble
from advgeom.models.mlp import QuadraticNet, ReLUMLP, initialise
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register
from advgeom.theory import caps
from advgeom.train.spheres import SphereTraining, train_ensemble_on_spheres

ARCHITECTURE = re.compile(r"^(relu-h(?P<h>\d+)-d(?P<d>\d+)|quad-h(?P<q>\d+))$")


@dataclass(frozen=True)
class Config:
    """Paper settings (Sec. 5, Fig. 4); ``None`` in train_sizes is N = infinity (online)."""

    architectures: tuple[str, ...] = ("relu-h1000-d2", "quad-h1000", "relu-h2000-d8")
    train_sizes: tuple[int | None, ...] = (1000, 5000, 10000, 100000, None)
    seeds: int = 4
    n: int = 500
    R: float = 1.3
    steps: int = 100_000  # not stated in the paper
    snapshots: int = 20  # spaced geometrically from steps/1000 to steps
    batch_size: int = 50
    lr: float = 1e-4
    attack_points: int = 100
    attack_steps: int = 1000
    step_size: float = 0.001  # Fig. 4 (App. B used .01)
    report_tangent: bool = True  # also run our tangent step, reported beside the paper's
    min_found: float = 0.8  # a snapshot's d(E) counts when errors were found from this share
    mc_samples: int = 1_000_000
    chunk: int = 100_000
    precision: str = "fp32"  # of the Monte Carlo first pass; decisions are fp32's either way
    curve_samples: int = 1_000_000  # points for the blue curve (average distance to real caps)
    curve_points: int = 40
    min_errors: int = 10  # a snapshot's mu(E) counts as measured from this many errors
    tolerance: float = 0.25  # accepted relative gap between d(E) and the optimum (median)

    def __post_init__(self) -> None:
        for arch in self.architectures:
            parse_architecture(arch)
        if not self.architectures or len(set(self.architectures)) != len(self.architectures):
            raise InputError(f"architectures must be distinct and not empty "
                             f"(got {self.architectures})")
        if not self.train_sizes or any(N is not None and N < 1 for N in self.train_sizes):
            raise InputError(f"train_sizes must be sizes >= 1 or None for online training "
                             f"(got {self.train_sizes})")
        check_fields(self, ("seeds", "n", "steps", "snapshots", "batch_size", "attack_points",
                            "attack_steps", "mc_samples", "chunk", "curve_samples", "curve_points",
                            "min_errors"))
        if not 1 < self.R < math.inf:
            raise InputError(f"R must be a finite number > 1 (got {self.R})")
        check_positive_fields(self, ("lr", "step_size", "tolerance"))
        if not 0 < self.min_found <= 1:
            raise InputError(f"min_found must be in (0, 1] (got {self.min_found})")
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)} "
                             f"(got {self.precision!r})")


def parse_architecture(name: str) -> tuple[str, int, int]:
    """``relu-h1000-d2`` -> ("relu", 1000, 2); ``quad-h1000`` -> ("quad", 1000, 1)."""
    match = ARCHITECTURE.match(name) if isinstance(name, str) else None
    if match is None:
        raise InputError(f"architecture {name!r} is not understood: write relu-h<width>-d<depth> "
                         "(batch-norm ReLU net) or quad-h<width> (quadratic net)")
    if match["q"] is not None:
        return "quad", int(match["q"]), 1
    return "relu", int(match["h"]), int(match["d"])


def build(name: str, n: int) -> nn.Module:
    kind, width, depth = parse_architecture(name)
    if kind == "quad":
        return QuadraticNet(in_features=n, hidden=width)
    return ReLUMLP(in_features=n, hidden=width, depth=depth)


def snapshot_steps(steps: int, count: int) -> list[int]:
    """``count`` steps spaced geometrically from steps/1000 (at least 1) to ``steps``."""
    grid = np.geomspace(max(1, steps / 1000), steps, count)
    return sorted({int(round(s)) for s in grid})


def members(cfg: Config) -> list[dict]:
    """The grid one architecture trains: every N for every seed."""
    return [{"N": N, "seed": seed} for N in cfg.train_sizes for seed in range(cfg.seeds)]


def train_architecture(cfg: Config, ctx: RunContext, arch: str) -> dict:
    """Train the seeds x N grid of ``arch`` as one ensemble, measuring every member at snapshots."""
    grid = members(cfg)
    gens = [ctx.generator("train", arch, m["N"], m["seed"]) for m in grid]
    models = [initialise(build(arch, cfg.n), g) for g in gens]
    ensemble = Ensemble(models).to(ctx.device)
    attack_x = sample_sphere(cfg.attack_points, cfg.n, generator=ctx.generator("attack"))
    traces: list[list[dict]] = [[] for _ in grid]

    def measure(step: int, e: Ensemble) -> None:
        if step == 0:  # the untrained grid: not a point of Fig. 4
            return
        for trace, point in zip(traces, snapshot(cfg, ctx, e, step, arch, attack_x), strict=True):
            trace.append(point)

    settings = [SphereTraining(n=cfg.n, R=cfg.R, N=m["N"], steps=cfg.steps,
                               batch_size=cfg.batch_size, lr=cfg.lr) for m in grid]
    train_ensemble_on_spheres(ensemble, settings, generators=gens, on_step=measure,
                              at=snapshot_steps(cfg.steps, cfg.snapshots),
                              description=f"{arch}: {len(grid)} models")
    return {"architecture": arch, "models": [m | {"trace": t}
                                             for m, t in zip(grid, traces, strict=True)]}


def snapshot(cfg: Config, ctx: RunContext, ensemble: Ensemble, step: int, arch: str,
             attack_x: torch.Tensor) -> list[dict]:
    """mu(E) and d(E) (the paper's step, and the tangent one beside it) of every member at this
    step, each on the same points."""
    rates = sphere_error_rates(ensemble, cfg.n, samples=cfg.mc_samples, chunk=cfg.chunk,
                               precision=cfg.precision, device=ctx.device,
                               generator=ctx.generator("mc", arch, step, device=ctx.device))
    # All members attacked in one batch (member i owns rows [i P, (i + 1) P)); "worst_case" keeps
    # the batch whole (no compaction) and still records each row's first error.
    x = attack_x.to(ctx.device).repeat(ensemble.size, 1)
    out = [{"step": step, "mu_E": rate["mu"], "errors": rate["errors"],
            "samples": rate["samples"], "bound": rate["bound"]} for rate in rates]
    for suffix, tangent in STEPS.items():  # "d_E", "found": the paper's step
        pairs = d_E_and_found(ensemble.as_single_model(), x, steps=cfg.attack_steps,
                              step_size=cfg.step_size, tangent=tangent, mode="worst_case",
                              groups=ensemble.size) \
            if cfg.report_tangent or not tangent else [(None, None)] * ensemble.size
        for point, (d, f) in zip(out, pairs, strict=True):
            point |= {"d_E" + suffix: d, "found" + suffix: f}
    return out


def optimal_curves(cfg: Config, ctx: RunContext) -> dict:
    """Fig. 4's two optimal curves on a grid of mu: Theorem 5.1's Gaussian form (black) and the
    average distance to actual caps over sampled points (blue)."""
    mu = np.geomspace(1e-7, 0.45, cfg.curve_points)
    heights = torch.tensor([caps.cap_height(float(m), cfg.n) for m in mu], dtype=torch.float64)
    gen = ctx.generator("curve")
    total = torch.zeros(len(mu), dtype=torch.float64)
    for start in range(0, cfg.curve_samples, cfg.chunk):
        x = sample_sphere(min(cfg.chunk, cfg.curve_samples - start), cfg.n, generator=gen)
        total += caps.distances_to_caps_rn(x, heights).sum(dim=0)
    return {"mu": mu.tolist(), "gaussian": [caps.gaussian_bound(float(m), cfg.n) for m in mu],
            "sampled_caps": (total / cfg.curve_samples).tolist(), "samples": cfg.curve_samples}


def run(cfg: Config, ctx: RunContext) -> dict:
    """One point per architecture (its whole grid), then the optimal curves."""
    *per_arch, curves = ctx.points(
        [(f"arch={arch}", lambda arch=arch: train_architecture(cfg, ctx, arch))
         for arch in cfg.architectures]
        + [("curves", lambda: optimal_curves(cfg, ctx))]
    )
    metrics = {"n": cfg.n, "architectures": per_arch, "curves": curves}
    bound_report.add_ratios(metrics, cfg.n)
    return {"claims": bound_report.claims(cfg, metrics, measurable=ctx.scale != "smoke"),
            "metrics": metrics}


EXPERIMENT = register(
    Experiment(
        id="spheres.bound",
        paper="gilmer",
        title="Sec. 5 / Fig. 4: d(E) vs mu(E) of 3 architectures x 5 N x 4 seeds against the "
        "optimal bound",
        config=Config,
        run=run,
        plot=bound_report.plot,
        scales={
            "smoke": {"architectures": ("relu-h16-d2", "quad-h16"), "train_sizes": (100, None),
                      "seeds": 1, "n": 20, "steps": 60, "snapshots": 3, "attack_points": 8,
                      "attack_steps": 20, "step_size": 0.02, "mc_samples": 2_000,
                      "chunk": 1_000, "curve_samples": 2_000, "curve_points": 10},
            # A few minutes on a 2-core CPU: widths 100 (ReLU d2, quadratic) and 100 (ReLU d8),
            # 2 seeds, 2,000 steps at lr 1e-3, 50 attack points x 200 steps of .005,
            # 20,000 Monte Carlo points per snapshot (bound 1.5e-4).
            "default": {"architectures": ("relu-h100-d2", "quad-h100", "relu-h100-d8"),
                        "seeds": 2, "steps": 2_000, "snapshots": 8, "lr": 1e-3,
                        "attack_points": 50, "attack_steps": 200, "step_size": 0.005,
                        "mc_samples": 20_000, "chunk": 20_000, "curve_samples": 100_000,
                        "curve_points": 30},
        },
    )
)
