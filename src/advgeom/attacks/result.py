"""Result types of the attacks: small frozen dataclasses of per-example tensors."""

from __future__ import annotations

from dataclasses import dataclass

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


def _fields(r: AttackResult) -> tuple[Tensor, ...]:
    return (r.x_adv, r.success, r.steps_to_success, r.loss, r.distance)
