"""A generic training loop for classifiers with any of the objectives of :mod:`.methods`.

SGD with momentum 0.9 on shuffled mini-batches (the optimiser of Simon-Gabriel et al.'s code:
lr 0.01, batch 128), an optional per-epoch measurement hook, and a per-epoch history.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from advgeom.attacks.losses import LossFn, predictions
from advgeom.errors import InputError, check_int, check_positive
from advgeom.progress import track
from advgeom.train.methods import Method, objective

EpochHook = Callable[[int, nn.Module], dict | None]


def _method(method: Method | str, eps: float | None) -> Method:
    if isinstance(method, Method):
        if eps is not None:
            raise InputError("eps is part of the Method: pass Method(name, eps=...) or a name")
        return method
    return Method(method, eps=0.0 if eps is None else eps)


def _check_data(x: Tensor, y: Tensor) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() < 2:
        raise InputError("x must be a floating-point tensor of shape (N, *input_shape)")
    if not isinstance(y, Tensor) or y.shape[:1] != x.shape[:1]:
        raise InputError(f"y must be a tensor with N = {x.shape[0]} rows like x")


def train_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    method: Method | str = "plain",
    eps: float | None = None,
    epochs: int,
    batch_size: int = 128,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    generator: torch.Generator,
    loss: str | LossFn | None = None,
    on_epoch: EpochHook | None = None,
    description: str = "training",
) -> list[dict]:
    """Train ``model`` in place with ``method``; return one history record per epoch.

    Args:
        model: a classifier on the device training should use; batches are moved there.
        x: (N, *input_shape) training inputs (any device); y: (N,) labels.
        method: a :class:`Method`, or a method name (then ``eps`` gives its strength).
        eps: strength for a method given by name (see :mod:`advgeom.train.methods` for units).
        epochs: passes over the data (>= 0).
        batch_size, lr, momentum, weight_decay: SGD settings (the last batch may be smaller).
        generator: the only source of randomness (shuffling and PGD's random starts), CPU.
        loss: per-example loss name or callable (None: cross-entropy for logits).
        on_epoch: ``on_epoch(epoch, model) -> dict | None``, called in eval mode at epoch 0
            (before training) and after every epoch; its entries join that epoch's record. It
            must not change the parameters. Training resumes in train mode.
        description: progress-bar label.

    Returns:
        ``[{"epoch": 0, **hook}, {"epoch": 1, "objective": ..., "loss": ..., "accuracy": ...,
        **hook}, ...]``: mean objective, mean loss and accuracy over that epoch's batches (on the
        inputs trained on: x_adv for ``pgd``), measured in train mode as training went.
    """
    _check_data(x, y)
    m = _method(method, eps)
    check_int("epochs", epochs, minimum=0)
    check_int("batch_size", batch_size, minimum=1)
    check_positive("lr", lr)
    check_positive("momentum", momentum, allow_zero=True)
    check_positive("weight_decay", weight_decay, allow_zero=True)
    device = next(model.parameters()).device
    optimiser = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
    )
    history = [{"epoch": 0, **_hook(model, on_epoch, 0)}]
    for epoch in track(range(1, epochs + 1), description=description):
        record = _epoch(model, x, y, m, optimiser, batch_size, generator, loss, device)
        history.append({"epoch": epoch, **record, **_hook(model, on_epoch, epoch)})
    return history


def _epoch(model, x, y, method, optimiser, batch_size, generator, loss, device) -> dict:
    model.train()
    order = torch.randperm(x.shape[0], generator=generator)
    # Sums stay on the device: no host synchronisation per batch on CUDA.
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    for start in range(0, x.shape[0], batch_size):
        idx = order[start : start + batch_size]
        xb, yb = x[idx].to(device), y[idx].to(device)
        obj = objective(model, xb, yb, method, loss=loss, generator=generator)
        optimiser.zero_grad(set_to_none=True)
        obj.total.backward()
        optimiser.step()
        n = xb.shape[0]
        sums[0] += obj.total.detach().double() * n
        sums[1] += obj.loss.double() * n
        if obj.output.dim() in (1, 2) and yb.dim() == 1:
            sums[2] += (predictions(obj.output) == yb).sum()
    objective_sum, loss_sum, correct = (sums / x.shape[0]).tolist()
    return {"objective": objective_sum, "loss": loss_sum, "accuracy": correct}


def _hook(model: nn.Module, on_epoch: EpochHook | None, epoch: int) -> dict:
    if on_epoch is None:
        return {}
    was_training = model.training
    model.eval()
    try:
        extra = on_epoch(epoch, model) or {}
    finally:
        model.train(was_training)
    return dict(extra)


__all__ = ["train_classifier"]
