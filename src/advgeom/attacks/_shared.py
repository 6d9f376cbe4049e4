"""Pieces shared by the logit attacks (DeepFool, FMN, APGD): problem set-up, norms, checks."""

from __future__ import annotations

import torch
from torch import Tensor

from advgeom.attacks.losses import (
    LossFn,
    check_class_labels,
    default_is_adversarial,
    targeted_is_adversarial,
)
from advgeom.attacks.problem import Problem, probe
from advgeom.attacks.result import AttackResult
from advgeom.errors import InputError
from advgeom.tensors import Model, lp_norm

# The dual of each attack norm: a linear function w.x changes by at most eps * ||w||_dual.
DUAL = {"l2": "l2", "linf": "l1"}


def classifier_problem(
    model: Model, x: Tensor, y: Tensor, *, loss: LossFn, targeted: bool, attack: str
) -> tuple[Problem, int]:
    """The Problem of an attack on class logits, and the number of classes C (2 for one logit).

    Probes the model on the first row(s) once; ``y`` must be class labels (targets when
    ``targeted``) in [0, C).
    """
    out, _ = probe(model, x)
    if out.dim() == 2 and out.shape[1] > 1:
        classes = out.shape[1]
    elif out.dim() == 1 or (out.dim() == 2 and out.shape[1] == 1):
        classes = 2
    else:
        raise InputError(
            f"{attack} needs class logits: model output has shape {tuple(out.shape)}, expected "
            "(batch, classes) or one logit (batch,) / (batch, 1)"
        )
    check_class_labels(y, classes)
    criterion = targeted_is_adversarial if targeted else default_is_adversarial
    return Problem(model, loss, criterion, ascend=not targeted), classes


def check_finite(grad: Tensor, attack: str) -> None:
    """Raise when an input gradient holds NaN or inf (one host sync: call it where one is paid)."""
    raise_if_nonfinite(nonfinite(grad), attack)


def raise_if_nonfinite(flag: Tensor, attack: str) -> None:
    """Raise the NaN-gradient InputError when the () bool ``flag`` of :func:`nonfinite` is set."""
    if bool(flag):
        raise InputError(
            f"{attack}: the model's input gradient contains NaN or inf at an iterate; make the "
            "model's output differentiable and finite there (e.g. no log(0) or 0/0)"
        )


def nonfinite(grad: Tensor) -> Tensor:
    """() bool on grad's device: whether grad holds NaN or inf (no host sync)."""
    return ~torch.isfinite(grad).all()


def feasible(grad: Tensor, xa: Tensor, bounds: tuple[float, float]) -> Tensor:
    """Zero the entries of ``grad`` that point out of the box where ``xa`` is on its face.

    A step along such an entry is clipped away: the linear estimate of the distance to the
    boundary counts it, so the iterates of an example on the box's face then approach the
    boundary geometrically without crossing it (DeepFool on [0, 1] inputs: 1 % of the examples
    were never broken). ``xa`` broadcasts against ``grad``.
    """
    blocked = ((xa <= bounds[0]) & (grad < 0)) | ((xa >= bounds[1]) & (grad > 0))
    return grad.masked_fill(blocked, 0.0)


def clip(xa: Tensor, bounds: tuple[float, float] | None) -> Tensor:
    return xa if bounds is None else xa.clamp(*bounds)


@torch.no_grad()
def finish_minimal(
    problem: Problem, x: Tensor, y: Tensor, x_adv: Tensor, found: Tensor, first: Tensor, norm: str
) -> AttackResult:
    """Check ``x_adv`` in full precision; examples not confirmed get distance inf and step -1.

    Args:
        x, x_adv: (batch, *input_shape) clean and candidate adversarial inputs.
        found: (batch,) bool, the attack believes ``x_adv`` adversarial.
        first: (batch,) long, the step at which it was found.
    """
    loss, success = problem.evaluate(x_adv, y)
    success = success & found
    inf = torch.full((x.shape[0],), float("inf"), dtype=x.dtype, device=x.device)
    distance = torch.where(success, lp_norm(x_adv - x, norm), inf)
    return AttackResult(x_adv, success, torch.where(success, first, -1), loss, distance)
