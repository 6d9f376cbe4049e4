"""``spheres.quadratic``: the quadratic network -- accurate on average, warped everywhere.

Paper: Gilmer et al., "The Relationship Between High-Dimensional Geometry and Adversarial Examples"
(Sec. 4, 4.1, Fig. 2, App. C-D). The quadratic network decides by the ellipsoid
sum alpha_i z_i^2 = 1; it has adversarial examples iff some alpha_i lies outside [1/R^2, 1].
Trained online (h = 1000) it reaches the perfect ellipsoid, every alpha_i correct. Trained on a
finite set (N = 10^6) the paper finds 325 of 500 alpha_i incorrect (394 in the caption of Fig. 2)
while the CLT estimates an error rate near 1e-20 (1e-11 in the caption): what keeps it accurate is
a mean alpha_i near (1 + R^-2)/2 (Sec. 4.1). From a "perfect" initialisation (all alpha_i
correct), further training lowers the average loss while the worst-case loss rises.

The worst-case loss needs no attack (see :mod:`._quadratic_net`, which trains the nets).

Run: ``advgeom run spheres.quadratic [--scale smoke|default|paper]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from advgeom.errors import InputError, check_fields
from advgeom.experiments.gilmer2018 import _quadratic_net
from advgeom.experiments.gilmer2018._quadratic_net import (  # re-exported: public names
    PERFECT_PROBS,
    average_loss,
    perfect_init,
    snapshot,
    worst_case_loss,
)
from advgeom.plotting import new_figure
from advgeom.runs import rules
from advgeom.runs.claims import claim
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register
from advgeom.train.spheres import SphereTraining

__all__ = ["PERFECT_PROBS", "Config", "average_loss", "claims", "perfect_init", "plot", "run",
           "snapshot", "train_and_trace", "worst_case_loss"]

PAPER_INCORRECT = 325  # of 500 (Sec. 4); the caption of Fig. 2 says 394
PAPER_LOG10_ERROR = -20.0  # Sec. 4; the caption of Fig. 2 says 1e-11


@dataclass(frozen=True)
class Config:
    """Paper settings (Sec. 4): n = 500, h = 1000, N = 10^6, Adam 1e-4, batch 50, and "the same
    setup as in Section 3": 10^6 training steps."""

    n: int = 500
    hidden: int = 1000
    R: float = 1.3
    N: int = 1_000_000
    steps: int = 1_000_000
    online_steps: int = 1_000_000  # online training (N = infinity), "the same setup as Sec. 3"
    perfect_steps: int = 5_000  # training from the perfect initialisation
    snapshots: int = 20
    batch_size: int = 50
    lr: float = 1e-4
    eval_samples: int = 20_000  # fresh points per sphere for the average loss
    mc_samples: int = 1_000_000  # points per sphere to check the CLT error estimate

    def __post_init__(self) -> None:
        check_fields(self, ("n", "hidden", "N", "steps", "online_steps", "perfect_steps",
                            "snapshots", "batch_size", "eval_samples", "mc_samples"))
        if not 1 < self.R < math.inf:
            raise InputError(f"R must be a finite number > 1 (got {self.R})")
        if not 0 < self.lr < math.inf:
            raise InputError(f"lr must be > 0 (got {self.lr})")


def train_and_trace(cfg: Config, ctx: RunContext, *, kind: str) -> dict:
    """Train one quadratic net: ``finite_N`` (random start, N points), ``online`` (random start,
    fresh batches) or ``perfect`` (the perfect start, N points); trace it at snapshots."""
    steps = {"finite_N": cfg.steps, "online": cfg.online_steps, "perfect": cfg.perfect_steps}
    settings = SphereTraining(n=cfg.n, R=cfg.R, N=None if kind == "online" else cfg.N,
                              steps=steps[kind], batch_size=cfg.batch_size, lr=cfg.lr)
    return _quadratic_net.train_and_trace(
        ctx, kind, settings, hidden=cfg.hidden, snapshots=cfg.snapshots,
        eval_samples=cfg.eval_samples, mc_samples=0 if kind == "online" else cfg.mc_samples,
        perfect=kind == "perfect")


def run(cfg: Config, ctx: RunContext) -> dict:
    """Train from a random start on N points and online, and from the perfect start; each is one
    point. The online and perfect nets need h >= n (otherwise no ellipsoid is perfect)."""
    wide = cfg.hidden >= cfg.n
    kinds = ("finite_N", "online", "perfect") if wide else ("finite_N",)
    done = dict(zip(kinds, ctx.points(
        [(k, lambda k=k: train_and_trace(cfg, ctx, kind=k)) for k in kinds]), strict=True))
    finite, online, perfect = (done.get(k) for k in ("finite_N", "online", "perfect"))
    metrics = {"finite_N": finite, "online": online, "perfect": perfect,
               "band": [1 / cfg.R**2, 1.0], "mean_alpha_target": (1 + cfg.R**-2) / 2}
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
    out.append(_mean_alpha_claim(cfg, m, measurable))
    if m.get("online") is not None:
        out.append(_online_claim(cfg, m["online"], measurable))
    return out


def _mean_alpha_claim(cfg: Config, m: dict, measurable: bool) -> dict:
    """Sec. 4.1: an accurate net keeps the mean alpha_i near (1 + R^-2)/2 (Fig. 2's model)."""
    target = (1 + cfg.R**-2) / 2
    finite = m["finite_N"]
    mean = float(np.mean(finite["alpha"]))
    others = "; ".join(f"{name} net {np.mean(m[name]['alpha']):.3f}"
                       for name in ("online", "perfect") if m.get(name) is not None)
    clt = finite["trace"][-1]
    log10_err = max(clt["log10_error_inner"], clt["log10_error_outer"])
    return claim(
        "mean_alpha",
        "A quadratic network is extremely accurate as long as the mean alpha_i is about "
        "(1 + R^-2)/2 (= 0.796 at R = 1.3) and their variance is not too high; Fig. 2's model "
        "illustrates this (Sec. 4.1).",
        paper_value=target,
        measured=mean,
        rule=rules.within(rel=0.1, what="the mean alpha_i"),
        measurable=measurable,
        note=f"mean of the {cfg.n} alpha_i of the net trained on N = {cfg.N} points (Fig. 2's "
        f"model), whose larger CLT error estimate is 10^{log10_err:.1f}; std of its alpha_i "
        f"{np.std(finite['alpha']):.3f}; means of the others: {others or 'not trained'}; "
        "the paper writes '~' without a tolerance: we read it as within 10%"
        + ("" if measurable else "; smoke scale: the pipeline runs, the effect needs the "
           "default scale"),
    )


def _online_claim(cfg: Config, online: dict, measurable: bool) -> dict:
    """Sec. 4: trained online with h = 1000 (n = 500) the net reaches the perfect ellipsoid."""
    wrong = online["trace"][-1]["incorrect_alphas"]
    alpha = online["alpha"]
    at_paper = (cfg.n, cfg.hidden, cfg.online_steps) == (500, 1000, 1_000_000)
    setting = ("" if at_paper else
               f"; at n = {cfg.n}, h = {cfg.hidden} (h/n as in the paper's 1000/500), "
               f"{cfg.online_steps} steps, lr {cfg.lr:g}: the paper's n = 500, 10^6 steps, lr "
               "1e-4 is the paper scale")
    return claim(
        "online_perfect_ellipsoid",
        "Trained online (fresh samples every batch) with h = 1000, the quadratic network arrives "
        "at the perfect solution: every alpha_i in [1/R^2, 1], no adversarial examples (Sec. 4).",
        paper_value=0,
        measured=wrong,
        rule=rules.equals(0),
        measurable=measurable,
        note=f"incorrect alpha_i after online training; alpha_i span [{min(alpha):.3f}, "
        f"{max(alpha):.3f}] against the band [{1 / cfg.R**2:.3f}, 1]{setting}"
        + ("" if measurable else "; smoke scale: the pipeline runs, the effect needs the "
           "default scale"),
    )


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
    """Fig. 2: histograms of alpha_i with the correct band and (1 + R^-2)/2 (Sec. 4.1); online
    training's incorrect alpha_i; the curves from the perfect start."""
    m = results["metrics"]
    online, perfect = m.get("online"), m["perfect"]
    fig, axes = new_figure(1 + (online is not None) + 2 * (perfect is not None), width=4.6)
    ax = axes[0, 0]
    alpha = np.asarray(m["finite_N"]["alpha"])
    bins = np.histogram_bin_edges(np.concatenate([alpha, online["alpha"] if online else []]), 50)
    ax.hist(alpha, bins=bins, color="C0", label=f"N = {results['config']['N']}")
    if online:
        ax.hist(online["alpha"], bins=bins, histtype="step", color="C1", label="online")
    for edge in m["band"]:
        ax.axvline(edge, color="C3")
    target = (1 + m["band"][0]) / 2
    ax.axvline(target, color="k", ls="--", label=f"(1 + R^-2)/2 = {target:.3f}")
    ax.axvline(alpha.mean(), color="C0", ls=":", label=f"mean (N) = {alpha.mean():.3f}")
    ax.set(xlabel="alpha_i", ylabel="count",
           title=f"alpha_i after training ({int(np.sum((alpha < m['band'][0]) | (alpha > 1)))} "
           "incorrect)")
    ax.legend(fontsize=7)
    col = 1
    if online:
        trace = online["trace"]
        ax = axes[0, col]
        ax.plot([t["step"] for t in trace], [t["incorrect_alphas"] for t in trace], "o-",
                color="C1")
        ax.set(xlabel="training step", ylabel="incorrect alpha_i",
               title="Online training reaches the perfect ellipsoid")
        col += 1
    if perfect:
        trace = perfect["trace"]
        steps = [t["step"] for t in trace]
        ax = axes[0, col]
        ax.semilogy(steps, [t["average_loss"] for t in trace], label="average loss")
        ax.semilogy(steps, [t["worst_case_loss"] for t in trace], label="worst-case loss")
        ax.set(xlabel="training step", ylabel="loss", title="From the perfect initialisation")
        ax.legend(fontsize=8)
        ax = axes[0, col + 1]
        ax.plot(steps, [t["incorrect_alphas"] for t in trace], color="C2")
        ax.set(xlabel="training step", ylabel="incorrect alpha_i", title="Warping of the ellipsoid")
    fig.tight_layout()
    return {"quadratic": fig}


EXPERIMENT = register(
    Experiment(
        id="spheres.quadratic",
        paper="gilmer",
        title="Sec. 4 / Fig. 2: quadratic network's alpha_i, CLT error estimate, online and "
        "perfect init",
        config=Config,
        run=run,
        plot=plot,
        scales={
            "smoke": {"n": 20, "hidden": 40, "N": 500, "steps": 300, "online_steps": 200,
                      "perfect_steps": 200, "snapshots": 4, "eval_samples": 500,
                      "mc_samples": 20_000},
            # Reduced: n = 50 and lr 1e-3 so that 20,000 steps converge on a 2-core CPU (online:
            # 15,000 steps, about 10 s; 5,000 left 11 of 50 alpha_i outside the band).
            "default": {"n": 50, "hidden": 100, "N": 20_000, "steps": 20_000,
                        "online_steps": 15_000, "perfect_steps": 5_000, "lr": 1e-3,
                        "mc_samples": 400_000},
        },
    )
)
