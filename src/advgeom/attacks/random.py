"""Random starting points drawn uniformly from an eps-ball.

For l2 the direction is uniform on the sphere (a normalised Gaussian) and the radius is
``eps * U^(1/d)``, so the point is uniform in the ball and ``E||delta|| = eps * d / (d + 1)``.
torchattacks' PGDL2 draws the radius as ``eps * U`` instead (mean ``eps / 2``), which piles the
starts up near the centre of a high-dimensional ball (Harry24k/adversarial-attacks-pytorch#161).
"""

from __future__ import annotations

import torch
from torch import Tensor

from advgeom.tensors import batch_view, lp_norm
from advgeom.tensors.arguments import check_eps, check_norm


def _rand(
    kind: str, shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None
) -> Tensor:
    # Sample on the generator's device, then move: a CPU generator then also serves CUDA inputs.
    device = generator.device if generator is not None else like.device
    fn = torch.rand if kind == "uniform" else torch.randn
    return fn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


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
    e = batch_view(eps, x) if isinstance(eps, Tensor) else eps
    if norm == "linf":
        return (2 * _rand("uniform", tuple(x.shape), x, generator) - 1) * e
    direction = _rand("normal", tuple(x.shape), x, generator)
    direction /= batch_view(lp_norm(direction, "l2").clamp_min(1e-30), x)
    d = x[0].numel()
    radius = _rand("uniform", (x.shape[0],), x, generator).pow(1.0 / d)
    return direction * batch_view(radius, x) * e
