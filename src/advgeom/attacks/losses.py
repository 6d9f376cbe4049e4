"""Per-example losses and the notion of "success" (an adversarial output) used by every attack.

A loss takes ``(output, y)`` and returns one value per example, shape ``(batch,)``; attacks sum it
so that each example's gradient is the gradient of its own loss. Losses by name:

- ``"cross_entropy"``: C logits ``(batch, C)``, integer labels ``(batch,)``.
- ``"binary_cross_entropy"``: sigmoid cross-entropy on one logit ``(batch,)`` or ``(batch, 1)``,
  labels 0/1 ``(batch,)`` (the spheres networks).
- ``"mse"``: reconstruction error, output and target of the same shape (autoencoders); mean over
  features.

``loss=None`` picks cross-entropy for C > 1 logits and binary cross-entropy for one logit.

Success (:func:`default_is_adversarial`): a classifier's prediction is ``argmax`` of C logits, or
``logit > 0`` for one logit; untargeted success is ``prediction != y``, targeted success is
``prediction == y`` (``y`` then holds the targets). Pass ``is_adversarial(output, y) -> (batch,)``
bool for anything else. A model trained with ``"mse"`` has no default notion of success.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from advgeom.errors import InputError

LossFn = Callable[[Tensor, Tensor], Tensor]
Criterion = Callable[[Tensor, Tensor], Tensor]


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def upcast(t: Tensor) -> Tensor:
    """fp16/bf16 outputs (autocast) to fp32 before a loss; fp32 and fp64 stay as they are."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _one_logit(output: Tensor, what: str) -> Tensor:
    if output.dim() == 2 and output.shape[1] == 1:
        return output[:, 0]
    if output.dim() == 1:
        return output
    raise InputError(
        f"model output has shape {_shape(output)}; {what} needs one logit, (batch,) or (batch, 1)"
    )


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Softmax cross-entropy per example. logits: (batch, C); y: (batch,) int -> (batch,)."""
    if logits.dim() != 2 or logits.shape[1] < 2:
        raise InputError(
            f"model output has shape {_shape(logits)}; loss 'cross_entropy' needs (batch, classes)"
        )
    return F.cross_entropy(upcast(logits), y.long(), reduction="none")


def binary_cross_entropy(logit: Tensor, y: Tensor) -> Tensor:
    """Sigmoid cross-entropy per example. logit: (batch,) or (batch, 1); y: (batch,) 0/1."""
    z = upcast(_one_logit(logit, "loss 'binary_cross_entropy'"))
    return F.binary_cross_entropy_with_logits(z, y.reshape(z.shape).to(z.dtype), reduction="none")


def mse(output: Tensor, target: Tensor) -> Tensor:
    """Mean squared error per example. output, target: (batch, *shape) -> (batch,)."""
    if output.shape != target.shape:
        raise InputError(
            f"model output has shape {_shape(output)}; loss 'mse' needs the target's shape "
            f"{_shape(target)}"
        )
    return (upcast(output) - upcast(target)).square().flatten(1).mean(dim=1)


LOSSES: dict[str, LossFn] = {
    "cross_entropy": cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "mse": mse,
}


def is_classifier_output(output: Tensor) -> bool:
    """Whether ``output`` looks like class logits: (batch,), (batch, 1) or (batch, C)."""
    return output.dim() in (1, 2)


def resolve_loss(loss: str | LossFn | None, output: Tensor) -> LossFn:
    """The loss function for ``loss`` (a name, a callable, or None: inferred from ``output``)."""
    if callable(loss):
        return loss
    if loss is None:
        if output.dim() == 2 and output.shape[1] > 1:
            return cross_entropy
        if output.dim() == 1 or (output.dim() == 2 and output.shape[1] == 1):
            return binary_cross_entropy
        raise InputError(
            f"model output has shape {_shape(output)}, not class logits: pass loss='mse' or a "
            "callable loss(output, y) -> (batch,)"
        )
    if loss not in LOSSES:
        names = ", ".join(map(repr, LOSSES))
        raise InputError(f"loss must be one of {names} or a callable (got {loss!r})")
    return LOSSES[loss]


def predictions(output: Tensor) -> Tensor:
    """Predicted class per example: argmax of C logits, or ``logit > 0`` for one logit."""
    if output.dim() == 2 and output.shape[1] > 1:
        return output.argmax(dim=1)
    return (_one_logit(output, "a prediction") > 0).long()


def default_is_adversarial(output: Tensor, y: Tensor, *, targeted: bool = False) -> Tensor:
    """(batch,) bool: prediction != y (untargeted) or prediction == y (targeted)."""
    pred = predictions(output)
    y = y.reshape(pred.shape)
    return pred == y if targeted else pred != y


def targeted_is_adversarial(output: Tensor, y: Tensor) -> Tensor:
    """(batch,) bool: the prediction equals the target ``y``."""
    return default_is_adversarial(output, y, targeted=True)


def resolve_criterion(
    is_adversarial: Criterion | None,
    loss: str | LossFn | None,
    output: Tensor,
    y: Tensor,
    targeted: bool,
) -> Criterion | None:
    """The success test to use, or None when the model has no notion of a wrong class."""
    if is_adversarial is not None:
        return is_adversarial
    if loss == "mse" or loss is mse or not is_classifier_output(output) or y.dim() != 1:
        return None
    return targeted_is_adversarial if targeted else default_is_adversarial


def check_output(output: Tensor, batch: int) -> None:
    """The model must return a tensor with the input's batch size."""
    if not isinstance(output, Tensor):
        raise InputError(f"model must return a torch.Tensor (got {type(output).__name__})")
    if output.dim() == 0 or output.shape[0] != batch:
        raise InputError(
            f"model output has shape {_shape(output)}; expected batch size {batch} (x.shape[0])"
        )


# --- Logit losses of the minimal-norm attacks and APGD (Carlini-Wagner margin, Croce-Hein DLR) ---

# Denominator floor of DLR, as in Croce & Hein: a constant logit vector has loss 0, not NaN.
DLR_FLOOR = 1e-12


def class_logits(output: Tensor) -> Tensor:
    """(batch, C) class logits: C >= 2 logits as they are, one logit z as the two logits [0, z].

    Softmax cross-entropy on ``[0, z]`` is sigmoid cross-entropy on z, and its argmax is
    ``z > 0``, so an attack written for C logits treats a one-logit model exactly.
    """
    output = upcast(output)
    if output.dim() == 2 and output.shape[1] > 1:
        return output
    z = _one_logit(output, "an attack on class logits")
    return torch.stack([torch.zeros_like(z), z], dim=1)


def check_class_labels(y: Tensor, classes: int) -> None:
    """y must hold integer class labels in [0, classes), one per example."""
    if y.dim() != 1 or y.is_floating_point() or y.is_complex():
        raise InputError(
            f"y must be integer class labels of shape (batch,) (got {y.dtype}, {tuple(y.shape)})"
        )
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise InputError(
            f"y must be class labels in [0, {classes}) for a model with {classes} classes "
            f"(got values in [{int(y.min())}, {int(y.max())}])"
        )


def _other_max(z: Tensor, y: Tensor) -> Tensor:
    """(batch,) largest logit among the classes other than y."""
    return z.scatter(1, y.long().view(-1, 1), float("-inf")).amax(dim=1)


def margin(output: Tensor, y: Tensor) -> Tensor:
    """Logit margin ``z_y - max_{j != y} z_j`` per example (< 0: misclassified), (batch,)."""
    z = class_logits(output)
    return z.gather(1, y.long().view(-1, 1))[:, 0] - _other_max(z, y)


def dlr(output: Tensor, y: Tensor) -> Tensor:
    """Difference of logits ratio (Croce & Hein 2020), to be maximised, (batch,).

    ``-(z_y - max_{j != y} z_j) / (z_(1) - z_(3))`` with ``z_(k)`` the k-th largest logit:
    invariant to shifting and scaling the logits; > 0 exactly when misclassified. Needs C >= 3.
    """
    z = class_logits(output)
    top = z.topk(3, dim=1).values
    return -margin(z, y) / (top[:, 0] - top[:, 2] + DLR_FLOOR)


def targeted_dlr(output: Tensor, target: Tensor) -> Tensor:
    """Targeted DLR, to be maximised: ``-(max_{j != t} z_j - z_t) / (z_(1) - (z_(3)+z_(4))/2)``.

    The paper's numerator is ``z_y - z_t`` with y the true class; with only the target given, the
    largest other logit takes its place (the same at a correctly classified input, and it makes
    ``> 0`` mean exactly "predicted as t"). Needs C >= 4. (batch,)
    """
    z = class_logits(output)
    top = z.topk(4, dim=1).values
    return margin(z, target) / (top[:, 0] - (top[:, 2] + top[:, 3]) / 2 + DLR_FLOOR)
