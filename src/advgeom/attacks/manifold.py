"""The manifold attack of Gilmer et al. (2018, section 2.1): PGD that stays on the sphere ||x||.

The loss is maximised subject to ``||x_hat||_2 = ||x||_2``: after every step the iterate is
re-normalised to the starting radius. The paper ran 1000 steps of size 0.01 and either stopped at
the first error (to estimate the distance to the nearest error) or ran all steps ("worst case").

Two steps are offered. The default (``tangent=False``) is the paper's, read literally: a plain l2
PGD step of length ``step_size`` along the normalised loss gradient, then re-normalisation. On the
spheres data the loss gradient is almost radial and the re-normalisation undoes a radial step, so
this step moves along the sphere by less than ``step_size``. ``tangent=True`` is our variant: the
gradient is first projected onto the sphere's tangent plane, so every step moves along the sphere
by about ``step_size``. Experiments that reproduce the paper use the literal step and report the
tangent one beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from advgeom.attacks import _engine
from advgeom.attacks.losses import Criterion, LossFn
from advgeom.attacks.pgd import finish
from advgeom.attacks.problem import make_problem
from advgeom.attacks.result import AttackResult
from advgeom.errors import check_choice
from advgeom.tensors import TINY, Model, batch_view, eval_mode, lp_norm
from advgeom.tensors import arguments as v

MODES = ("first_error", "worst_case")


@dataclass(frozen=True)
class ManifoldResult(AttackResult):
    """:class:`AttackResult` (``distance`` is ``||x_adv - x||_2``) plus:

    Attributes:
        first_error_distance: (batch,) l2 distance from x to the first error found on the
            sphere, ``inf`` where none was found. Equals ``distance`` in "first_error" mode.
    """

    first_error_distance: Tensor | None = None


def manifold_pgd(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    steps: int = 1000,
    step_size: float = 0.01,
    mode: str = "first_error",
    tangent: bool = False,
    loss: str | LossFn | None = None,
    targeted: bool = False,
    is_adversarial: Criterion | None = None,
    compact_every: int | None = None,
    precision: str = "fp32",
) -> ManifoldResult:
    """Maximise the loss on the sphere of radius ||x_i||_2 through each example.

    Args:
        model: maps (batch, n) (or any input shape) to logits (see :func:`advgeom.attacks.pgd`).
        x: (batch, *input_shape) starting points; each keeps its own l2 norm.
        y: (batch,) labels (targets when ``targeted``).
        steps: gradient steps (paper: 1000).
        step_size: l2 length of each step before re-normalising (paper: 0.01).
        mode: "first_error" stops each example at its first error (early stop with batch
            compaction); "worst_case" runs every step and returns the last iterate.
        tangent: False (default): the paper's step along the full normalised gradient; True: along
            its tangential part (see the module docstring).
        loss, targeted, is_adversarial, compact_every, precision: as in :func:`pgd`.

    Returns:
        ManifoldResult: ``x_adv`` (batch, *input_shape) with ``||x_adv_i|| = ||x_i||``,
        ``success``, ``steps_to_success``, ``loss``, ``distance`` and ``first_error_distance``.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_steps(steps)
    step_size = v.check_eps(step_size, x, "step_size", allow_zero=False)
    check_choice("mode", mode, MODES)
    v.check_precision(precision)
    v.check_compact_every(compact_every)
    with eval_mode(model):
        problem = make_problem(model, x, y, loss=loss, is_adversarial=is_adversarial,
                               targeted=targeted, precision=precision, needs_success="manifold_pgd")
        sign = 1.0 if problem.ascend else -1.0
        state = {"r": lp_norm(x, "l2")}
        trace = _engine.run(
            problem,
            x,
            y,
            state,
            steps=steps,
            step=_sphere_step(sign * step_size, tangent),
            early_stop=mode == "first_error",
            compact_every=compact_every,
            record_first=mode == "worst_case",
        )
        base = finish(
            problem, x, y, trace, steps=steps, norm="l2", early_stop=mode == "first_error"
        )
    return ManifoldResult(**vars(base), first_error_distance=_first_distance(base, trace, x))


def _first_distance(base: AttackResult, trace: _engine.Trace, x: Tensor) -> Tensor:
    inf = torch.full_like(base.distance, float("inf"))
    if trace.x_first is None:  # first_error mode: x_adv is the first error
        return torch.where(base.success, base.distance, inf)
    seen = trace.first >= 0
    d_first = lp_norm(trace.x_first - x, "l2")
    return torch.where(seen, d_first, torch.where(base.success, base.distance, inf))


def _sphere_step(step: float, tangent: bool) -> _engine.Step:
    def sphere_step(xa: Tensor, grad: Tensor, st: dict[str, Tensor]) -> None:
        if tangent:
            sq = lp_norm(xa, "l2").square_().clamp_min_(TINY)
            radial = (grad * xa).flatten(1).sum(dim=1) / sq
            grad.sub_(xa * batch_view(radial, xa))
        gnorm = lp_norm(grad, "l2").clamp_min_(TINY)
        xa.addcmul_(grad, batch_view(step / gnorm, xa))
        xa.mul_(batch_view(st["r"] / lp_norm(xa, "l2").clamp_min_(TINY), xa))

    return sphere_step
