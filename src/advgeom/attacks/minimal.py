"""Minimal adversarial distance per example, and robust accuracy at many eps from one run.

Two estimates of the smallest perturbation the attack needs (both are upper bounds on the true
minimal distance, which is NP-hard to compute in general):

- ``method="path"``: one early-stopped PGD run in a large ball (radius ``max_eps``); the segment
  from x to the first adversarial iterate is then bisected (forward passes only), so on a model
  that is affine along the path the boundary is found to ``2^-refine_steps`` of the step.
- ``method="bisection"``: per-example bisection on eps, each probe an early-stopped PGD run with
  the example's own radius (``eps`` as a (batch,) tensor), so all examples bisect together.

:func:`robustness_curve` gives the K x N success matrix for a list of eps from one run: from the
minimal distances, or from one PGD run over the K copies of the batch with a per-example eps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from advgeom.attacks._minimal_norm import ATTACK_METHODS, BEST_OF, best_of, by_attack
from advgeom.attacks.evaluate import evaluate_radii
from advgeom.attacks.losses import Criterion, LossFn
from advgeom.attacks.pgd import pgd, run_pgd
from advgeom.attacks.problem import Problem, make_problem
from advgeom.attacks.result import MinimalResult, RobustnessCurve
from advgeom.errors import InputError, check_choice
from advgeom.tensors import Model, batch_view, eval_mode
from advgeom.tensors import arguments as v

PGD_METHODS = ("path", "bisection")
METHODS = (*PGD_METHODS, *ATTACK_METHODS, "best")
CURVE_METHODS = ("pgd", "minimal", "evaluate", *METHODS)


def minimal_distance(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    max_eps: float,
    norm: str = "l2",
    method: str = "path",
    steps: int = 100,
    rel_step_size: float | None = None,
    search_steps: int = 10,
    refine_steps: int = 20,
    bounds: tuple[float, float] | None = None,
    loss: str | LossFn | None = None,
    targeted: bool = False,
    is_adversarial: Criterion | None = None,
    precision: str = "fp32",
) -> MinimalResult:
    """Smallest perturbation, per example, at which PGD finds an adversarial input.

    Args:
        model, x, y, bounds, loss, targeted, is_adversarial, precision: as in :func:`pgd`;
            x is (batch, *input_shape), y is (batch,).
        max_eps: largest radius searched (> 0).
        norm: "l2" or "linf".
        method: "path" (one early-stopped PGD run plus a line search), "bisection" on eps,
            a minimal-norm attack ("deepfool", "fmn", "fab"; class logits, untargeted), or
            "best": per example the smallest of DeepFool, FMN and "path", with the winner in
            ``MinimalResult.method``.
        steps: PGD steps per run (the minimal-norm attacks' steps too).
        rel_step_size: PGD step as a fraction of the radius (of ``max_eps`` for "path", of the
            probed eps for "bisection"); default ``2.5 / steps``.
        search_steps: bisection probes on eps ("bisection").
        refine_steps: bisection steps along the final segment ("path").

    Returns:
        MinimalResult with ``distance`` (batch,), ``x_adv`` (batch, *input_shape), ``success``.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_norm(norm)
    check_choice("method", method, METHODS)
    max_eps = v.check_eps(max_eps, x, "max_eps", allow_zero=False)
    for name, n in (("steps", steps), ("search_steps", search_steps)):
        v.check_steps(n, name)
    if isinstance(refine_steps, bool) or not isinstance(refine_steps, int) or refine_steps < 0:
        raise InputError(f"refine_steps must be an integer >= 0 (got {refine_steps!r})")
    rel = v.check_eps(
        rel_step_size if rel_step_size is not None else 2.5 / steps,
        x,
        "rel_step_size",
        allow_zero=False,
    )
    bounds = v.check_bounds(bounds, x)
    v.check_precision(precision)
    if method not in PGD_METHODS:
        _check_logit_method(method, loss, targeted, is_adversarial)
        opts = dict(max_eps=float(max_eps), norm=norm, steps=steps, bounds=bounds)
        if method != "best":
            return by_attack(method, model, x, y, **opts)
        found = {m: by_attack(m, model, x, y, **opts) for m in BEST_OF if m != "path"}
        found["path"] = minimal_distance(model, x, y, method="path", max_eps=max_eps, norm=norm,
                                         steps=steps, rel_step_size=rel_step_size,
                                         refine_steps=refine_steps, bounds=bounds,
                                         precision=precision)
        return best_of({m: found[m] for m in BEST_OF})
    with eval_mode(model):
        problem = make_problem(model, x, y, loss=loss, is_adversarial=is_adversarial,
                               targeted=targeted, precision=precision,
                               needs_success="minimal_distance")
        opts = dict(norm=norm, steps=steps, bounds=bounds)
        if method == "path":
            return _path(problem, x, y, max_eps, rel, refine_steps, opts)
        return _bisection(problem, x, y, max_eps, rel, search_steps, opts)


def _check_logit_method(method, loss, targeted, is_adversarial) -> None:
    """The minimal-norm attacks are untargeted attacks on class logits."""
    if loss is not None or targeted or is_adversarial is not None:
        raise InputError(
            f"method {method!r} attacks class logits, untargeted: loss, targeted and "
            "is_adversarial apply to method 'path' or 'bisection' only"
        )


def _pgd(problem: Problem, x: Tensor, y: Tensor, eps, step_size, opts: dict):
    return run_pgd(
        problem,
        x,
        y,
        eps=eps,
        step_size=step_size,
        random_start=False,
        generator=None,
        early_stop=True,
        compact_every=None,
        cuda_graph=False,
        **opts,
    )


def _path(problem, x, y, max_eps, rel, refine_steps, opts) -> MinimalResult:
    res = _pgd(problem, x, y, max_eps, rel * max_eps, opts)
    delta = res.x_adv - x
    t = _refine(problem, x, y, delta, res.success, refine_steps)
    x_adv = torch.where(batch_view(res.success, x), x + batch_view(t, x) * delta, res.x_adv)
    inf = torch.full_like(res.distance, float("inf"))
    distance = torch.where(res.success, res.distance * t, inf)
    return MinimalResult(distance, x_adv, res.success)


@torch.no_grad()
def _refine(problem, x, y, delta, success, iters) -> Tensor:
    """Smallest t in (0, 1] with x + t*delta adversarial, by bisection (t=1 is adversarial)."""
    lo = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
    hi = torch.ones_like(lo)
    for _ in range(iters):
        mid = (lo + hi) / 2
        adv = problem.success(problem.model(x + batch_view(mid, x) * delta), y) & success
        hi = torch.where(adv, mid, hi)
        lo = torch.where(adv, lo, mid)
    return hi


def _bisection(problem, x, y, max_eps, rel, search_steps, opts) -> MinimalResult:
    res = _pgd(problem, x, y, max_eps, rel * max_eps, opts)
    x_adv, success = res.x_adv.clone(), res.success
    inf = torch.full_like(res.distance, float("inf"))
    distance = torch.where(success, res.distance, inf)
    lo = torch.zeros_like(distance)
    hi = torch.where(success, distance, inf)
    for _ in range(search_steps):
        idx = (success & (hi > 0)).nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        mid = (lo[idx] + hi[idx]) / 2
        r = _pgd(problem, x[idx], y[idx], mid, rel * mid, opts)
        won, lost = idx[r.success], idx[~r.success]
        # The input found may lie inside the probed ball: its own norm is the better bound.
        hi[won] = torch.minimum(mid[r.success], r.distance[r.success])
        distance[won], x_adv[won] = hi[won], r.x_adv[r.success]
        lo[lost] = mid[~r.success]
    return MinimalResult(distance, x_adv, success)


def robustness_curve(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: Sequence[float],
    norm: str = "linf",
    method: str = "pgd",
    steps: int = 50,
    rel_step_size: float | None = None,
    bounds: tuple[float, float] | None = None,
    loss: str | LossFn | None = None,
    targeted: bool = False,
    is_adversarial: Criterion | None = None,
    precision: str = "fp32",
    protocol: str = "standard",
    seed: int = 0,
) -> RobustnessCurve:
    """Which examples the attack breaks at each of K radii.

    ``method="pgd"``: one early-stopped PGD run over the K copies of the batch, copy k with radius
    eps_k and step ``rel_step_size * eps_k`` (memory K x batch x input). ``method="evaluate"``: the
    :func:`~advgeom.attacks.evaluate.evaluate` ensemble (``protocol``, ``seed``) at each eps from
    the smallest up, each on the examples no smaller radius broke. A :func:`minimal_distance`
    method ("minimal" = "path", "bisection", "deepfool", "fmn", "fab", "best"): one run up to
    ``max(eps)``, then ``distance <= eps_k``.

    Args:
        model, x, y, norm, steps, rel_step_size, bounds, loss, targeted, is_adversarial,
            precision: as in :func:`minimal_distance`; x is (batch, *input_shape).
        eps: K radii >= 0.
        method: "pgd", "evaluate", "minimal" or another :func:`minimal_distance` method.
        protocol, seed: of ``method="evaluate"``.

    Returns:
        RobustnessCurve with ``eps`` (K,), ``success`` (K, batch) and ``robust_accuracy`` (K,).
    """
    x = v.check_x(x)
    check_choice("method", method, CURVE_METHODS)
    y = v.check_y(y, x)
    e = _check_eps_list(eps, x)
    if method == "evaluate":
        _check_logit_method(method, loss, targeted, is_adversarial)
        return RobustnessCurve(e, _evaluated(model, x, y, e, norm, bounds, protocol, seed))
    opts = dict(
        norm=norm,
        steps=steps,
        bounds=bounds,
        loss=loss,
        targeted=targeted,
        is_adversarial=is_adversarial,
        precision=precision,
    )
    if method != "pgd":
        res = minimal_distance(
            model, x, y, max_eps=max(float(e.max()), 1e-12), rel_step_size=rel_step_size,
            method="path" if method == "minimal" else method, **opts
        )
        return RobustnessCurve(e, res.success_matrix(e))
    return RobustnessCurve(e, _tiled_pgd(model, x, y, e, rel_step_size, opts))


def _evaluated(model, x, y, e: Tensor, norm, bounds, protocol, seed) -> Tensor:
    """(K, batch) success of the ensemble at each eps (monotone: see ``evaluate_radii``)."""
    runs = evaluate_radii(model, x, y, eps=e.tolist(), norm=norm, protocol=protocol,
                          bounds=bounds, seed=seed)
    return torch.stack([~r.robust for r in runs])


def _tiled_pgd(model: Model, x: Tensor, y: Tensor, e: Tensor, rel: float | None, opts) -> Tensor:
    """(K, batch) success of one early-stopped PGD run over K copies of the batch, made monotone."""
    k, n = e.numel(), x.shape[0]
    rel = rel if rel is not None else 2.5 / opts["steps"]
    per_eps = e.repeat_interleave(n)
    step = (rel * per_eps).clamp_min(1e-12)  # eps = 0 rows: any positive step, projected away
    tile_x = x.repeat(k, *([1] * (x.dim() - 1)))
    tile_y = y.repeat(k, *([1] * (y.dim() - 1)))
    res = pgd(model, tile_x, tile_y, eps=per_eps, step_size=step, early_stop=True, **opts)
    success = res.success.view(k, n)
    # An input found within a smaller radius lies within every larger one too.
    order = torch.argsort(e)
    success[order] = torch.cummax(success[order].to(torch.uint8), dim=0).values.bool()
    return success


def _check_eps_list(eps: Sequence[float], x: Tensor) -> Tensor:
    e = torch.as_tensor(list(eps) if not isinstance(eps, Tensor) else eps, dtype=x.dtype)
    if e.dim() != 1 or e.numel() == 0:
        raise InputError(f"eps must be a non-empty list of radii (got {eps!r})")
    if not torch.isfinite(e).all() or (e < 0).any():
        raise InputError(f"every eps must be finite and >= 0 (got {e.tolist()})")
    return e.to(x.device)
