"""Training objectives against first-order adversarial vulnerability, for any PyTorch classifier.

Simon-Gabriel et al. (2019), Sec. 2 and 4.1. Every objective returns an :class:`Objective` whose
``total`` is the scalar to back-propagate; the batch mean replaces the expectation over x.

Units (the paper's Eq. 3, and the authors' code). ``eps`` is always a *per-pixel* size eps_inf;
an l_p quantity uses ``eps_p = eps * d^(1/p)``, d = number of input coordinates of one example:

- ``grad_l1`` / ``grad_l2``: gradient penalty (Eq. 4, double back-propagation)
  ``L + (eps_p / 2) * E ||grad_x L||_q`` with p dual to q: q = 1 -> eps_inf = eps;
  q = 2 -> eps_2 = eps * sqrt(d). This is the code's ``lam * d^(1 - 1/q) * E||grad_x L||_q / 2``.
- ``adv_linf`` / ``adv_l2``: adversarial augmentation (Eq. 5) ``(L(x) + L(x + delta)) / 2`` with
  one gradient step: delta = eps * sign(g) (FGSM) or eps * sqrt(d) * g / ||g||_2. To first order
  it equals the penalty of the dual norm at the same eps (Prop. 3).
- ``pgd``: Madry et al.'s training on ``L(x_adv)`` alone (as in the authors' code), x_adv from
  :func:`advgeom.attacks.pgd` in the l_inf ball of radius eps: random start, 7 steps of 0.2 eps.
  The attack runs with the model in eval mode (the library's attacks always do).
- ``cross_lipschitz``: Hein & Andriushchenko's regulariser ``L + eps * E[(1/K^2) sum_{l,m}
  ||grad_x f_l - grad_x f_m||_2^2]`` over the K logits (the authors' ``crossLip``; ``eps`` is
  then a plain weight, not a per-pixel size).

Per-example input gradients are taken of the summed per-example loss (the authors' ``grad(mean)
* batch``). With batch-norm in train mode the batch statistics couple the examples, so each
"per-example" gradient also carries the small cross-example terms, as in the authors' code.
``eps = 0`` gives the plain loss for every method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from advgeom.attacks import pgd
from advgeom.attacks.losses import LossFn, check_output, resolve_loss
from advgeom.errors import InputError, check_choice, check_int, check_positive
from advgeom.tensors import Model, lp_norm

METHODS = ("plain", "grad_l1", "grad_l2", "adv_linf", "adv_l2", "pgd", "cross_lipschitz")


@dataclass(frozen=True)
class Objective:
    """One batch's training objective.

    Attributes:
        total: scalar to back-propagate.
        loss: scalar mean loss on the inputs the network was trained on (clean x, or x_adv
            for ``pgd``), detached.
        output: (batch, ...) model output on those inputs, detached (for accuracy).
    """

    total: Tensor
    loss: Tensor
    output: Tensor


@dataclass(frozen=True)
class Method:
    """A training method and its strength (see the module docstring for the units).

    Attributes:
        name: one of :data:`METHODS`.
        eps: per-pixel strength eps_inf >= 0 (cross_lipschitz: the regulariser's weight).
        pgd_steps: attack steps of ``pgd`` training (7 in the paper).
        pgd_step_fraction: step size of ``pgd`` training as a fraction of eps (0.2).
        bounds: (lo, hi) box for perturbed inputs, or None (the authors' code clips nothing).
    """

    name: str = "plain"
    eps: float = 0.0
    pgd_steps: int = 7
    pgd_step_fraction: float = 0.2
    bounds: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        check_choice("method", self.name, METHODS)
        check_positive("eps", self.eps, allow_zero=True)
        check_int("pgd_steps", self.pgd_steps, minimum=1)
        check_positive("pgd_step_fraction", self.pgd_step_fraction)
        if self.bounds is not None and not (
            len(self.bounds) == 2 and self.bounds[0] < self.bounds[1]
        ):
            raise InputError(f"bounds must be None or (lo, hi) with lo < hi (got {self.bounds})")

    @property
    def label(self) -> str:
        """A short name for tables and legends, e.g. ``grad_l1 eps=0.01``."""
        return self.name if self.eps == 0 else f"{self.name} eps={self.eps:g}"


def _loss_fn(loss: str | LossFn | None, output: Tensor, batch: int) -> LossFn:
    check_output(output, batch)
    return resolve_loss(loss, output)


def _with_input_grad(
    model: Model, x: Tensor, y: Tensor, loss: str | LossFn | None, *, create_graph: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Output (batch, ...), per-example loss (batch,) and grad_x of the summed loss (x's shape)."""
    xg = x.detach().requires_grad_(True)
    out = model(xg)
    per_example = _loss_fn(loss, out, x.shape[0])(out, y)
    (grad,) = torch.autograd.grad(
        per_example.sum(), xg, create_graph=create_graph, retain_graph=True
    )
    return out, per_example, grad


def plain_loss(
    model: Model, x: Tensor, y: Tensor, *, loss: str | LossFn | None = None
) -> Objective:
    """Mean loss ``E L(x, y)``. x: (batch, *input_shape); y: (batch,)."""
    out = model(x)
    mean = _loss_fn(loss, out, x.shape[0])(out, y).mean()
    return Objective(mean, mean.detach(), out.detach())


def penalty_weight(eps: float, *, q: int, d: int) -> float:
    """``eps_p / 2 = eps * d^(1 - 1/q) / 2``: the weight of E||grad_x L||_q for per-pixel eps."""
    check_choice("q", q, (1, 2))
    return eps * d ** (1.0 - 1.0 / q) / 2.0


def gradient_penalty(
    model: Model, x: Tensor, y: Tensor, *, eps: float, q: int, loss: str | LossFn | None = None
) -> Tensor:
    """Per-example penalty ``(eps_p / 2) * ||grad_x L(x_i)||_q``, shape (batch,), differentiable
    in the parameters (double back-propagation). For f(x) = w.x + b and a loss equal to the output
    it is ``eps * d^(1 - 1/q) / 2 * ||w||_q`` (q = 1: ``eps / 2 * ||w||_1``)."""
    weight = penalty_weight(check_positive("eps", eps, allow_zero=True), q=q, d=x[0].numel())
    _, _, grad = _with_input_grad(model, x, y, loss, create_graph=True)
    return weight * lp_norm(grad, "l1" if q == 1 else "l2")


def gradient_penalty_loss(
    model: Model, x: Tensor, y: Tensor, *, eps: float, q: int, loss: str | LossFn | None = None
) -> Objective:
    """Eq. 4: ``E L + (eps_p / 2) E ||grad_x L||_q``, one forward pass, double backprop."""
    weight = penalty_weight(check_positive("eps", eps, allow_zero=True), q=q, d=x[0].numel())
    if weight == 0:
        return plain_loss(model, x, y, loss=loss)
    out, per_example, grad = _with_input_grad(model, x, y, loss, create_graph=True)
    mean = per_example.mean()
    penalty = lp_norm(grad, "l1" if q == 1 else "l2").mean()
    return Objective(mean + weight * penalty, mean.detach(), out.detach())


def gradient_step(grad: Tensor, *, eps: float, norm: str) -> Tensor:
    """The one-step attack of size eps per pixel: ``eps * sign(g)`` (l_inf) or
    ``eps * sqrt(d) * g / ||g||_2`` (l2, eps_2 = eps sqrt(d)). grad: (batch, ...) -> same shape."""
    check_choice("norm", norm, ("linf", "l2"))
    if norm == "linf":
        return eps * grad.sign()
    d = grad[0].numel()
    size = lp_norm(grad, "l2").clamp_min(1e-20).view(-1, *[1] * (grad.dim() - 1))
    return grad * (eps * math.sqrt(d) / size)


def adversarial_augmentation_loss(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    norm: str,
    bounds: tuple[float, float] | None = None,
    loss: str | LossFn | None = None,
) -> Objective:
    """Eq. 5: ``(E L(x) + E L(x + delta)) / 2`` with delta one gradient step (see
    :func:`gradient_step`), taken from the same forward pass as the clean loss."""
    check_positive("eps", eps, allow_zero=True)
    if eps == 0:
        return plain_loss(model, x, y, loss=loss)
    out, per_example, grad = _with_input_grad(model, x, y, loss, create_graph=False)
    x_adv = x.detach() + gradient_step(grad.detach(), eps=eps, norm=norm)
    if bounds is not None:
        x_adv = x_adv.clamp(*bounds)
    out_adv = model(x_adv)
    mean = per_example.mean()
    adv_mean = _loss_fn(loss, out_adv, x.shape[0])(out_adv, y).mean()
    return Objective((mean + adv_mean) / 2, mean.detach(), out.detach())


def pgd_training_loss(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    steps: int = 7,
    step_fraction: float = 0.2,
    bounds: tuple[float, float] | None = None,
    loss: str | LossFn | None = None,
    generator: torch.Generator | None = None,
) -> Objective:
    """Madry et al.: ``E L(x_adv)`` with x_adv from PGD l_inf (random start, ``steps`` steps of
    ``step_fraction * eps``); the attack runs in eval mode, the loss in the model's mode."""
    check_positive("eps", eps, allow_zero=True)
    if eps == 0:
        return plain_loss(model, x, y, loss=loss)
    res = pgd(
        model,
        x.detach(),
        y,
        eps=eps,
        norm="linf",
        steps=steps,
        step_size=step_fraction * eps,
        random_start=True,
        bounds=bounds,
        loss=loss,
        generator=generator,
    )
    return plain_loss(model, res.x_adv, y, loss=loss)


def cross_lipschitz(model: Model, x: Tensor) -> tuple[Tensor, Tensor]:
    """Hein & Andriushchenko's regulariser per example and the logits.

    Uses ``sum_{l,m} ||a_l - a_m||^2 = 2K sum_l ||a_l||^2 - 2 ||sum_l a_l||^2`` with
    a_k = grad_x f_k (one differentiable backward pass per logit).

    Returns:
        ((batch,) ``(1/K^2) sum_{l,m} ||grad_x f_l - grad_x f_m||_2^2``, (batch, K) logits).
    """
    xg = x.detach().requires_grad_(True)
    out = model(xg)
    if out.dim() != 2 or out.shape[1] < 2:
        raise InputError(f"cross_lipschitz needs (batch, K >= 2) logits (got {tuple(out.shape)})")
    k = out.shape[1]
    squares = torch.zeros(x.shape[0], dtype=out.dtype, device=out.device)
    total = torch.zeros_like(xg)
    for c in range(k):
        (g,) = torch.autograd.grad(out[:, c].sum(), xg, create_graph=True, retain_graph=True)
        squares = squares + g.flatten(1).square().sum(1)
        total = total + g
    value = 2 * k * squares - 2 * total.flatten(1).square().sum(1)
    return value / k**2, out


def cross_lipschitz_loss(
    model: Model, x: Tensor, y: Tensor, *, eps: float, loss: str | LossFn | None = None
) -> Objective:
    """``E L + eps * E cross_lipschitz(x)`` (App. D; the authors' ``crossLip`` weight ``lam``)."""
    check_positive("eps", eps, allow_zero=True)
    if eps == 0:
        return plain_loss(model, x, y, loss=loss)
    reg, out = cross_lipschitz(model, x)
    mean = _loss_fn(loss, out, x.shape[0])(out, y).mean()
    return Objective(mean + eps * reg.mean(), mean.detach(), out.detach())


def objective(
    model: Model,
    x: Tensor,
    y: Tensor,
    method: Method,
    *,
    loss: str | LossFn | None = None,
    generator: torch.Generator | None = None,
) -> Objective:
    """The objective of ``method`` on one batch. x: (batch, *input_shape); y: (batch,).

    ``generator`` feeds PGD's random start; the other methods are deterministic.
    """
    m = method
    if m.name == "plain" or m.eps == 0:
        return plain_loss(model, x, y, loss=loss)
    if m.name in ("grad_l1", "grad_l2"):
        return gradient_penalty_loss(
            model, x, y, eps=m.eps, q=1 if m.name == "grad_l1" else 2, loss=loss
        )
    if m.name in ("adv_linf", "adv_l2"):
        return adversarial_augmentation_loss(
            model, x, y, eps=m.eps, norm=m.name[4:], bounds=m.bounds, loss=loss
        )
    if m.name == "pgd":
        return pgd_training_loss(
            model,
            x,
            y,
            eps=m.eps,
            steps=m.pgd_steps,
            step_fraction=m.pgd_step_fraction,
            bounds=m.bounds,
            loss=loss,
            generator=generator,
        )
    return cross_lipschitz_loss(model, x, y, eps=m.eps, loss=loss)


__all__ = [
    "METHODS",
    "Method",
    "Objective",
    "adversarial_augmentation_loss",
    "cross_lipschitz",
    "cross_lipschitz_loss",
    "gradient_penalty",
    "gradient_penalty_loss",
    "gradient_step",
    "objective",
    "penalty_weight",
    "pgd_training_loss",
    "plain_loss",
]
