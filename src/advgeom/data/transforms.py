"""Small, exact transforms of image batches: resampling by integer factors, class subsets.

All functions take and return tensors; none is random. Images are ``(N, C, H, W)``.
"""

from __future__ import annotations

import torch

from advgeom.errors import InputError, check_int

__all__ = ["binary_subset", "downsample", "flatten", "upsample"]


def _check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"x must be a tensor of images (N, C, H, W), got {shape}")


def upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Enlarge images by an integer factor, copying each pixel into a ``factor x factor`` block.

    This is nearest-neighbour up-sampling (Simon-Gabriel et al.'s up-sampled images): it adds
    dimensions without adding information, so ``downsample(upsample(x, k), k) == x`` exactly.

    Args:
        x: ``(N, C, H, W)`` images.
        factor: Integer >= 1 (1 returns ``x`` unchanged).

    Returns:
        ``(N, C, H * factor, W * factor)``, same dtype and device.
    """
    _check_images(x)
    factor = check_int("factor", factor, minimum=1)
    if factor == 1:
        return x
    return x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)


def downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Shrink images by an integer factor, averaging each ``factor x factor`` block.

    Average pooling with kernel and stride ``factor`` and no padding; H and W must be multiples
    of ``factor`` (no pixel is silently dropped). It is the left inverse of :func:`upsample`.

    Args:
        x: ``(N, C, H, W)`` floating-point images.
        factor: Integer >= 1 dividing both H and W.

    Returns:
        ``(N, C, H // factor, W // factor)``.
    """
    _check_images(x)
    factor = check_int("factor", factor, minimum=1)
    N, C, H, W = x.shape
    if H % factor or W % factor:
        raise InputError(
            f"factor must divide the image height and width (got factor={factor} for "
            f"{H}x{W} images): choose a divisor of both"
        )
    if not x.is_floating_point():
        raise InputError(f"x must be floating point to average (got {x.dtype})")
    if factor == 1:
        return x
    blocks = x.reshape(N, C, H // factor, factor, W // factor, factor)
    return blocks.mean(dim=(3, 5))


def binary_subset(
    x: torch.Tensor, y: torch.Tensor, pos: int, neg: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep two classes and relabel them ``pos -> 1``, ``neg -> 0`` (e.g. Tanay's MNIST 2 vs 3).

    Args:
        x: ``(N, ...)`` inputs.
        y: ``(N,)`` integer labels.
        pos: The class that becomes label 1.
        neg: The class that becomes label 0.

    Returns:
        ``(x_sub, y_sub)``: the examples of the two classes in their original order, with
        ``y_sub`` int64 in {0, 1}.

    Raises:
        InputError: ``pos == neg``, a class with no examples, or mismatched ``x``/``y``.
    """
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or y.is_floating_point():
        raise InputError("y must be a 1-D tensor of integer labels")
    if not isinstance(x, torch.Tensor) or x.ndim < 1 or len(x) != len(y):
        raise InputError(f"x must have one row per label ({len(y)}), got {getattr(x, 'shape', x)}")
    pos, neg = check_int("pos", pos, minimum=0), check_int("neg", neg, minimum=0)
    if pos == neg:
        raise InputError(f"pos and neg must be different classes (both are {pos})")
    present = set(torch.unique(y).tolist())
    for name, cls in (("pos", pos), ("neg", neg)):
        if cls not in present:
            raise InputError(
                f"{name}={cls} is not a class of y; classes present: {sorted(present)}"
            )
    keep = (y == pos) | (y == neg)
    return x[keep], (y[keep] == pos).to(torch.int64)


def flatten(x: torch.Tensor) -> torch.Tensor:
    """Flatten each example: ``(N, C, H, W)`` (or any ``(N, ...)``) to ``(N, C*H*W)``."""
    if not isinstance(x, torch.Tensor) or x.ndim < 1:
        raise InputError("x must be a tensor with a batch dimension (N, ...)")
    return x.reshape(x.shape[0], -1)
