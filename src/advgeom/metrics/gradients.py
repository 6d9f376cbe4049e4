"""Input gradients of the loss and their norms, one value per example (Simon-Gabriel et al.)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from advgeom.attacks.losses import LossFn
from advgeom.attacks.problem import make_problem
from advgeom.errors import check_choice
from advgeom.tensors import Model, eval_mode
from advgeom.tensors import arguments as v
from advgeom.tensors.norms import NORMS, lp_norm


def input_gradient(
    model: Model, x: Tensor, y: Tensor, *, loss: str | LossFn | None = None
) -> Tensor:
    """``grad_x L(model(x_i), y_i)`` of each example's own loss (the model in eval mode).

    Args:
        model: maps (batch, *input_shape) to an output the loss accepts.
        x: (batch, *input_shape) inputs.
        y: (batch,) labels, or (batch, ...) targets for "mse".
        loss: loss name or callable, None to infer (see :mod:`advgeom.attacks.losses`).

    Returns:
        (batch, *input_shape) gradient (not averaged over the batch).
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    with eval_mode(model):
        problem = make_problem(model, x, y, loss=loss, is_adversarial=None, targeted=False)
        xa = x.detach().clone().requires_grad_(True)
        _, grad = problem.loss_grad(xa, y)
    return grad


def gradient_norms(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    norms: Sequence[str] = NORMS,
    loss: str | LossFn | None = None,
) -> dict[str, Tensor]:
    """``||grad_x L||_q`` per example for each q in ``norms`` (from one backward pass).

    Args:
        model, x, y, loss: as in :func:`input_gradient`.
        norms: any of "l1", "l2", "linf".

    Returns:
        ``{q: (batch,) tensor}``. For an affine model ``w.x + b`` and a loss linear in the
        output these are ``||w||_q``.
    """
    for q in norms:
        check_choice("norms", q, NORMS)
    grad = input_gradient(model, x, y, loss=loss)
    return {q: lp_norm(grad, q) for q in norms}


def gradient_norm(
    model: Model, x: Tensor, y: Tensor, *, norm: str = "l1", loss: str | LossFn | None = None
) -> Tensor:
    """``||grad_x L||_norm`` per example, shape (batch,); see :func:`gradient_norms`."""
    return gradient_norms(model, x, y, norms=(norm,), loss=loss)[norm]


__all__ = ["gradient_norm", "gradient_norms", "input_gradient"]
