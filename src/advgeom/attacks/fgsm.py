"""One-step attacks: FGSM (l_inf, sign of the gradient) and FGM (l2, normalised gradient)."""

from __future__ import annotations

from torch import Tensor

from advgeom.attacks.losses import Criterion, LossFn
from advgeom.attacks.pgd import run_pgd
from advgeom.attacks.problem import make_problem
from advgeom.attacks.result import AttackResult
from advgeom.tensors import Model, eval_mode
from advgeom.tensors import arguments as v


def fgm(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: float | Tensor,
    norm: str = "l2",
    bounds: tuple[float, float] | None = None,
    loss: str | LossFn | None = None,
    targeted: bool = False,
    is_adversarial: Criterion | None = None,
) -> AttackResult:
    """Fast gradient method: one step of length ``eps`` in ``norm`` along the loss gradient.

    ``x_adv = clip(x + eps * sign(g))`` for "linf" (FGSM), ``clip(x + eps * g / ||g||_2)`` for
    "l2". To first order it raises the loss by ``eps * ||g||_q`` (q dual to ``norm``).

    Args:
        model: maps (batch, *input_shape) to logits (see :func:`advgeom.attacks.pgd`).
        x: (batch, *input_shape) clean inputs.
        y: (batch,) labels (targets when ``targeted``), or targets for ``loss="mse"``.
        eps: step length >= 0, a number or a (batch,) tensor.
        norm: "l2" (default) or "linf".
        bounds: (lo, hi) box, or None for no clipping.
        loss: loss name or callable, None to infer (see :mod:`advgeom.attacks.losses`).
        targeted: step down the loss of the target ``y``.
        is_adversarial: custom success test ``f(output, y) -> (batch,) bool``.

    Returns:
        AttackResult with ``x_adv`` (batch, *input_shape); ``steps_to_success`` is 0 for clean
        errors, 1 when the step broke the example, -1 otherwise.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_norm(norm)
    eps = v.check_eps(eps, x)
    bounds = v.check_bounds(bounds, x)
    with eval_mode(model):
        problem = make_problem(
            model, x, y, loss=loss, is_adversarial=is_adversarial, targeted=targeted
        )
        # One PGD step of size eps from x lands on the ball's surface: projection is a no-op.
        return run_pgd(
            problem,
            x,
            y,
            eps=eps,
            step_size=eps,
            norm=norm,
            steps=1,
            bounds=bounds,
            random_start=False,
            generator=None,
            early_stop=False,
            compact_every=None,
            cuda_graph=False,
        )


def fgsm(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: float | Tensor,
    bounds: tuple[float, float] | None = None,
    loss: str | LossFn | None = None,
    targeted: bool = False,
    is_adversarial: Criterion | None = None,
) -> AttackResult:
    """Fast gradient sign method (Goodfellow et al.): :func:`fgm` with ``norm="linf"``.

    ``x_adv = clip(x + eps * sign(grad_x L))``, shape (batch, *input_shape); see :func:`fgm`.
    """
    return fgm(
        model,
        x,
        y,
        eps=eps,
        norm="linf",
        bounds=bounds,
        loss=loss,
        targeted=targeted,
        is_adversarial=is_adversarial,
    )


__all__ = ["fgm", "fgsm"]
