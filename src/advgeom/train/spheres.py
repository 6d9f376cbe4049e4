"""Training a binary classifier on the concentric spheres, online or on a finite training set.

Gilmer et al. (Sec. 3): sigmoid cross-entropy on one logit, Adam with learning rate 1e-4, batch
50, either fresh samples for every batch (N = infinity) or a fixed training set of N points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from advgeom.data.spheres import sample_spheres
from advgeom.devices import single_thread_on_cpu
from advgeom.errors import InputError, check_int, check_positive
from advgeom.progress import track


@dataclass(frozen=True)
class SphereTraining:
    """Settings of one training run (the paper's by default).

    Attributes:
        n: input dimension.
        R: outer radius.
        N: training-set size; None trains online on fresh batches (N = infinity).
        steps: optimiser steps.
        batch_size, lr: Adam's batch and learning rate.
    """

    n: int
    R: float = 1.3
    N: int | None = None
    steps: int = 10_000
    batch_size: int = 50
    lr: float = 1e-4

    def __post_init__(self) -> None:
        check_int("n", self.n, minimum=1)
        if check_positive("R", self.R) <= 1:
            raise InputError(f"R must be > 1 (got {self.R})")
        if self.N is not None:
            check_int("N", self.N, minimum=1)
        check_int("steps", self.steps, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_positive("lr", self.lr)


def train_on_spheres(
    model: nn.Module,
    settings: SphereTraining,
    *,
    generator: torch.Generator,
    on_step: Callable[[int, nn.Module], None] | None = None,
    every: int = 0,
    description: str = "training",
) -> nn.Module:
    """Train ``model`` (inputs (batch, n) -> one logit (batch, 1)) in place; return it.

    Args:
        model: on the device training should use.
        settings: data and optimiser settings.
        generator: the only source of randomness (data and batch order), on the CPU.
        on_step: called as ``on_step(step, model)`` at step 0 and every ``every`` steps (and after
            the last), in eval mode, for snapshots; training resumes in train mode after it.
            The model's parameters must not be changed by it.
        every: snapshot period in steps (0: only at the start and the end).
    """
    device = next(model.parameters()).device
    s = settings
    fixed = None
    if s.N is not None:
        fixed = sample_spheres(s.N, s.n, R=s.R, generator=generator)
    optimiser = torch.optim.Adam(model.parameters(), lr=s.lr)
    with single_thread_on_cpu(device):
        _train_loop(model, s, optimiser, fixed, generator, on_step, every, description)
    return model


def _train_loop(model, s, optimiser, fixed, generator, on_step, every, description) -> None:
    device = next(model.parameters()).device
    _snapshot(model, on_step, 0)
    for step in track(range(1, s.steps + 1), description=description):
        if fixed is None:
            x, y = sample_spheres(s.batch_size, s.n, R=s.R, generator=generator)
        else:
            idx = torch.randint(0, s.N, (s.batch_size,), generator=generator)
            x, y = fixed[0][idx], fixed[1][idx]
        x, y = x.to(device), y.to(device=device, dtype=torch.float32)
        loss = F.binary_cross_entropy_with_logits(model(x).squeeze(-1), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if every and step % every == 0 or step == s.steps:
            _snapshot(model, on_step, step)


def _snapshot(model: nn.Module, on_step, step: int) -> None:
    if on_step is None:
        return
    model.eval()
    on_step(step, model)  # not under no_grad: a snapshot may run an attack
    model.train()
