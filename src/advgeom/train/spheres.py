"""Training a binary classifier on the concentric spheres, online or on a finite training set.

Gilmer et al. (Sec. 3): sigmoid cross-entropy on one logit, Adam with learning rate 1e-4, batch
50, either fresh samples for every batch (N = infinity) or a fixed training set of N points.
:func:`train_ensemble_on_spheres` trains a grid of such models (seeds x N) as one
:class:`~advgeom.models.ensemble.Ensemble`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from advgeom.data.spheres import sample_spheres
from advgeom.devices import single_thread_on_cpu
from advgeom.errors import InputError, check_int, check_positive
from advgeom.models.ensemble import Ensemble
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
    at: Collection[int] = (),
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
        at: further steps to snapshot at (e.g. spaced geometrically).
    """
    batches = [_Batches(settings, generator)]

    def loss_of(x: Tensor, y: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(model(x[0]).squeeze(-1), y[0])

    _train(model, settings, batches, loss_of, on_step, every, set(at), description)
    return model


def train_ensemble_on_spheres(
    ensemble: Ensemble,
    settings: Sequence[SphereTraining],
    *,
    generators: Sequence[torch.Generator],
    on_step: Callable[[int, Ensemble], None] | None = None,
    every: int = 0,
    at: Collection[int] = (),
    description: str = "training",
) -> Ensemble:
    """Train the members of ``ensemble`` together, member ``i`` as :func:`train_on_spheres` would.

    Member ``i`` draws its training set and batches from ``generators[i]`` in the same order as
    :func:`train_on_spheres` with ``settings[i]``, and the loss is the sum of the members' own
    losses, so each member gets exactly its own gradient and Adam step: the result equals training
    the members one after another (up to floating-point summation order).

    Args:
        ensemble: members mapping (batch, n) to one logit, on the training device.
        settings: one per member; they may differ in N and R only (one shared optimiser loop).
        generators: one per member, on the CPU.
        on_step, every, at, description: as in :func:`train_on_spheres` (``on_step`` gets the
            ensemble).
    """
    settings, generators = list(settings), list(generators)
    if not len(settings) == len(generators) == ensemble.size:
        raise InputError(f"need one settings and one generator per member ({ensemble.size}); got "
                         f"{len(settings)} settings and {len(generators)} generators")
    shared = {(s.n, s.steps, s.batch_size, s.lr) for s in settings}
    if len(shared) != 1:
        raise InputError("the members' settings must share n, steps, batch_size and lr "
                         f"(got {sorted(shared)})")
    batches = [_Batches(s, g) for s, g in zip(settings, generators, strict=True)]

    def loss_of(x: Tensor, y: Tensor) -> Tensor:
        losses = F.binary_cross_entropy_with_logits(ensemble(x).squeeze(-1), y, reduction="none")
        return losses.mean(dim=1).sum()

    _train(ensemble, settings[0], batches, loss_of, on_step, every, set(at), description)
    return ensemble


class _Batches:
    """One model's data: a fixed training set of N points (drawn first) or fresh online batches."""

    def __init__(self, s: SphereTraining, generator: torch.Generator) -> None:
        self.s, self.generator = s, generator
        self.fixed = None if s.N is None else sample_spheres(s.N, s.n, R=s.R, generator=generator)

    def next(self) -> tuple[Tensor, Tensor]:
        s = self.s
        if self.fixed is None:
            return sample_spheres(s.batch_size, s.n, R=s.R, generator=self.generator)
        idx = torch.randint(0, s.N, (s.batch_size,), generator=self.generator)
        return self.fixed[0][idx], self.fixed[1][idx]


def _train(model, s, batches, loss_of, on_step, every, at, description) -> None:
    device = next(model.parameters()).device
    optimiser = torch.optim.Adam(model.parameters(), lr=s.lr)
    with single_thread_on_cpu(device):
        _snapshot(model, on_step, 0)
        for step in track(range(1, s.steps + 1), description=description):
            xs, ys = zip(*(b.next() for b in batches), strict=True)
            x = torch.stack(xs).to(device)
            y = torch.stack(ys).to(device=device, dtype=torch.float32)
            loss = loss_of(x, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if every and step % every == 0 or step in at or step == s.steps:
                _snapshot(model, on_step, step)


def _snapshot(model: nn.Module, on_step, step: int) -> None:
    if on_step is None:
        return
    model.eval()
    on_step(step, model)  # not under no_grad: a snapshot may run an attack
    model.train()
