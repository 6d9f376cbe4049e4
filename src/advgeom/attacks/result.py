"""Result types of the attacks: small frozen dataclasses of per-example tensors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class AttackResult:
    """What an attack returns, one entry per example.

    Attributes:
        x_adv: (batch, *input_shape) the adversarial inputs (detached, on x's device).
        success: (batch,) bool, whether ``x_adv`` is adversarial, checked in full precision after
            the attack. Clean errors count as successes (at step 0). All False when the model has
            no notion of success (e.g. an autoencoder with ``loss="mse"`` and no
            ``is_adversarial``).
        steps_to_success: (batch,) long, the first step at which an iterate was adversarial (0 =
            the starting point), -1 if none was. With ``early_stop`` it is the step of ``x_adv``.
        loss: (batch,) float, the attack loss at ``x_adv``.
        distance: (batch,) float, ``||x_adv - x||`` in the attack's norm.
    """

    x_adv: Tensor
    success: Tensor
    steps_to_success: Tensor
    loss: Tensor
    distance: Tensor

    @property
    def robust_accuracy(self) -> float:
        """Fraction of examples the attack did not break (clean errors count as broken)."""
        return 1.0 - self.success.float().mean().item()

    def merge(self, other: AttackResult, idx: Tensor) -> AttackResult:
        """Keep, for the rows ``idx`` of self, the better of self and ``other`` (rows of idx).

        Better: adversarial beats not adversarial; otherwise the higher loss (restarts keep the
        strongest run per example).
        """
        old_s, old_l = self.success[idx], self.loss[idx]
        take = (other.success & ~old_s) | ((other.success == old_s) & (other.loss > old_l))
        rows = idx[take]

        merged = []
        for a, b in zip(_fields(self), _fields(other), strict=True):
            a = a.clone()
            a[rows] = b[take]
            merged.append(a)
        return AttackResult(*merged)


@dataclass(frozen=True)
class MinimalResult:
    """Per-example minimal adversarial distance found by an attack.

    Attributes:
        distance: (batch,) ``||x_adv - x||`` in the attack norm; ``inf`` where none was found
            within ``max_eps``; 0 for clean errors.
        x_adv: (batch, *input_shape) an adversarial input at that distance (where found).
        success: (batch,) bool, whether an adversarial input was found.
        method: per example, the method whose perturbation is ``x_adv`` ("deepfool", "fmn",
            "path", ...; "clean" for clean errors, None where none was found); None when one
            method ran.
    """

    distance: Tensor
    x_adv: Tensor
    success: Tensor
    method: tuple[str | None, ...] | None = None

    def success_matrix(self, eps: Sequence[float] | Tensor) -> Tensor:
        """(K, batch) bool: an adversarial input within eps_k was found for example i."""
        e = torch.as_tensor(eps, dtype=self.distance.dtype, device=self.distance.device)
        return self.distance.unsqueeze(0) <= e.reshape(-1, 1)

    def robust_accuracy(self, eps: Sequence[float] | Tensor) -> Tensor:
        """(K,) fraction of examples with no adversarial input found within eps_k."""
        return 1.0 - self.success_matrix(eps).float().mean(dim=1)


@dataclass(frozen=True)
class RobustnessCurve:
    """Robust accuracy against a list of radii.

    Attributes:
        eps: (K,) the radii, as given.
        success: (K, batch) bool, the attack found an adversarial input within eps_k; monotone
            in eps (an input found at a smaller radius also counts at every larger one).
    """

    eps: Tensor
    success: Tensor

    @property
    def robust_accuracy(self) -> Tensor:
        """(K,) fraction of examples not broken at each eps."""
        return 1.0 - self.success.float().mean(dim=1)


def _fields(r: AttackResult) -> tuple[Tensor, ...]:
    return (r.x_adv, r.success, r.steps_to_success, r.loss, r.distance)
