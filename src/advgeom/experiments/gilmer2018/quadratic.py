"""``spheres.quadratic``: the quadratic network -- accurate on average, warped everywhere.

Paper: Gilmer et al., "The Relationship Between High-Dimensional Geometry and Adversarial Examples"
(Sec. 4, Fig. 2, App. C-D). The quadratic network decides by the ellipsoid sum alpha_i z_i^2 = 1;
it has adversarial examples iff some alpha_i lies outside [1/R^2, 1]. Trained on a finite set
(N = 10^6) the paper finds 325 of 500 alpha_i incorrect (394 in the caption of Fig. 2) while the CLT
estimates an error rate near 1e-20 (1e-11 in the caption). From a "perfect" initialisation (all
alpha_i correct), further training lowers the average loss while the worst-case loss rises.

The worst-case loss needs no attack here: over the inner sphere the largest logit is
w s_max^2 + b, over the outer sphere the smallest is w R^2 s_min^2 + b (s = singular values of W1).

Run: ``advgeom run spheres.quadratic [--scale smoke|default|paper]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from advgeom.data.spheres import sample_spheres
from advgeom.errors import InputError, check_fields
from advgeom.experiments import rules
from advgeom.experiments.claims import claim
from advgeom.experiments.context import RunContext
from advgeom.experiments.registry import Experiment, register
from advgeom.models.mlp import QuadraticNet
from advgeom.plotting import new_figure
from advgeom.theory import quadratic
from advgeom.train.spheres import SphereTraining, train_on_spheres

PAPER_INCORRECT = 325  # of 500 (Sec. 4); the caption of Fig. 2 says 394
PAPER_LOG10_ERROR = -20.0  # Sec. 4; the caption of Fig. 2 says 1e-11
PERFECT_PROBS = (0.0016, 0.9994)  # sigmoid outputs on the inner and outer sphere at the start


@dataclass(frozen=True)
class Config:
    """Paper settings (Sec. 4): n = 500, h = 1000, N = 10^6, Adam 1e-4, batch 50, and "the same
    setup as in Section 3": 10^6 training steps."""

    n: int = 500
    hidden: int = 1000
    R: float = 1.3
    N: int = 1_000_000
    steps: int = 1_000_000
    perfect_steps: int = 5_000  # training from the perfect initialisation
    snapshots: int = 20
    batch_size: int = 50
    lr: float = 1e-4
    eval_samples: int = 20_000  # fresh points per sphere for the average loss
    mc_samples: int = 1_000_000  # points per sphere to check the CLT error estimate

    def __post_init__(self) -> None:
        check_fields(self, ("n", "hidden", "N", "steps", "perfect_steps", "snapshots", "batch_size",
                            "eval_samples", "mc_samples"))
        if not 1 < self.R < math.inf:
            raise InputError(f"R must be a finite number > 1 (got {self.R})")
        if not 0 < self.lr < math.inf:
            raise InputError(f"lr must be > 0 (got {self.lr})")


def worst_case_loss(model: QuadraticNet, R: float) -> float:
    """The largest sigmoid cross-entropy over both spheres, in closed form (see module doc)."""
    s = torch.linalg.svdvals(model.W1.detach().double())
    s_min = s.min() if model.hidden >= model.in_features else s.new_zeros(())
    w, b = model.w.detach().double(), model.b.detach().double()
    inner_logit = w * s.max() ** 2 + b  # label 0: the loss grows with the logit
    outer_logit = w * R**2 * s_min**2 + b  # label 1: the loss grows as the logit falls
    return float(torch.maximum(F.softplus(inner_logit), F.softplus(-outer_logit)))


def average_loss(model: QuadraticNet, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(F.binary_cross_entropy_with_logits(model(x).squeeze(-1), y.float()))


def perfect_init(model: QuadraticNet, R: float, generator: torch.Generator) -> QuadraticNet:
    """Gilmer et al.'s "perfect" initialisation: every alpha_i equal and correct, and sigmoid
    outputs of 0.0016 on the inner and 0.9994 on the outer sphere (so gradients are not zero).

    W1 becomes an orthonormal map (h >= n), so ||W1 x|| = ||x||; then w ||x||^2 + b hits the two
    logits at radius 1 and R.
    """
    n, h = model.in_features, model.hidden
    if h < n:
        raise InputError(f"hidden must be >= n for a perfect initialisation (got {h} < {n})")
    lo, hi = (math.log(p / (1 - p)) for p in PERFECT_PROBS)
    w = (hi - lo) / (R**2 - 1)
    with torch.no_grad():
        q, _ = torch.linalg.qr(torch.randn(h, n, generator=generator, dtype=torch.float64))
        model.W1.copy_(q.to(model.W1))
        model.w.fill_(w)
        model.b.fill_(lo - w)
    return model


def snapshot(model: QuadraticNet, step: int, R: float, eval_set) -> dict:
    """One point of a training curve: losses, incorrect alphas and CLT error estimates."""
    alpha = quadratic.alphas(model.W1, model.w.item(), model.b.item())
    clt = quadratic.clt_error_rates(alpha, R)
    return {
        "step": step,
        "average_loss": average_loss(model, *eval_set),
        "worst_case_loss": worst_case_loss(model, R),
        "incorrect_alphas": quadratic.count_incorrect(alpha, R),
        "log10_error_inner": clt["log10_inner"],
        "log10_error_outer": clt["log10_outer"],
    }


def train_and_trace(cfg: Config, ctx: RunContext, *, perfect: bool) -> dict:
    """Train one quadratic net (from a random or the perfect start); trace it at snapshots."""
    name = "perfect" if perfect else "finite_N"
    gen = ctx.generator(name)
    model = QuadraticNet(in_features=cfg.n, hidden=cfg.hidden)
    with torch.no_grad():  # re-draw W1 from the run's generator: results follow --seed alone
        model.W1.copy_(torch.randn(cfg.hidden, cfg.n, generator=gen) / math.sqrt(cfg.hidden))
    if perfect:
        perfect_init(model, cfg.R, gen)
    model.to(ctx.device)
    eval_set = tuple(t.to(ctx.device) for t in sample_spheres(
        2 * cfg.eval_samples, cfg.n, R=cfg.R, generator=ctx.generator("eval")))
    steps = cfg.perfect_steps if perfect else cfg.steps
    trace: list[dict] = []
    settings = SphereTraining(n=cfg.n, R=cfg.R, N=cfg.N, steps=steps, batch_size=cfg.batch_size,
                              lr=cfg.lr)
    train_on_spheres(model, settings, generator=gen, every=max(1, steps // cfg.snapshots),
                     on_step=lambda step, m: trace.append(snapshot(m, step, cfg.R, eval_set)),
                     description=f"quadratic ({name})")
    alpha = quadratic.alphas(model.W1, model.w.item(), model.b.item())
    mc = quadratic.monte_carlo_error_rates(alpha, cfg.R, samples=cfg.mc_samples,
                                           generator=ctx.generator(name, "mc"))
    return {"trace": trace, "alpha": alpha.tolist(), "monte_carlo": mc,
            "clt": quadratic.clt_error_rates(alpha, cfg.R)}


def run(cfg: Config, ctx: RunContext) -> dict:
    """Train from a random start on N points, and from the perfect start; each is one point."""
    finite = ctx.point("finite_N", lambda: train_and_trace(cfg, ctx, perfect=False))
    perfect = (ctx.point("perfect", lambda: train_and_trace(cfg, ctx, perfect=True))
               if cfg.hidden >= cfg.n else None)
    metrics = {"finite_N": finite, "perfect": perfect, "band": [1 / cfg.R**2, 1.0]}
    return {"claims": claims(cfg, metrics, measurable=ctx.scale != "smoke"), "metrics": metrics}


def _error_note(result: dict) -> str:
    mc = result["monte_carlo"]
    seen = []
    for sphere in ("inner", "outer"):
        errors, samples = mc[f"{sphere}_errors"], mc["samples"]
        # No error in M samples: the 95% upper confidence bound is about 3/M, not zero.
        seen.append(f"{sphere} {mc[sphere]:.2g} ({errors} in {samples})" if errors else
                    f"{sphere} < {3 / samples:.1g} (0 in {samples}, 95% bound)")
    return "Monte Carlo on the model: " + ", ".join(seen)


def claims(cfg: Config, m: dict, *, measurable: bool = True) -> list[dict]:
    """Incorrect alphas, the CLT error estimate, and the perfect-initialisation divergence.

    At the smoke scale (a 20-dimensional net trained for seconds) none of the effects can show:
    every verdict is then None and the notes say so.
    """
    at_paper = (cfg.n, cfg.hidden, cfg.N) == (500, 1000, 1_000_000)
    finite = m["finite_N"]
    last = finite["trace"][-1]
    share = last["incorrect_alphas"] / cfg.n
    log10_err = max(last["log10_error_inner"], last["log10_error_outer"])
    if not measurable:
        scale_note = "; smoke scale: the pipeline runs, the effect needs the default scale"
        paper_note = "; smoke scale: the pipeline runs, the effect needs the paper scale"
    elif at_paper:
        scale_note = paper_note = ""
    else:
        setting = f"n = {cfg.n}, h = {cfg.hidden}, N = {cfg.N}, {cfg.steps} steps"
        paper_note = (f"; not compared at {setting}: the paper's numbers are for n = 500, "
                      "h = 1000, N = 10^6 (the paper scale)")
        scale_note = f"; at n = {cfg.n}, h = {cfg.hidden} (the paper: n = 500, h = 1000)"
    out = [
        claim(
            "incorrect_alphas",
            "Trained on a finite set, most alpha_i fall outside [1/R^2, 1] (325 of 500, Sec. 4) "
            "although the error rate is tiny.",
            paper_value=PAPER_INCORRECT / 500,
            measured=share,
            rule=rules.at_least(0.5, what="the share of incorrect alpha_i"),
            measurable=at_paper and measurable,
            note=f"{last['incorrect_alphas']} of {cfg.n} alpha_i incorrect after {cfg.steps} steps "
            f"(Fig. 2's caption says 394 of 500); the tiny error rate is the clt_error_rate "
            f"claim{paper_note}; warping needs a training set barely larger than the parameter "
            "count in high dimension: small nets on ample data converge to the perfect ellipsoid "
            "instead",
        ),
        claim(
            "clt_error_rate",
            "The CLT estimates this model's error rate at about 1e-20 (Sec. 4.1; 1e-11 in Fig. 2).",
            paper_value=PAPER_LOG10_ERROR,
            measured=log10_err,
            rule=rules.at_most(-10.0, what="log10 of the CLT error rate"),
            measurable=at_paper and measurable,
            note=f"log10 of the larger of the inner and outer CLT estimates; {_error_note(finite)}"
            f"; the bound takes in both of the paper's values{paper_note}",
        ),
    ]
    if m["perfect"] is not None:
        trace = m["perfect"]["trace"]
        out.append(claim(
            "perfect_init_divergence",
            "From a perfect initialisation, training lowers the average loss while the worst-case "
            "loss rises and alpha_i become incorrect (Fig. 2, right).",
            paper_value="average down, worst case up, incorrect alpha_i appear",
            measured={key: [trace[0][key], trace[-1][key]]
                      for key in ("average_loss", "worst_case_loss", "incorrect_alphas")},
            rule=DIVERGES,
            measurable=measurable,
            note=f"first and last of {len(trace)} snapshots over {cfg.perfect_steps} steps "
            f"(the first at the perfect start, where every alpha_i is correct); worst case in "
            f"closed form over both spheres{scale_note}",
        ))
    return out


def diverges(m: dict) -> bool:
    """Fig. 2, right, on [first, last] snapshots: average loss down, worst case up, and more
    incorrect alpha_i at the end than at the start."""
    avg, worst, wrong = m["average_loss"], m["worst_case_loss"], m["incorrect_alphas"]
    return avg[-1] < avg[0] and worst[-1] > worst[0] and wrong[-1] > wrong[0]


DIVERGES = rules.predicate(
    diverges, "the average loss falls, the worst-case loss rises and incorrect alpha_i appear",
    fails_on={"average_loss": [0.1, 0.01], "worst_case_loss": [1.0, 5.0],
              "incorrect_alphas": [0, 0]},
    holds_on={"average_loss": [0.1, 0.01], "worst_case_loss": [1.0, 5.0],
              "incorrect_alphas": [0, 20]},
)


def plot(results: dict) -> dict:
    """Fig. 2: histogram of alpha_i with the correct band; curves from the perfect start."""
    m = results["metrics"]
    fig, axes = new_figure(3 if m["perfect"] else 1, width=4.6)
    ax = axes[0, 0]
    alpha = np.asarray(m["finite_N"]["alpha"])
    ax.hist(alpha, bins=50, color="C0")
    for edge in m["band"]:
        ax.axvline(edge, color="C3")
    ax.set(xlabel="alpha_i", ylabel="count",
           title=f"alpha_i after training ({int(np.sum((alpha < m['band'][0]) | (alpha > 1)))} "
           "incorrect)")
    if m["perfect"]:
        trace = m["perfect"]["trace"]
        steps = [t["step"] for t in trace]
        ax = axes[0, 1]
        ax.semilogy(steps, [t["average_loss"] for t in trace], label="average loss")
        ax.semilogy(steps, [t["worst_case_loss"] for t in trace], label="worst-case loss")
        ax.set(xlabel="training step", ylabel="loss", title="From the perfect initialisation")
        ax.legend(fontsize=8)
        ax = axes[0, 2]
        ax.plot(steps, [t["incorrect_alphas"] for t in trace], color="C2")
        ax.set(xlabel="training step", ylabel="incorrect alpha_i", title="Warping of the ellipsoid")
    fig.tight_layout()
    return {"quadratic": fig}


EXPERIMENT = register(
    Experiment(
        id="spheres.quadratic",
        paper="gilmer",
        title="Sec. 4 / Fig. 2: quadratic network's alpha_i, CLT error estimate, perfect init",
        config=Config,
        run=run,
        plot=plot,
        scales={
            "smoke": {"n": 20, "hidden": 40, "N": 500, "steps": 300, "perfect_steps": 200,
                      "snapshots": 4, "eval_samples": 500, "mc_samples": 20_000},
            # Reduced: n = 50 and lr 1e-3 so that 20,000 steps converge on a 2-core CPU.
            "default": {"n": 50, "hidden": 100, "N": 20_000, "steps": 20_000,
                        "perfect_steps": 5_000, "lr": 1e-3, "mc_samples": 400_000},
        },
    )
)
