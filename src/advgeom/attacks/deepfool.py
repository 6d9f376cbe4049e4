"""DeepFool (Moosavi-Dezfooli et al., CVPR 2016), batched over examples and candidate classes.

Each step linearises the logit differences ``f_k - f_y`` of the ``candidates - 1`` most likely
other classes at the current iterate and moves to the nearest boundary of that linear model:
``r = |f_l - f_y| / ||w_l||_2^2 * w_l`` (l2) or ``|f_l - f_y| / ||w_l||_1 * sign(w_l)`` (l_inf),
with ``l`` the class of smallest ``|f_k - f_y| / ||w_k||_dual``. The iterate is
``clip(x + (1 + overshoot) * sum of r)``; with a box, gradient entries pointing out of it at a
coordinate already on its face are dropped first (else the clipped part of each step is lost and
the iterates creep towards the boundary without crossing it). An example stops at its first
adversarial iterate and leaves the batch. The candidate gradients come from one forward and
``candidates - 1`` backward passes per step for the whole batch.

Unlike the reference code, the found point is then pulled back along the segment from x (forward
passes only, see :func:`refine_segment`), which removes the overshoot from the distance, and every
returned point is re-checked in full precision: an example whose point is not adversarial is
reported as not found (distance inf). Inputs already misclassified get distance 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from advgeom.attacks._shared import (
    DUAL,
    check_finite,
    classifier_problem,
    clip,
    feasible,
    finish_minimal,
)
from advgeom.attacks.losses import check_output, class_logits, margin
from advgeom.attacks.problem import Problem
from advgeom.attacks.result import AttackResult
from advgeom.errors import InputError, check_positive
from advgeom.tensors import TINY, Model, batch_view, eval_mode
from advgeom.tensors import arguments as v


def deepfool(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    norm: str = "l2",
    steps: int = 50,
    overshoot: float = 0.02,
    candidates: int = 10,
    bounds: tuple[float, float] | None = None,
    refine_steps: int = 8,
) -> AttackResult:
    """Smallest perturbation DeepFool finds per example (an upper bound on the true distance).

    Args:
        model: maps (batch, *input_shape) to C class logits (batch, C), or one logit (batch,) /
            (batch, 1) read as the two logits [0, z].
        x: (batch, *input_shape) clean inputs.
        y: (batch,) integer labels in [0, C).
        norm: "l2" or "linf".
        steps: most DeepFool steps per example, >= 1.
        overshoot: >= 0; the iterate is ``x + (1 + overshoot) * r_total``.
        candidates: classes considered, >= 2: the label and the ``candidates - 1`` other classes
            with the largest clean logits (all classes when C <= candidates).
        bounds: (lo, hi) box each iterate is clipped to, or None for no clipping.
        refine_steps: forward passes that search the segment from x to the found point for the
            boundary, >= 0 (see :func:`refine_segment`).

    Returns:
        AttackResult: ``x_adv`` (batch, *input_shape), x itself where none was found;
        ``success`` (batch,), checked in full precision; ``steps_to_success`` (0 for clean
        errors, -1 if not found); ``loss`` the margin ``z_y - max_{j != y} z_j`` at ``x_adv``
        (< 0 when adversarial); ``distance`` ``||x_adv - x||`` in ``norm``, inf where not found.

    Raises:
        InputError: a bad argument, labels outside [0, C), an output that is not class logits,
            or a NaN/inf input gradient.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_norm(norm)
    v.check_steps(steps)
    overshoot = check_positive("overshoot", overshoot, allow_zero=True)
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 2:
        raise InputError(f"candidates must be an integer >= 2 (got {candidates!r})")
    if isinstance(refine_steps, bool) or not isinstance(refine_steps, int) or refine_steps < 0:
        raise InputError(f"refine_steps must be an integer >= 0 (got {refine_steps!r})")
    bounds = v.check_bounds(bounds, x)
    with eval_mode(model):
        problem, classes = classifier_problem(
            model, x, y, loss=margin, targeted=False, attack="deepfool"
        )
        k = min(candidates, classes)
        x_adv, first, ends = _iterate(problem, x, y, norm, steps, overshoot, k, bounds)
        return _finish(problem, x, y, x_adv, first, ends, norm, refine_steps)


def _iterate(
    problem: Problem,
    x: Tensor,
    y: Tensor,
    norm: str,
    steps: int,
    overshoot: float,
    k: int,
    bounds: tuple[float, float] | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """DeepFool steps with per-example stop.

    Returns:
        x_adv (n, ...), first (n,) the step of x_adv (-1: not found), and ends (n, 2): the margin
        at x and at x_adv, which the segment search starts from.
    """
    n = x.shape[0]
    x_adv = x.clone()
    first = torch.full((n,), -1, dtype=torch.long, device=x.device)
    ends = torch.zeros(n, 2, dtype=x.dtype, device=x.device)
    idx = torch.arange(n, device=x.device)  # global row of each active example
    xa, r_total, cand = x, torch.zeros_like(x), None
    for t in range(steps + 1):
        last = t == steps
        out, cand, diff, jac = _linearize(problem.model, xa, y[idx], cand, k, grad=not last)
        adv = problem.success(out, y[idx])
        m = problem.loss_fn(out, y[idx])
        if t == 0:
            ends[:, 0] = m
        x_adv[idx[adv]] = xa[adv]
        first[idx[adv]] = t
        ends[idx[adv], 1] = m[adv]
        keep = (~adv).nonzero().squeeze(1)
        if last or keep.numel() == 0:  # the host sync DeepFool needs anyway
            break
        check_finite(jac, "deepfool")
        idx, xa, r_total = idx[keep], xa[keep], r_total[keep]
        cand, diff, jac = cand[keep], diff[keep], jac[keep]
        if bounds is not None:
            jac = feasible(jac, xa.unsqueeze(1), bounds)
        r_total += _step(diff, jac, norm)
        xa = clip(x[idx] + (1.0 + overshoot) * r_total, bounds)
    return x_adv, first, ends


def _linearize(
    model: Model, xa: Tensor, y: Tensor, cand: Tensor | None, k: int, *, grad: bool
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """Output at xa, and (with ``grad``) the candidates (n, k), f_c - f_y (n, k-1), and their
    input gradients (n, k-1, *input_shape). The candidates are chosen on the first call."""
    if not grad:
        with torch.no_grad():
            return model(xa), cand, None, None
    xa = xa.detach().requires_grad_(True)
    with torch.enable_grad():
        out = model(xa)
        check_output(out, xa.shape[0])
        z = class_logits(out)
        if cand is None:
            others = z.detach().scatter(1, y.view(-1, 1), float("-inf")).topk(k - 1, dim=1)
            cand = torch.cat([y.view(-1, 1), others.indices], dim=1)
        f = z.gather(1, cand)
        diff = f[:, 1:] - f[:, :1]
        # One backward per candidate for the whole batch (the examples' graphs are independent
        # in eval mode). A single vmapped backward (is_grads_batched) measured no faster on CPU
        # and fails on models without batching rules.
        rows = [torch.autograd.grad(diff[:, j].sum(), xa, retain_graph=j < k - 2)[0]
                for j in range(k - 1)]
    return out.detach(), cand, diff.detach(), torch.stack(rows, dim=1)


def _step(diff: Tensor, jac: Tensor, norm: str) -> Tensor:
    """The step to the nearest linearised boundary, (n, *input_shape)."""
    rows = torch.arange(diff.shape[0], device=diff.device)
    flat = jac.flatten(2)
    ord_ = 2 if DUAL[norm] == "l2" else 1
    w_norm = torch.linalg.vector_norm(flat, ord=ord_, dim=2)
    gap = diff.abs()
    best = (gap / w_norm.clamp_min(TINY)).argmin(dim=1)
    w, g, wn = flat[rows, best], gap[rows, best], w_norm[rows, best]
    if norm == "l2":
        r = w * (g / wn.square().clamp_min(TINY)).unsqueeze(1)
    else:
        r = w.sign() * (g / wn.clamp_min(TINY)).unsqueeze(1)
    return r.view(jac.shape[0], *jac.shape[2:])


@torch.no_grad()
def _finish(
    problem: Problem,
    x: Tensor,
    y: Tensor,
    x_adv: Tensor,
    first: Tensor,
    ends: Tensor,
    norm: str,
    refine_steps: int,
) -> AttackResult:
    """Pull each found point back along its segment, re-check in fp32; a failure falls back."""
    found, refined = first >= 0, x_adv.clone()
    rows = (first > 0).nonzero().squeeze(1)
    if refine_steps and rows.numel():
        delta = x_adv[rows] - x[rows]
        t = refine_segment(problem, x[rows], y[rows], delta, ends[rows], refine_steps)
        refined[rows] = x[rows] + batch_view(t, delta) * delta
    result = finish_minimal(problem, x, y, refined, found, first, norm)
    lost = (found & ~result.success).nonzero().squeeze(1)
    if lost.numel():
        again = finish_minimal(problem, x[lost], y[lost], x_adv[lost], found[lost], first[lost],
                               norm)
        result = result.merge(again, lost)
    return result


# Each probe lies this fraction of the way from the margin's linear root to the adversarial end.
PUSH = 1 / 16


@torch.no_grad()
def refine_segment(
    problem: Problem, x: Tensor, y: Tensor, delta: Tensor, ends: Tensor, iters: int
) -> Tensor:
    """(n,) a small t in (0, 1] with x + t * delta adversarial (t = 1 is), by regula falsi.

    The bracket [lo, hi] keeps hi adversarial and lo not. Each probe is the root of the margin's
    secant through lo and hi, moved ``PUSH`` of the way towards hi: where the margin is linear
    along the segment (a ReLU network within one region, an affine model) the probe is
    adversarial and hi - root shrinks 16-fold per forward pass, where plain bisection halves it.
    Elsewhere the bracket still shrinks. ``ends``: (n, 2) the margins at t = 0 and t = 1.
    """
    lo, hi = torch.zeros_like(ends[:, 0]), torch.ones_like(ends[:, 0])
    m_lo, m_hi = ends[:, 0].clamp_min(0), ends[:, 1].clamp_max(0)
    for _ in range(iters):
        root = lo + (hi - lo) * m_lo / (m_lo - m_hi).clamp_min(TINY)
        t = root + PUSH * (hi - root)
        out = problem.model(x + batch_view(t, x) * delta)
        adv, m = problem.success(out, y), problem.loss_fn(out, y)
        hi, m_hi = torch.where(adv, t, hi), torch.where(adv, m.clamp_max(0), m_hi)
        lo, m_lo = torch.where(adv, lo, t), torch.where(adv, m_lo, m.clamp_min(0))
    return hi
