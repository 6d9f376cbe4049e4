"""Random starting points drawn uniformly from an eps-ball (see :mod:`advgeom.attacks.balls`)."""

from __future__ import annotations

import torch
from torch import Tensor

from advgeom.attacks.balls import BALLS
from advgeom.tensors.arguments import check_eps, check_norm


def uniform_ball(
    x: Tensor,
    *,
    eps: float | Tensor,
    norm: str,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Perturbations uniform in the ``norm`` ball of radius ``eps``, one per example.

    Args:
        x: (batch, *input_shape), gives shape, dtype and device.
        eps: radius, a number or a (batch,) tensor.
        norm: "linf" (uniform in the cube) or "l2" (uniform in the Euclidean ball).
        generator: the source of randomness; None uses torch's global generator.

    Returns:
        delta: (batch, *input_shape), ``||delta_i||_norm <= eps_i``.
    """
    check_norm(norm)
    eps = check_eps(eps, x)
    return BALLS[norm].sample(x, eps, generator)
