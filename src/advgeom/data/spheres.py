"""Concentric spheres: the synthetic data set of Gilmer et al., "Adversarial Spheres" (2018).

Two classes live on concentric spheres in R^n: the inner sphere of radius 1 (label 0) and the
outer sphere of radius ``R`` (label 1); the paper uses ``n = 500`` and ``R = 1.3``. Points are
uniform on each sphere, drawn by normalising a standard Gaussian vector (Gilmer et al. sec. 2),
whose direction is exactly uniform by rotation invariance.

The Gaussian is drawn and normalised in float64 and only then cast to the requested dtype, so
each point's norm equals its radius to the precision of that dtype (float32: ~1e-7 relative).
Monte Carlo over millions of points may draw in float32 instead (``draw_float64=False``, about 3x
faster on a CPU): the radius is then exact to a few float32 ulps, which no classifier notices.
The spheres have no image dimensions: ``x`` has shape ``(N, n)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import torch

from advgeom.errors import InputError, check_choice, check_int, check_real

__all__ = ["load_spheres", "sample_sphere", "sample_spheres", "sphere_batches", "split_seed"]


def _check_dtype(dtype: torch.dtype) -> None:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise InputError(f"dtype must be a floating-point torch dtype (got {dtype!r})")


def _check_R(R: float) -> float:
    R = check_real("R", R)
    if R <= 1:
        raise InputError(f"R must be > 1 (got {R}): the outer radius must exceed the inner one, 1")
    return R


def _draw_device(generator: torch.Generator | None, device: torch.device | str | None):
    # A generator only draws on its own device, so it decides where the numbers are made.
    if generator is not None:
        return generator.device
    return torch.device(device) if device is not None else torch.device("cpu")


def _unit_directions(
    N: int, n: int, generator: torch.Generator | None, device: torch.device,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Uniform directions on the unit sphere, shape ``(N, n)``, drawn in ``dtype``."""
    z = torch.randn(N, n, generator=generator, dtype=dtype, device=device)
    # A Gaussian vector is exactly 0 with probability 0; the clamp only guards against the
    # impossible division by zero rather than changing the distribution.
    return z / torch.linalg.vector_norm(z, dim=1, keepdim=True).clamp_min(1e-300)


def sample_sphere(
    N: int,
    n: int,
    *,
    radius: float = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    draw_float64: bool = True,
) -> torch.Tensor:
    """Draw ``N`` points uniformly on the sphere of ``radius`` in R^n.

    Args:
        N: Number of points (>= 1).
        n: Input dimension (>= 1).
        radius: Sphere radius (finite, > 0).
        generator: Source of randomness; ``None`` uses torch's default generator.
        dtype: Floating-point dtype of the result.
        device: Device of the result; defaults to the generator's device (or the CPU).
        draw_float64: Draw and normalise in float64 (default); False draws in ``dtype``.

    Returns:
        x: ``(N, n)`` with ``||x_i||_2 == radius`` to the precision of ``dtype``.

    Raises:
        InputError: A bad ``N``, ``n``, ``radius`` or ``dtype``.
    """
    N, n = check_int("N", N, minimum=1), check_int("n", n, minimum=1)
    radius = check_real("radius", radius)
    if radius <= 0:
        raise InputError(f"radius must be > 0 (got {radius})")
    _check_dtype(dtype)
    draw = _draw_device(generator, device)
    x = radius * _unit_directions(N, n, generator, draw, torch.float64 if draw_float64 else dtype)
    return x.to(device=device if device is not None else draw, dtype=dtype)


def sample_spheres(
    N: int,
    n: int,
    *,
    R: float = 1.3,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``N`` labelled points from the two concentric spheres.

    Each label is drawn independently, 0 or 1 with probability 1/2 (as in the paper), so the
    classes are balanced in expectation, not exactly; the order is therefore already random.

    Args:
        N: Number of points (>= 1).
        n: Input dimension (>= 1).
        R: Outer radius (finite, > 1); the inner radius is 1.
        generator: Source of randomness; ``None`` uses torch's default generator.
        dtype: Floating-point dtype of ``x``.
        device: Device of the result; defaults to the generator's device (or the CPU).

    Returns:
        x: ``(N, n)``, on the sphere of radius 1 where ``y == 0`` and ``R`` where ``y == 1``.
        y: ``(N,)`` int64 labels in {0, 1}.

    Raises:
        InputError: A bad ``N``, ``n``, ``R`` or ``dtype``.
    """
    N, n = check_int("N", N, minimum=1), check_int("n", n, minimum=1)
    R = _check_R(R)
    _check_dtype(dtype)
    draw = _draw_device(generator, device)
    x = _unit_directions(N, n, generator, draw)
    y = torch.randint(0, 2, (N,), generator=generator, device=draw, dtype=torch.int64)
    radii = torch.where(y == 1, R, 1.0).to(torch.float64)
    out = device if device is not None else draw
    return (radii[:, None] * x).to(device=out, dtype=dtype), y.to(out)


def sphere_batches(
    n: int,
    batch_size: int,
    *,
    R: float = 1.3,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless stream of fresh batches: the paper's "online" setting, a training set N = inf.

    Arguments are checked when this is called, not at the first ``next``.

    Args:
        n: Input dimension (>= 1).
        batch_size: Points per batch (>= 1).
        R: Outer radius (finite, > 1).
        generator: Source of randomness, advanced by every batch.
        dtype: Floating-point dtype of ``x``.
        device: Device of the batches.

    Yields:
        ``(x, y)`` as from :func:`sample_spheres`: x ``(batch_size, n)``, y ``(batch_size,)``.
    """
    n = check_int("n", n, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    R = _check_R(R)
    _check_dtype(dtype)

    def stream() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield sample_spheres(
                batch_size, n, R=R, generator=generator, dtype=dtype, device=device
            )

    return stream()


def split_seed(seed: int, split: str) -> int:
    """A seed for one split, derived from ``seed`` by hashing so the splits' streams are unrelated.

    Hashing (rather than, say, ``seed + 1`` for the test split) keeps ``(seed, "test")`` from
    coinciding with ``(seed + 1, "train")``.
    """
    digest = hashlib.sha256(f"advgeom.spheres:{seed}:{split}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def load_spheres(
    *, n: int = 500, N: int = 10_000, R: float = 1.3, seed: int = 0, split: str = "train"
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, reproducible sample of the spheres data set (what ``load("spheres")`` returns).

    The train and test splits are drawn from independent streams seeded by
    :func:`split_seed` ``(seed, split)``, so the same ``seed`` gives disjoint, unrelated samples.

    Args:
        n: Input dimension (paper: 500).
        N: Number of points in the split.
        R: Outer radius (paper: 1.3).
        seed: Non-negative integer seed.
        split: ``"train"`` or ``"test"``.

    Returns:
        x: ``(N, n)`` float32; y: ``(N,)`` int64.
    """
    check_choice("split", split, ("train", "test"))
    seed = check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(split_seed(seed, split))
    return sample_spheres(N, n, R=R, generator=generator)
