"""Fast adaptive boundary attack, FAB (Croce & Hein, ICML 2020), and FAB-T, in l_inf and l2.

Each step linearises the logit differences ``f_j - f_y`` at the iterate x_k and takes the class
whose linearised boundary is closest, ``argmin_j |f_j - f_y| / ||grad (f_j - f_y)||_dual`` (FAB-T:
the one target class). It projects both x_k and the original point x onto that hyperplane
intersected with the box (:func:`~advgeom.attacks._fab_projection.hyperplane_step`), giving steps
d_k and d_0, and moves to a point biased towards x:
``x_{k+1} = clip((1 - alpha) (x_k + eta d_k) + alpha (x + eta d_0))`` with
``alpha = min(||d_k|| / (||d_k|| + ||d_0||), alpha_max)`` and the extrapolation eta >= 1. When
x_{k+1} is adversarial it is recorded if it is the smallest so far, and replaced by
``x + beta (x_{k+1} - x)`` (the backward step), so the iterates keep approaching x along the
boundary. Every step costs one forward and C backward passes (FAB-T: one), plus the forward pass
that checks x_{k+1}.

FAB-T (AutoAttack's third attack) runs once for each of the ``target_classes`` classes with the
largest clean logits other than y, keeping per example the smallest adversarial perturbation;
success is still "not classified as y". Restarts after the first start from a random point at
radius eps / 2 around x, as in AutoAttack's reference code. Unlike the reference, which returns
only points within eps, the smallest perturbation over all runs is returned.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from advgeom.attacks._fab_projection import hyperplane_step
from advgeom.attacks._shared import (
    DUAL,
    classifier_problem,
    clip,
    finish_minimal,
    nonfinite,
    raise_if_nonfinite,
)
from advgeom.attacks.losses import class_logits, margin
from advgeom.attacks.problem import Problem
from advgeom.attacks.result import AttackResult
from advgeom.errors import InputError, check_int, check_real
from advgeom.tensors import TINY, Model, batch_view, eval_mode, lp_norm
from advgeom.tensors import arguments as v

Bounds = tuple[float, float] | None


def fab(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    norm: str = "linf",
    steps: int = 100,
    restarts: int = 1,
    eps: float | Tensor | None = None,
    targeted: bool = False,
    target_classes: int = 9,
    alpha_max: float = 0.1,
    eta: float = 1.05,
    beta: float = 0.9,
    bounds: Bounds = None,
    generator: torch.Generator | None = None,
) -> AttackResult:
    """Smallest adversarial perturbation FAB finds per example (an upper bound on the distance).

    Args:
        model: maps (batch, *input_shape) to C class logits (batch, C), or one logit (batch,) /
            (batch, 1) read as the two logits [0, z].
        x: (batch, *input_shape) clean inputs.
        y: (batch,) true labels in [0, C) (also for ``targeted``: FAB-T picks its own targets).
        norm: "linf" or "l2".
        steps: FAB steps per run, >= 1.
        restarts: runs per target, >= 1; the first starts at x, the others at random points
            at radius eps / 2 around x (needs ``eps``).
        eps: number > 0 or (batch,) tensor, the radius of the random starts; None: no random
            starts. The result is not cut at eps: compare ``distance <= eps``.
        targeted: FAB-T: one run aimed at each of the ``target_classes`` most likely wrong
            classes (by clean logits, at most C - 1 of them), the smallest result kept.
        target_classes: >= 1, the number of FAB-T targets (ignored unless ``targeted``).
        alpha_max: in (0, 1], the largest weight of the step from x.
        eta: >= 1, the extrapolation of both projection steps.
        beta: in (0, 1], the backward step towards x after an adversarial iterate.
        bounds: (lo, hi) box the iterates are projected into, or None for no clipping.
        generator: source of the random starts (None: torch's global generator).

    Returns:
        AttackResult: ``x_adv`` (batch, *input_shape) the smallest adversarial iterate, checked
        in full precision (x itself for clean errors and where none was found); ``success``;
        ``steps_to_success`` (the first step, over all runs, with an adversarial iterate; 0 for
        clean errors, -1 if none); ``loss`` the margin ``z_y - max_{j != y} z_j`` at ``x_adv``;
        ``distance`` ``||x_adv - x||`` in ``norm``, inf where none was found.

    Raises:
        InputError: a bad argument, labels outside [0, C), an output that is not class logits,
            or a NaN/inf input gradient.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_norm(norm)
    v.check_steps(steps)
    v.check_steps(restarts, "restarts")
    if eps is not None:
        eps = v.check_eps(eps, x, allow_zero=False)
    elif restarts > 1:
        raise InputError("restarts > 1 repeats the same run from x: pass eps, the radius of the "
                         "random starts")
    target_classes = check_int("target_classes", target_classes, minimum=1)
    rule = _check_rule(alpha_max, eta, beta)
    bounds = v.check_bounds(bounds, x)
    with eval_mode(model):
        problem, classes = classifier_problem(model, x, y, loss=margin, targeted=False,
                                              attack="fab")
        clean_loss, clean_adv = problem.evaluate(x, y)
        zero = torch.zeros_like(clean_loss)
        result = AttackResult(x.clone(), clean_adv, torch.where(clean_adv, 0, -1), clean_loss,
                              torch.where(clean_adv, zero, math.inf))
        idx = (~clean_adv).nonzero().squeeze(1)  # clean errors need no attack: distance 0
        if idx.numel() == 0:
            return result
        x_i, y_i = x[idx], y[idx].long()  # long: the labels index and scatter
        e_i = eps[idx] if isinstance(eps, Tensor) else eps
        targets = _targets(problem.model, x_i, y_i, min(target_classes, classes - 1), targeted)
        best = _Best(x_i)
        for target in targets:
            for r in range(restarts):
                start = x_i if r == 0 else _random_start(x_i, e_i, norm, bounds, generator)
                best.update(*fab_run(problem, x_i, y_i, start, target, norm=norm, steps=steps,
                                     bounds=bounds, **rule))
        part = finish_minimal(problem, x_i, y_i, best.x_adv, best.first >= 0, best.first, norm)
        return result.merge(part, idx)


def _check_rule(alpha_max: float, eta: float, beta: float) -> dict[str, float]:
    alpha_max, eta, beta = (check_real(n, val) for n, val in
                            (("alpha_max", alpha_max), ("eta", eta), ("beta", beta)))
    if not 0 < alpha_max <= 1:
        raise InputError(f"alpha_max must be in (0, 1] (got {alpha_max})")
    if eta < 1:
        raise InputError(f"eta must be >= 1 (got {eta}): it extrapolates past the boundary")
    if not 0 < beta <= 1:
        raise InputError(f"beta must be in (0, 1] (got {beta})")
    return dict(alpha_max=alpha_max, eta=eta, beta=beta)


def _targets(model: Model, x: Tensor, y: Tensor, k: int, targeted: bool) -> list[Tensor | None]:
    """[None] (untargeted), or FAB-T's k targets (n,) by decreasing clean logit, y excluded."""
    if not targeted:
        return [None]
    with torch.no_grad():
        z = class_logits(model(x)).scatter(1, y.view(-1, 1), -math.inf)
    return list(z.topk(k, dim=1).indices.unbind(1))


def _random_start(
    x: Tensor, eps: float | Tensor, norm: str, bounds: Bounds, generator: torch.Generator | None
) -> Tensor:
    """x plus a random direction scaled to norm eps / 2 (uniform in the cube for l_inf, Gaussian
    for l2, as AutoAttack's reference code), clipped to the box."""
    if norm == "linf":
        t = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) * 2 - 1
    else:
        t = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    radius = eps / 2 if isinstance(eps, float) else batch_view(eps / 2, x)
    return clip(x + radius * (t / batch_view(lp_norm(t, norm).clamp_min(TINY), t)), bounds)


class _Best:
    """The smallest adversarial point per example over the runs, and the first step of any."""

    def __init__(self, x: Tensor) -> None:
        self.x_adv = x.clone()
        self.size = torch.full((x.shape[0],), math.inf, dtype=x.dtype, device=x.device)
        self.first = torch.full((x.shape[0],), -1, dtype=torch.long, device=x.device)

    def update(self, x_adv: Tensor, size: Tensor, first: Tensor) -> None:
        better = size < self.size
        self.x_adv = torch.where(batch_view(better, x_adv), x_adv, self.x_adv)
        self.size = torch.where(better, size, self.size)
        both = (first >= 0) & (self.first >= 0)
        self.first = torch.where(both, torch.minimum(first, self.first),
                                 torch.maximum(first, self.first))


@torch.no_grad()
def fab_run(
    problem: Problem,
    x: Tensor,
    y: Tensor,
    start: Tensor,
    target: Tensor | None,
    *,
    norm: str,
    steps: int,
    bounds: Bounds,
    alpha_max: float,
    eta: float,
    beta: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """One FAB run from ``start`` (target None: the closest boundary each step; else FAB-T's).

    Returns:
        x_adv (n, ...) the smallest adversarial iterate (x where none), its distance (n,) in
        ``norm`` (inf where none), and the first step (1-based) with an adversarial iterate (-1).
    """
    n = x.shape[0]
    best = x.clone()
    size = torch.full((n,), math.inf, dtype=x.dtype, device=x.device)
    first = torch.full((n,), -1, dtype=torch.long, device=x.device)
    bad = torch.zeros((), dtype=torch.bool, device=x.device)
    xk = start
    for i in range(1, steps + 1):
        df, dg = _boundary(problem.model, xk, y, target, norm)
        bad = bad | nonfinite(dg)
        d_k, d_0 = _projections(xk, x, df, dg, norm, bounds)
        a_k, a_0 = lp_norm(d_k, norm), lp_norm(d_0, norm)
        alpha = batch_view((a_k / (a_k + a_0).clamp_min(TINY)).clamp(max=alpha_max), x)
        xk = clip((1 - alpha) * (xk + eta * d_k) + alpha * (x + eta * d_0), bounds)
        adv = problem.success(problem.model(xk), y)
        lp = lp_norm(xk - x, norm)
        better = adv & (lp < size)
        best = torch.where(batch_view(better, x), xk, best)
        size = torch.where(better, lp, size)
        first = torch.where(adv & (first < 0), i, first)
        xk = torch.where(batch_view(adv, x), x + beta * (xk - x), xk)
    raise_if_nonfinite(bad, "fab")
    return best, size, first


def _boundary(
    model: Model, xk: Tensor, y: Tensor, target: Tensor | None, norm: str
) -> tuple[Tensor, Tensor]:
    """The linearised boundary to aim at: f_j - f_y at xk (n,) and its input gradient (n, ...).

    Untargeted, j is the class whose linearised boundary is closest in ``norm``; it needs the
    gradients of all C logits (C backward passes for the whole batch).
    """
    rows = torch.arange(xk.shape[0], device=xk.device)
    xk = xk.detach().requires_grad_(True)
    with torch.enable_grad():
        z = class_logits(model(xk))
        if target is not None:
            diff = z[rows, target] - z[rows, y]
            (grad,) = torch.autograd.grad(diff.sum(), xk)
            return diff.detach(), grad
        classes = z.shape[1]
        jac = torch.stack([torch.autograd.grad(z[:, j].sum(), xk, retain_graph=j < classes - 1)[0]
                           for j in range(classes)], dim=1)
    z = z.detach()
    df = z - z[rows, y].unsqueeze(1)
    dg = jac - jac[rows, y].unsqueeze(1)
    dist = df.abs() / lp_norm(dg.flatten(0, 1), DUAL[norm]).view_as(df).clamp_min(TINY)
    j = dist.scatter(1, y.view(-1, 1), math.inf).argmin(dim=1)
    return df[rows, j], dg[rows, j]


def _projections(
    xk: Tensor, x: Tensor, df: Tensor, dg: Tensor, norm: str, bounds: Bounds
) -> tuple[Tensor, Tensor]:
    """The steps from xk and from x onto the hyperplane ``df + dg.(z - xk) = 0`` in the box."""
    n = x.shape[0]
    w = dg.flatten(1)
    c_0 = df + (w * (x - xk).flatten(1)).sum(dim=1)  # the linear model's value at x
    steps = hyperplane_step(torch.cat([xk.flatten(1), x.flatten(1)]), torch.cat([w, w]),
                            torch.cat([df, c_0]), norm, bounds)
    return steps[:n].view_as(x), steps[n:].view_as(x)
