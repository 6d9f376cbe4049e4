"""Fast minimum-norm attack, FMN (Pintor et al., NeurIPS 2021), in l2 and l_inf.

Gradient descent on the logit margin ``L = z_y - max_{j != y} z_j`` (targeted:
``max_{j != t} z_j - z_t``) inside a ball whose radius eps adapts per example: while the iterate
is not adversarial and none has been found, eps is the linear estimate of the distance to the
boundary, ``||delta|| + L / ||grad L||_dual`` (here with an overshoot of ``1 + gamma_k`` and never
decreasing, see :func:`_update_eps`); once one has been found, eps shrinks by a factor
``1 - gamma_k`` at every adversarial iterate (never above the smallest adversarial norm found)
and grows by ``1 + gamma_k`` otherwise. The step ``alpha_k grad / ||grad||_2`` and gamma_k are
cosine-annealed from ``max_step`` to ``min_step`` and from ``gamma`` to ``gamma_final``. Each
step projects onto the eps-ball and clips to the box. The result is the smallest adversarial
perturbation among the iterates.

Foolbox 3.3.4's ``L2FMNAttack`` computes its projection factor as ``norms / norms`` (always 1),
so its l2 iterates are never projected onto the eps-ball; here they are.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from advgeom.attacks._shared import (
    DUAL,
    classifier_problem,
    clip,
    finish_minimal,
    nonfinite,
    raise_if_nonfinite,
)
from advgeom.attacks.balls import BALLS
from advgeom.attacks.losses import margin
from advgeom.attacks.problem import Problem
from advgeom.attacks.result import AttackResult
from advgeom.errors import InputError, check_positive
from advgeom.tensors import TINY, Model, batch_view, eval_mode, lp_norm
from advgeom.tensors import arguments as v


def _targeted_margin(output: Tensor, target: Tensor) -> Tensor:
    return -margin(output, target)


def fmn(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    norm: str = "l2",
    steps: int = 100,
    max_step: float = 1.0,
    min_step: float | None = None,
    gamma: float = 0.05,
    gamma_final: float = 0.001,
    bounds: tuple[float, float] | None = None,
    targeted: bool = False,
) -> AttackResult:
    """Smallest adversarial perturbation FMN finds per example (an upper bound on the distance).

    Args:
        model: maps (batch, *input_shape) to C class logits (batch, C), or one logit (batch,) /
            (batch, 1) read as the two logits [0, z].
        x: (batch, *input_shape) clean inputs.
        y: (batch,) integer labels in [0, C); the target classes when ``targeted``.
        norm: "l2" or "linf".
        steps: gradient steps K, >= 1 (K + 1 iterates are evaluated, the last by a forward pass).
        max_step, min_step: l2 length of the first and last gradient step (cosine schedule);
            ``min_step`` defaults to ``max_step / 100``. In the units of x.
        gamma, gamma_final: first and last relative eps update, 0 < gamma_final <= gamma < 1.
        bounds: (lo, hi) box, or None for no clipping.
        targeted: find the smallest perturbation that makes the prediction y.

    Returns:
        AttackResult: ``x_adv`` (batch, *input_shape) the smallest adversarial iterate, checked
        in full precision (x itself for clean errors and where none was found); ``success``;
        ``steps_to_success`` (the step of the first adversarial iterate, -1 if none); ``loss``
        the margin L at ``x_adv``; ``distance`` ``||x_adv - x||`` in ``norm``, inf where none
        was found.

    Raises:
        InputError: a bad argument, labels outside [0, C), an output that is not class logits,
            or a NaN/inf input gradient.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_norm(norm)
    v.check_steps(steps)
    max_step = check_positive("max_step", max_step)
    min_step = max_step / 100 if min_step is None else check_positive("min_step", min_step)
    if min_step > max_step:
        raise InputError(f"min_step must be <= max_step (got {min_step} > {max_step})")
    if not 0 < check_positive("gamma_final", gamma_final) <= check_positive("gamma", gamma) < 1:
        raise InputError(
            f"need 0 < gamma_final <= gamma < 1 (got gamma={gamma}, gamma_final={gamma_final})"
        )
    bounds = v.check_bounds(bounds, x)
    loss = _targeted_margin if targeted else margin
    with eval_mode(model):
        problem, _ = classifier_problem(model, x, y, loss=loss, targeted=targeted, attack="fmn")
        clean_loss, clean_adv = problem.evaluate(x, y)
        zero = torch.zeros_like(clean_loss)
        result = AttackResult(x.clone(), clean_adv, torch.where(clean_adv, 0, -1), clean_loss,
                              torch.where(clean_adv, zero, math.inf))
        idx = (~clean_adv).nonzero().squeeze(1)  # clean errors need no attack: distance 0
        if idx.numel() == 0:
            return result
        schedule = dict(steps=steps, alpha=(max_step, min_step), gamma=(gamma, gamma_final))
        x_i, y_i = x[idx], y[idx]
        best, found, first = _iterate(problem, x_i, y_i, norm, bounds, **schedule)
        part = finish_minimal(problem, x_i, y_i, x_i + best, found, first, norm)
        return result.merge(part, idx)


def _cosine(start: float, end: float, i: int, steps: int) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * i / steps)) / 2


def _iterate(
    problem: Problem,
    x: Tensor,
    y: Tensor,
    norm: str,
    bounds: tuple[float, float] | None,
    *,
    steps: int,
    alpha: tuple[float, float],
    gamma: tuple[float, float],
) -> tuple[Tensor, Tensor, Tensor]:
    """The FMN loop: (best delta, found, first step) per example, no host sync until the end."""
    n = x.shape[0]
    delta, best = torch.zeros_like(x), torch.zeros_like(x)
    inf = torch.full((n,), math.inf, dtype=x.dtype, device=x.device)
    eps, best_norm = torch.zeros_like(inf), inf.clone()  # the paper's eps_0 = 0
    first = torch.full((n,), -1, dtype=torch.long, device=x.device)
    worst = None if bounds is None else lp_norm(
        torch.maximum(x - bounds[0], bounds[1] - x), norm)
    bad = torch.zeros((), dtype=torch.bool, device=x.device)
    for i in range(steps + 1):
        xa = x + delta
        if i < steps:
            out, grad = problem.loss_grad(xa.requires_grad_(True), y)
            bad = bad | nonfinite(grad)
        else:  # the last iterate: a forward pass decides whether it is the best
            with torch.no_grad():
                out, grad = problem.model(xa), None
        adv = problem.success(out, y)
        lp = lp_norm(delta, norm)
        better = adv & (lp < best_norm)
        best_norm = torch.where(better, lp, best_norm)
        best = torch.where(batch_view(better, x), delta, best)
        first = torch.where(adv & (first < 0), i, first)
        if grad is None:
            break
        with torch.no_grad():
            loss = problem.loss_fn(out, y)
            g = _cosine(*gamma, i, steps)
            eps = _update_eps(eps, adv, first >= 0, lp, loss, grad, best_norm, g, norm)
            if worst is not None:
                eps = torch.minimum(eps, worst)
            step = _cosine(*alpha, i, steps) / lp_norm(grad, "l2").clamp_min(TINY)
            delta = delta - grad * batch_view(step, grad)
            delta = clip(x + BALLS[norm].project_delta(delta, eps), bounds) - x
    raise_if_nonfinite(bad, "fmn")
    return best, first >= 0, first


def _update_eps(
    eps: Tensor,
    adv: Tensor,
    found: Tensor,
    lp: Tensor,
    loss: Tensor,
    grad: Tensor,
    best_norm: Tensor,
    g: float,
    norm: str,
) -> Tensor:
    """The adaptive radius (batch,): shrink when adversarial, grow or extrapolate otherwise.

    Before the first adversarial iterate the published rule sets eps to the linear estimate
    ``||delta|| + L / ||grad L||_dual``. That stalls in two ways, both measured on a ReLU network
    with [0, 1] inputs (5 % of the examples never broken in 100 steps): in a linear region the
    estimate is exact, so the iterate lands on the boundary's clean side and stays; and when the
    box clips the step, ``||delta||`` falls short of eps and the estimate shrinks with it. Hence
    ``max(eps_{k-1}, (1 + gamma_k) * estimate)`` here (all broken, smaller median distance).
    """
    to_boundary = loss.abs() / lp_norm(grad, DUAL[norm]).clamp_min(TINY)
    shrink = torch.minimum(eps * (1 - g), best_norm)
    estimate = torch.maximum(eps, (lp + to_boundary) * (1 + g))
    grow = torch.where(found, eps * (1 + g), estimate)
    return torch.where(adv, shrink, grow)
