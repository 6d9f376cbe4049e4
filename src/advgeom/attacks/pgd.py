"""Projected gradient descent (Madry et al.) in l_inf and l2, with early stop and restarts."""

from __future__ import annotations

import torch
from torch import Tensor

from advgeom.attacks import _engine
from advgeom.attacks.balls import BALLS, NormBall
from advgeom.attacks.losses import Criterion, LossFn
from advgeom.attacks.problem import Problem, make_problem
from advgeom.attacks.result import AttackResult
from advgeom.tensors import Model, batch_view, eval_mode, lp_norm
from advgeom.tensors import arguments as v

Scalar = float | Tensor


def pgd(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: Scalar,
    norm: str = "linf",
    steps: int,
    step_size: Scalar,
    random_start: bool = False,
    bounds: tuple[float, float] | None = None,
    loss: str | LossFn | None = None,
    targeted: bool = False,
    restarts: int = 1,
    early_stop: bool = False,
    is_adversarial: Criterion | None = None,
    generator: torch.Generator | None = None,
    compact_every: int | None = None,
    precision: str = "fp32",
    cuda_graph: bool = False,
) -> AttackResult:
    """Projected gradient ascent on the loss inside the ``norm`` ball of radius ``eps`` around x.

    Each step moves by ``step_size`` along sign(grad) (l_inf) or grad/||grad||_2 (l2), then
    projects onto the ball and clips to ``bounds``. The model runs in eval mode (its modes are
    restored) on x's device; only the input gradient is computed.

    Args:
        model: maps (batch, *input_shape) to logits (batch, C), one logit (batch,)/(batch, 1), or
            any output that ``loss`` accepts.
        x: (batch, *input_shape) clean inputs.
        y: (batch,) labels (targets when ``targeted``), or (batch, ...) targets for "mse".
        eps: ball radius, >= 0; a number or a (batch,) tensor (one radius per example).
        norm: "linf" or "l2".
        steps: number of gradient steps, >= 1.
        step_size: length of each step in ``norm``; a number or a (batch,) tensor.
        random_start: start uniformly in the ball (l2: direction on the sphere, radius eps*U^(1/d)).
        bounds: (lo, hi) box for the inputs, or None for no clipping.
        loss: "cross_entropy", "binary_cross_entropy", "mse", a callable ``loss(output, y) ->
            (batch,)``, or None (cross-entropy for C logits, sigmoid cross-entropy for one).
        targeted: descend the loss towards ``y``; success is then "prediction == y".
        restarts: independent random starts; each example keeps its best run (adversarial first,
            then higher loss). With ``early_stop`` a restart only reruns examples not yet broken.
        early_stop: stop each example at its first adversarial iterate; finished examples leave
            the batch so the cost falls as examples break.
        is_adversarial: ``f(output, y) -> (batch,) bool`` replacing the default success test.
        generator: source of randomness for ``random_start``.
        compact_every: with ``early_stop``, remove finished examples every this many steps
            (default 1 on CPU, 4 on CUDA, where each check synchronises the device).
        precision: "fp32"; "bf16" (autocast) or "tf32" (CUDA matmuls; no effect on CPU) for the
            gradient steps. Success and loss of the result are always re-checked in full
            precision; with early stop, an example stopped by a reduced-precision check that
            fp32 does not confirm is reported as not broken.
        cuda_graph: replay the step as a CUDA graph (CUDA with early_stop=False only, else
            ignored). The last graph is cached: a repeated call with the same model, shapes and
            constants only replays (:func:`clear_graph_cache` frees it). The success test must
            not synchronise.

    Returns:
        AttackResult: ``x_adv`` (batch, *input_shape), ``success``, ``steps_to_success``,
        ``loss`` and ``distance`` (batch,). Without early stop ``x_adv`` is the last iterate.

    Raises:
        InputError: a bad argument (negative eps, steps < 1, unknown norm, bad bounds, x outside
            bounds or NaN, a model output that does not fit the loss).
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_norm(norm)
    v.check_steps(steps)
    eps = v.check_eps(eps, x)
    step_size = v.check_eps(step_size, x, "step_size", allow_zero=False)
    bounds = v.check_bounds(bounds, x)
    v.check_restarts(restarts, random_start)
    v.check_precision(precision)
    v.check_compact_every(compact_every)
    with eval_mode(model):
        problem = make_problem(model, x, y, loss=loss, is_adversarial=is_adversarial,
                               targeted=targeted, precision=precision,
                               needs_success="early_stop" if early_stop else None)
        opts = dict(
            norm=norm,
            steps=steps,
            bounds=bounds,
            random_start=random_start,
            generator=generator,
            early_stop=early_stop,
            compact_every=compact_every,
            cuda_graph=cuda_graph,
        )
        return _with_restarts(problem, x, y, eps, step_size, restarts, opts)


def _const(value: Scalar) -> float | None:
    """A number as part of a cache key; a per-example tensor lives in the graph's buffers."""
    return None if isinstance(value, Tensor) else value


def _take(value: Scalar, idx: Tensor) -> Scalar:
    return value[idx] if isinstance(value, Tensor) else value


def _with_restarts(
    problem: Problem,
    x: Tensor,
    y: Tensor,
    eps: Scalar,
    step_size: Scalar,
    restarts: int,
    opts: dict,
) -> AttackResult:
    """Run once, then rerun the examples a restart can still improve and keep the best."""
    result = run_pgd(problem, x, y, eps=eps, step_size=step_size, **opts)
    for _ in range(restarts - 1):
        if opts["early_stop"]:
            idx = (~result.success).nonzero().squeeze(1)
        else:
            idx = torch.arange(x.shape[0], device=x.device)
        if idx.numel() == 0:
            break
        part = run_pgd(
            problem, x[idx], y[idx], eps=_take(eps, idx), step_size=_take(step_size, idx), **opts
        )
        result = result.merge(part, idx)
    return result


def run_pgd(
    problem: Problem,
    x: Tensor,
    y: Tensor,
    *,
    eps: Scalar,
    step_size: Scalar,
    norm: str,
    steps: int,
    bounds: tuple[float, float] | None,
    random_start: bool,
    generator: torch.Generator | None,
    early_stop: bool,
    compact_every: int | None,
    cuda_graph: bool,
) -> AttackResult:
    """One PGD run on validated arguments (the body of :func:`pgd`, reused by other attacks)."""
    sign = 1.0 if problem.ascend else -1.0
    signed_step = sign * step_size
    state, step = make_step(norm, x, eps, signed_step, bounds)
    x_start = x
    if random_start:
        nb = step.ball
        x_start = nb.project_(x + nb.sample(x, eps, generator), state, step.eps, bounds)
    graph_key = None
    if cuda_graph:  # the step's Python constants are baked into a captured graph
        graph_key = ("pgd", norm, _const(eps), _const(signed_step), bounds)
    trace = _engine.run(
        problem,
        x_start,
        y,
        state,
        steps=steps,
        step=step,
        early_stop=early_stop,
        compact_every=compact_every,
        graph_key=graph_key,
    )
    return finish(problem, x, y, trace, steps=steps, norm=norm, early_stop=early_stop)


def finish(
    problem: Problem,
    x: Tensor,
    y: Tensor,
    trace: _engine.Trace,
    *,
    steps: int,
    norm: str,
    early_stop: bool,
) -> AttackResult:
    """Check the returned iterates in fp32 and assemble the result."""
    loss, success = problem.evaluate(trace.x, y)
    first = trace.first
    if early_stop:  # a stop seen by a reduced-precision check but not confirmed counts as none
        first = torch.where(success, torch.where(first >= 0, first, steps), -1)
    else:
        first = torch.where((first < 0) & success, steps, first)
    dist = lp_norm(trace.x - x, norm)
    return AttackResult(trace.x, success, first, loss, dist)


class _Step:
    """One PGD step on the iterates, in place: ``xa += step * direction(grad)``, then project.

    Constants (a number eps / step size, the box) are attributes, so a CUDA graph can bake them
    in; per-example values (a (batch,) eps or step size, the ball's limits) live in the state
    dict, which early stop re-indexes.
    """

    def __init__(self, ball: NormBall, eps: Scalar, step: Scalar, bounds) -> None:
        self.ball, self.bounds = ball, bounds
        self.eps = None if isinstance(eps, Tensor) else eps
        self.step = None if isinstance(step, Tensor) else step
        self._eps, self._step = eps, step

    def state(self, x: Tensor) -> dict[str, Tensor]:
        state = self.ball.limits(x, self._eps, self.bounds)
        if self.step is None:
            state["step"] = self._step
        return state

    def __call__(self, xa: Tensor, grad: Tensor, st: dict[str, Tensor]) -> None:
        s = batch_view(st["step"], xa) if self.step is None else self.step
        xa.add_(self.ball.direction(grad) * s)
        self.ball.project_(xa, st, self.eps, self.bounds)


def make_step(
    norm: str, x: Tensor, eps: Scalar, step_size: Scalar, bounds: tuple[float, float] | None
) -> tuple[dict[str, Tensor], _Step]:
    """The PGD step of ``norm`` around x and its per-example state (signed step: < 0 descends)."""
    step = _Step(BALLS[norm], eps, step_size, bounds)
    return step.state(x), step
