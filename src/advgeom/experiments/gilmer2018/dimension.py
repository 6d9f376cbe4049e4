"""``spheres.dimension``: the distance to the nearest error d(E) during training, across n.

Paper: Gilmer et al., "The Relationship Between High-Dimensional Geometry and Adversarial Examples"
(Sec. 3, App. A and App. B, Fig. A.1/B.2/B.3). ReLU-h1000-d2 with batch-norm is trained online
(a fresh batch every step: Adam 1e-4, batch 50, sigmoid cross-entropy) for n in {10, 20, ..., 100,
500}, and d(E) is estimated during training by the manifold attack (1000 steps of size .01,
stopped at the first error) from 100 points of the inner sphere. For n < 100 the attack
eventually finds no errors; at n = 100 d(E) plateaus near .7, at n = 500 near .18 (.17 in the
text of App. B).

Beside d(E) we estimate mu(E) on the inner sphere by Monte Carlo at each snapshot; zero observed
errors are reported as the 95% upper bound 3/M (App. B: "all models quickly become so accurate that
test error cannot be estimated statistically").

Attack step: the claims use the paper's step (a PGD step along the normalised loss gradient, then
re-normalisation; :func:`~advgeom.attacks.manifold.manifold_pgd` with ``tangent=False``). On these
data the loss gradient is almost radial and the re-normalisation undoes a radial step, so the
literal step moves along the sphere by less than its size; our tangent variant (``tangent=True``)
is run beside it from the same points and reported next to it (``report_tangent``), without a
verdict of its own.

d(E) is averaged over the starting points where the attack found an error; the share of such
points (``found``) is reported with it, and a d(E) is compared with the paper's only when that
share is at least ``min_found`` (a mean over a few points is not the paper's d(E)).

The n = 500 net is also checked as Sec. 3, App. A and Fig. B.3 describe it (:mod:`._final_checks`):
at the end of training its errors among 10^7 uniform points of each sphere (zero errors reported
as a 95% upper bound on mu(E)) and the distribution of d(x, E) over 1000 attack points (Fig. A.1);
at every snapshot, for every n, the cross-entropy loss on fresh points (Fig. B.3). Beside the
sweep, the same net is trained on 100 points of the n = 2 spheres (Sec. 3's low-dimensional
contrast: no errors).

Run: ``advgeom run spheres.dimension [--scale smoke|default|paper]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from advgeom.data.spheres import sample_sphere
from advgeom.errors import InputError, check_fields, check_positive_fields
from advgeom.experiments.gilmer2018 import _final_checks as checks
from advgeom.experiments.gilmer2018 import _final_figures as final_figures
from advgeom.experiments.gilmer2018._attack import STEPS, d_E_and_found
from advgeom.experiments.gilmer2018._final_checks import (
    PAPER_ARCH,
    PAPER_STEPS,
    PLATEAU_MIN_STEPS,
    SEC3_N,
    late_snapshots,
    out_of_sample_loss,
)
from advgeom.metrics.error_rate import describe_rate, sphere_error_rate
from advgeom.models.mlp import ReLUMLP, initialise
from advgeom.plotting import new_figure
from advgeom.runs import rules
from advgeom.runs.claims import claim
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register
from advgeom.train.spheres import SphereTraining, train_on_spheres

PAPER_PLATEAU = {100: 0.7, 500: 0.18}  # App. B, Fig. B.2 (Fig. B.3 / text: .17 at n = 500)
SMALL_N = 100  # below this the paper's attack stops finding errors


@dataclass(frozen=True)
class Config:
    """Paper settings (Sec. 3, App. B): ReLU-h1000-d2, 10^6 online steps, 100 attack points."""

    dims: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 500)
    hidden: int = 1000
    depth: int = 2
    R: float = 1.3
    steps: int = PAPER_STEPS  # Sec. 3: one million Adam steps (50 million fresh points)
    snapshots: int = 20
    batch_size: int = 50
    lr: float = 1e-4
    attack_points: int = 100  # inner-sphere starting points, fixed for all snapshots of one n
    attack_steps: int = 1000
    step_size: float = 0.01  # Sec. 2.1 and App. B (Fig. 4 used .001)
    report_tangent: bool = True  # also run our tangent step, reported beside the paper's
    min_found: float = 0.8  # a d(E) counts when the attack found errors from this share of points
    mc_samples: int = 1_000_000  # inner-sphere points for mu(E) per snapshot (as for Fig. 4)
    chunk: int = 100_000
    plateau_tol: float = 0.3  # relative gap accepted between our plateau and the paper's
    late: float = 1 / 3  # the plateau is the mean d(E) over this last share of the snapshots
    loss_samples: int = 100_000  # fresh points for the out-of-sample loss per snapshot (Fig. B.3)
    final_samples: int = 10_000_000  # Sec. 3: points of each sphere the final n = 500 net labels
    final_attack_points: int = 1000  # inner points for the d(x, E) histogram (App. A; not stated)
    cv_max: float = 1 / 3  # App. A: "tightly concentrated" read as std / mean of d(x, E) <= this
    contrast_n: int = 2  # Sec. 3: "the same model trained on 100 samples with n = 2"
    contrast_N: int = 100
    contrast_steps: int = PAPER_STEPS  # not stated for n = 2: the paper's training length
    contrast_samples: int = 10_000_000  # points of each circle classified for the n = 2 net

    def __post_init__(self) -> None:
        if not self.dims or min(self.dims) < 2 or len(set(self.dims)) != len(self.dims):
            raise InputError(f"dims must be distinct integers >= 2 (got {self.dims})")
        check_fields(self, ("hidden", "depth", "steps", "snapshots", "batch_size", "attack_points",
                            "attack_steps", "mc_samples", "chunk", "loss_samples", "final_samples",
                            "final_attack_points", "contrast_N", "contrast_steps",
                            "contrast_samples"))
        check_fields(self, ("contrast_n",), minimum=2)
        if not 1 < self.R < math.inf:
            raise InputError(f"R must be a finite number > 1 (got {self.R})")
        check_positive_fields(self, ("lr", "step_size", "plateau_tol", "cv_max"))
        if not 0 < self.late <= 1:
            raise InputError(f"late must be in (0, 1] (got {self.late})")
        if not 0 < self.min_found <= 1:
            raise InputError(f"min_found must be in (0, 1] (got {self.min_found})")


def snapshot(model: ReLUMLP, step: int, cfg: Config, attack_x: torch.Tensor,
             mc_gen: torch.Generator) -> dict:
    """mu(E) by Monte Carlo and d(E) by the manifold attack (the paper's step, and the tangent
    one beside it), all on the inner sphere; the loss on fresh points of both spheres (drawn from
    ``mc_gen`` after the Monte Carlo points)."""
    n = attack_x.shape[1]
    mu = sphere_error_rate(model, n, radius=1.0, label=0, samples=cfg.mc_samples,
                           chunk=cfg.chunk, generator=mc_gen, device=attack_x.device)
    loss = out_of_sample_loss(model, n, R=cfg.R, samples=cfg.loss_samples, chunk=cfg.chunk,
                              generator=mc_gen, device=attack_x.device)
    out = {"step": step, "mu_E": mu["mu"], "mu_E_errors": mu["errors"],
           "mu_E_samples": mu["samples"], "mu_E_bound": mu["bound"], "loss": loss}
    for suffix, tangent in STEPS.items():  # "d_E", "found": the paper's step
        ((d, f),) = d_E_and_found(model, attack_x, steps=cfg.attack_steps,
                                  step_size=cfg.step_size, tangent=tangent) \
            if cfg.report_tangent or not tangent else [(None, None)]
        out |= {"d_E" + suffix: d, "found" + suffix: f}
    return out


def train_and_trace(cfg: Config, ctx: RunContext, n: int) -> dict:
    """Train one ReLU MLP online at dimension ``n``; measure mu(E) and d(E) at snapshots."""
    gen = ctx.generator("train", n)
    model = ReLUMLP(in_features=n, hidden=cfg.hidden, depth=cfg.depth)
    initialise(model, gen)  # results follow --seed alone, not torch's global generator
    model.to(ctx.device)
    attack_x = sample_sphere(cfg.attack_points, n, generator=ctx.generator("attack", n))
    attack_x = attack_x.to(ctx.device)
    mc_gen = ctx.generator("mc", n)
    trace: list[dict] = []
    settings = SphereTraining(n=n, R=cfg.R, N=None, steps=cfg.steps, batch_size=cfg.batch_size,
                              lr=cfg.lr)
    train_on_spheres(model, settings, generator=gen, every=max(1, cfg.steps // cfg.snapshots),
                     on_step=lambda step, m: trace.append(snapshot(m, step, cfg, attack_x, mc_gen)),
                     description=f"ReLU-h{cfg.hidden}-d{cfg.depth}, n = {n}")
    out = {"n": n, "trace": trace}
    if n == SEC3_N:  # Sec. 3 and App. A: the final net's sampled errors and d(x, E)
        model.eval()
        out["final"] = checks.measure_final(model, cfg, ctx, n)
    return out


def run(cfg: Config, ctx: RunContext) -> dict:
    """One point per dimension n (``--resume`` skips the dimensions already trained), and one
    for the n = 2 contrast."""
    *per_n, contrast = ctx.points(
        [(f"n={n}", lambda n=n: train_and_trace(cfg, ctx, n)) for n in cfg.dims]
        + [(f"contrast n={cfg.contrast_n} N={cfg.contrast_N}",
            lambda: checks.measure_contrast(cfg, ctx))]
    )
    metrics = {"dims": list(cfg.dims), "runs": per_n, "contrast": contrast}
    return {"claims": claims(cfg, metrics, measurable=ctx.scale != "smoke"), "metrics": metrics}


def late_d_E(trace: list[dict], late: float, key: str = "d_E") -> float | None:
    """Mean d(E) (``key``) over the last ``late`` share of the snapshots where errors were found."""
    found = [t[key] for t in late_snapshots(trace, late) if t.get(key) is not None]
    return float(np.mean(found)) if found else None


def late_found(trace: list[dict], late: float, key: str = "found") -> float | None:
    """Mean found share (``key``) over the last ``late`` share of the snapshots, zeros included."""
    shares = [t[key] for t in late_snapshots(trace, late) if t.get(key) is not None]
    return float(np.mean(shares)) if shares else None


def _scale_note(cfg: Config, measurable: bool) -> str:
    if not measurable:
        return "smoke scale: the pipeline runs, the effects need the default or paper scale"
    return (f"ReLU-h{cfg.hidden}-d{cfg.depth}, {cfg.steps} online steps at lr {cfg.lr}, "
            f"{cfg.attack_points} attack points x {cfg.attack_steps} steps of {cfg.step_size} "
            f"(the paper's step), mu(E) from {cfg.mc_samples} points (the paper: ReLU-h1000-d2, "
            "10^6 steps at 1e-4, 100 x 1000 steps of .01)")


def _plateau_rule(paper: float, cfg: Config) -> rules.Rule:
    def test(m: dict) -> bool:
        return (m["found"] is not None and m["found"] >= cfg.min_found and m["d_E"] is not None
                and abs(m["d_E"] - paper) <= cfg.plateau_tol * paper)

    return rules.predicate(
        test, f"d(E) is within {cfg.plateau_tol:.0%} of {paper:g} and the attack found an error "
        f"from >= {cfg.min_found:.0%} of the starting points",
        fails_on={"d_E": paper, "found": 0.0}, holds_on={"d_E": paper, "found": 1.0})


def _plateau_claim(cfg: Config, runs: dict, n: int, note: str, measurable: bool,
                   last_mu: dict) -> dict:
    paper = PAPER_PLATEAU[n]
    trace = runs[n]["trace"] if n in runs else None
    value = None if trace is None else {"d_E": late_d_E(trace, cfg.late),
                                        "found": late_found(trace, cfg.late)}
    long_enough = (cfg.hidden, cfg.depth) == PAPER_ARCH and cfg.steps >= PLATEAU_MIN_STEPS
    why = ("" if long_enough else "not compared: needs ReLU-h1000-d2 trained >= "
           f"{PLATEAU_MIN_STEPS} steps (a smaller or shorter net plateaus elsewhere); ")
    if trace is None:
        why = f"n = {n} not in dims; "
    shown = [] if trace is None else [f"last {last_mu[n]}", _tangent(trace, cfg)]
    if value is not None and value["d_E"] is None:
        shown.insert(0, "no error found late in training")
    return claim(
        f"plateau_n{n}",
        f"At n = {n}, d(E) plateaus near {paper} during training (App. B, Fig. B.2"
        f"{', B.3: .17' if n == 500 else ''}).",
        paper_value=paper, measured=value, rule=_plateau_rule(paper, cfg),
        measurable=measurable and long_enough,
        note=f"d_E: mean d(E) over the last {cfg.late:.0%} of snapshots where errors were found, "
        "each the mean distance to the first error over the points where one was found; found: "
        f"the mean share of such points over those snapshots (below {cfg.min_found:.0%} the mean "
        f"is over too few points to be the paper's d(E)); {'; '.join(shown)}; {why}{note}",
    )


def _tangent(trace: list[dict], cfg: Config) -> str:
    d, f = late_d_E(trace, cfg.late, "d_E_tangent"), late_found(trace, cfg.late, "found_tangent")
    if f is None:
        return "tangent step not run"
    return f"tangent step: d(E) {'none' if d is None else f'{d:.3g}'}, found {f:.2f}"


def claims(cfg: Config, m: dict, *, measurable: bool = True) -> list[dict]:
    """No errors found for n < 100; plateaus at n = 100 and 500; d(E) falls with n."""
    runs = {r["n"]: r for r in m["runs"]}
    note = _scale_note(cfg, measurable)
    small = {n: r["trace"][-1]["found"] for n, r in runs.items() if n < SMALL_N}
    small_t = {n: r["trace"][-1].get("found_tangent") for n, r in runs.items() if n < SMALL_N}
    last_mu = {n: describe_rate(_rate(r["trace"][-1])) for n, r in runs.items()}
    out = [claim(
        "no_errors_small_n",
        "For n < 100 the models reach a point where the manifold attack finds no errors (App. B).",
        paper_value=0.0,
        measured={str(n): f for n, f in small.items()} or None,
        rule=rules.predicate(lambda d: all(f == 0 for f in d.values()),
                             "the paper's-step attack found no error at the last snapshot for "
                             "every n < 100", fails_on={"10": 0.5}, holds_on={"10": 0.0}),
        measurable=measurable,
        note="a claim about the attack failing, not about errors being absent (App. B: \"a "
        "failed attack does not imply that no errors exist\"), so a weaker attack passes it more "
        "easily: the verdict uses the paper's step only. Measured: share of attack points with an "
        "error found at the last snapshot, per n; the tangent step found "
        f"{', '.join(f'n = {n}: {_share(f)}' for n, f in small_t.items()) or 'nothing run'}; "
        f"last mu(E): {', '.join(f'n = {n}: {t}' for n, t in last_mu.items() if n < SMALL_N)}; "
        f"{'no n < 100 in dims; ' if not small else ''}{_short(cfg)}{note}",
    )]
    out += [_plateau_claim(cfg, runs, n, note, measurable, last_mu) for n in sorted(PAPER_PLATEAU)]
    late = {n: (late_d_E(r["trace"], cfg.late), late_found(r["trace"], cfg.late))
            for n, r in sorted(runs.items())}
    seen = {str(n): d for n, (d, f) in late.items() if d is not None and f >= cfg.min_found}
    left = [f"n = {n} (found {f:.2f})" for n, (d, f) in late.items()
            if d is not None and str(n) not in seen]
    out.append(claim(
        "d_E_decreases_with_n",
        "Among the dimensions where errors are found, d(E) decreases as n grows (App. B: .7 at "
        "n = 100, .18 at n = 500).",
        paper_value="decreasing",
        measured=seen if len(seen) >= 2 else None,
        rule=rules.predicate(_falls, "each d(E) (in order of n) is at most 10% above the one "
                             "before and the last is below the first",
                             fails_on={"100": 0.2, "500": 0.7}, holds_on={"100": 0.7, "500": 0.18}),
        measurable=measurable,
        note="late-training d(E) per n (paper's step; mean over the last snapshots with errors), "
        f"over the dims where the attack found errors from >= {cfg.min_found:.0%} of the points"
        f"{'; left out: ' + ', '.join(left) if left else ''}"
        f"{'; fewer than 2 such dims' if len(seen) < 2 else ''}; {note}",
    ))
    return out + checks.claims(cfg, m, note=note, measurable=measurable)


def _falls(d: dict) -> bool:
    values = [d[k] for k in sorted(d, key=int)]
    return all(b <= a * 1.1 for a, b in zip(values, values[1:], strict=False)) \
        and values[-1] < values[0]


def _share(f: float | None) -> str:
    return "not run" if f is None else f"{f:.2f}"


def _short(cfg: Config) -> str:
    if cfg.steps >= PAPER_STEPS:
        return ""
    return (f"{cfg.steps} steps is {PAPER_STEPS // cfg.steps}x shorter than the paper's 10^6: a "
            "model still erring may not yet have reached the point where errors vanish; ")


def _rate(t: dict) -> dict:
    return {"errors": t["mu_E_errors"], "samples": t["mu_E_samples"], "mu": t["mu_E"],
            "bound": t["mu_E_bound"]}


def plot(results: dict) -> dict:
    """Fig. B.2: d(E) against training step for each n (solid: the paper's step, dashed: the
    tangent step); and mu(E) (hollow: 95% bounds)."""
    runs = results["metrics"]["runs"]
    fig, axes = new_figure(2, width=5.0)
    for i, r in enumerate(runs):
        color = f"C{i % 10}"
        tr = r["trace"]
        for key, style, label in (("d_E", "o-", f"n = {r['n']}"), ("d_E_tangent", "x--", None)):
            pts = [(t["step"], t[key]) for t in tr if t.get(key) is not None]
            if pts:
                axes[0, 0].plot(*zip(*pts, strict=True), style, ms=3, color=color, label=label,
                                alpha=1.0 if key == "d_E" else 0.5)
        for bound in (False, True):
            pts = [(max(t["step"], 1), t["mu_E"]) for t in tr if t["mu_E_bound"] is bound]
            if pts:
                axes[0, 1].plot(*zip(*pts, strict=True), "v" if bound else "o", ms=4,
                                color=color, mfc="none" if bound else color,
                                label=None if bound else f"n = {r['n']}")
    axes[0, 0].set(xlabel="training step", ylabel="d(E) (first error, found points)",
                   title="Distance to the nearest error (Fig. B.2)")
    axes[0, 1].set(xlabel="training step", ylabel="mu(E), inner sphere", yscale="log",
                   title="Error rate (hollow: 95% upper bound)")
    for ax in axes[0]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return {"dimension": fig, **final_figures.plot(results)}


EXPERIMENT = register(
    Experiment(
        id="spheres.dimension",
        paper="gilmer",
        title="Sec. 3, App. A, App. B / Fig. A.1, B.2, B.3: d(E) and the loss during training of "
              "ReLU-h1000-d2 for n = 10..100, 500; the final net's sampled errors; n = 2",
        config=Config,
        run=run,
        plot=plot,
        scales={
            "smoke": {"dims": (10, 50, 500), "hidden": 32, "steps": 100, "snapshots": 2,
                      "attack_points": 8, "attack_steps": 20, "mc_samples": 1_000,
                      "chunk": 1_000, "loss_samples": 1_000, "final_samples": 1_000,
                      "final_attack_points": 16, "contrast_steps": 50,
                      "contrast_samples": 1_000},
            # Reduced to about a minute on a 2-core CPU: h = 100, 10,000 steps at lr 1e-3 (100x
            # shorter than the paper), 4 of its 11 dims, 300 attack steps, 10^5 MC points; the
            # final n = 500 net classifies 10^5 points of each sphere (paper: 10^7), the n = 2
            # net trains 2,000 steps.
            "default": {"dims": (10, 50, 100, 500), "hidden": 100, "steps": 10_000,
                        "snapshots": 10, "lr": 1e-3, "attack_steps": 300,
                        "mc_samples": 100_000, "chunk": 50_000, "loss_samples": 20_000,
                        "final_samples": 100_000, "final_attack_points": 500,
                        "contrast_steps": 2_000, "contrast_samples": 200_000},
        },
    )
)
