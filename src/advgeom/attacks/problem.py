"""What an attack optimises: the model, its per-example loss and success test, its gradient."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from advgeom.attacks.losses import Criterion, LossFn, check_output, resolve_criterion, resolve_loss
from advgeom.devices import precision_mode
from advgeom.errors import InputError
from advgeom.tensors import Model


@dataclass(frozen=True)
class Problem:
    """What an attack optimises: the model, its per-example loss and its success test.

    ``ascend`` is True for untargeted attacks (raise the loss) and False for targeted ones.
    """

    model: Model
    loss_fn: LossFn
    criterion: Criterion | None
    ascend: bool
    precision: str = "fp32"

    def loss_grad(self, xa: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Output at ``xa`` (detached) and the gradient of the summed per-example loss.

        ``xa`` must be a leaf with ``requires_grad``; only its gradient is computed (no parameter
        gradients are formed or accumulated).
        """
        with torch.enable_grad():
            with precision_mode(self.precision, xa.device):
                out = self.model(xa)
            check_output(out, xa.shape[0])
            total = self.loss_fn(out, y).sum()
            (grad,) = torch.autograd.grad(total, xa)
        return out.detach(), grad

    @torch.no_grad()
    def evaluate(self, xa: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Per-example loss and success at ``xa`` in full precision: ((batch,), (batch,) bool)."""
        out = self.model(xa)
        check_output(out, xa.shape[0])
        loss = self.loss_fn(out, y)
        return loss, self.success(out, y)

    def success(self, out: Tensor, y: Tensor) -> Tensor:
        if self.criterion is None:
            return torch.zeros(out.shape[0], dtype=torch.bool, device=out.device)
        return self.criterion(out, y).reshape(out.shape[0]).bool()


def probe(model: Model, x: Tensor) -> tuple[Tensor, int]:
    """The model's output on the first row(s) of x, checked, and how many rows that was.

    One example (a model that only takes batches of k rows says so with ``batch_multiple``): an
    early, cheap check of the model and its output's shape before an attack's loop.
    """
    if not callable(model):
        raise InputError(f"model must be callable (got {type(model).__name__})")
    rows = max(1, int(getattr(model, "batch_multiple", 1)))
    with torch.no_grad():
        out = model(x[:rows].clone())
    check_output(out, min(rows, len(x)))
    return out, rows


def make_problem(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    loss: str | LossFn | None,
    is_adversarial: Criterion | None,
    targeted: bool,
    precision: str = "fp32",
    needs_success: str | None = None,
) -> Problem:
    """Probe the model once on the first example(s) to check its output and resolve loss/criterion.

    ``needs_success`` names what needs a success test (e.g. ``"manifold_pgd"``): without one
    (a model whose output is not class logits and no ``is_adversarial``) that is an InputError.
    """
    out, rows = probe(model, x)
    loss_fn = resolve_loss(loss, out)
    loss_fn(out, y[:rows])  # raises a clear InputError when output and labels do not fit the loss
    criterion = resolve_criterion(is_adversarial, loss, out, y, targeted)
    if needs_success and criterion is None:
        raise InputError(f"{needs_success} needs a notion of success: pass is_adversarial="
                         "f(output, y) for a model whose output is not class logits")
    return Problem(model, loss_fn, criterion, ascend=not targeted, precision=precision)
