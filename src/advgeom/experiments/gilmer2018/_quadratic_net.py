"""Training Gilmer et al.'s quadratic network and tracing its ellipsoid, for the two experiments
that need trained ones: ``spheres.quadratic`` (Sec. 4: finite N, online, perfect start) and
``spheres.ignore`` (App. E: a net too small to separate the spheres at n = 2000).

The worst-case loss needs no attack: over the inner sphere the largest logit is w s_max^2 + b,
over the outer sphere the smallest is w R^2 s_min^2 + b (s = singular values of W1).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from advgeom.data.spheres import sample_spheres
from advgeom.errors import InputError
from advgeom.models.mlp import QuadraticNet
from advgeom.runs.context import RunContext
from advgeom.theory import quadratic
from advgeom.train.spheres import SphereTraining, train_on_spheres

PERFECT_PROBS = (0.0016, 0.9994)  # sigmoid outputs on the inner and outer sphere at the start


def worst_case_loss(model: QuadraticNet, R: float) -> float:
    """The largest sigmoid cross-entropy over both spheres, in closed form (see module doc)."""
    s = torch.linalg.svdvals(model.W1.detach().double())
    s_min = s.min() if model.hidden >= model.in_features else s.new_zeros(())
    w, b = model.w.detach().double(), model.b.detach().double()
    inner_logit = w * s.max() ** 2 + b  # label 0: the loss grows with the logit
    outer_logit = w * R**2 * s_min**2 + b  # label 1: the loss grows as the logit falls
    return float(torch.maximum(F.softplus(inner_logit), F.softplus(-outer_logit)))


def average_loss(model: QuadraticNet, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean sigmoid cross-entropy on (x: (batch, n), y: (batch,))."""
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


def train_and_trace(ctx: RunContext, name: str, settings: SphereTraining, *, hidden: int,
                    snapshots: int, eval_samples: int, mc_samples: int = 0,
                    perfect: bool = False) -> dict:
    """Train one quadratic net (from a random or the perfect start) and trace it at snapshots.

    Args:
        ctx: the run; the net's randomness comes from ``ctx.generator(name)``.
        name: the point's name (``finite_N``, ``online``, ``perfect``, ...).
        settings: data and optimiser (``settings.N`` None: online).
        hidden: h, the width of the quadratic layer.
        snapshots: about how many trace points over the run.
        eval_samples: fresh points per sphere for the average loss.
        mc_samples: points per sphere for a Monte Carlo check of the error rates (0: none).
        perfect: start from :func:`perfect_init`.

    Returns:
        ``{"trace", "alpha" (n,), "clt", "monte_carlo" (None without mc_samples)}``.
    """
    gen = ctx.generator(name)
    model = QuadraticNet(in_features=settings.n, hidden=hidden)
    with torch.no_grad():  # re-draw W1 from the run's generator: results follow --seed alone
        model.W1.copy_(torch.randn(hidden, settings.n, generator=gen) / math.sqrt(hidden))
    if perfect:
        perfect_init(model, settings.R, gen)
    model.to(ctx.device)
    eval_set = tuple(t.to(ctx.device) for t in sample_spheres(
        2 * eval_samples, settings.n, R=settings.R, generator=ctx.generator("eval")))
    trace: list[dict] = []
    train_on_spheres(model, settings, generator=gen, every=max(1, settings.steps // snapshots),
                     on_step=lambda step, m: trace.append(snapshot(m, step, settings.R, eval_set)),
                     description=f"quadratic ({name})")
    alpha = quadratic.alphas(model.W1, model.w.item(), model.b.item())
    mc = (quadratic.monte_carlo_error_rates(alpha, settings.R, samples=mc_samples,
                                            generator=ctx.generator(name, "mc"))
          if mc_samples else None)
    return {"trace": trace, "alpha": alpha.tolist(), "monte_carlo": mc,
            "clt": quadratic.clt_error_rates(alpha, settings.R)}
