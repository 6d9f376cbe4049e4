"""Spherical caps: the error sets that are as far as possible from the rest of the sphere.

Gilmer et al. (Theorem 5.1, App. C): among all subsets E of the unit sphere S^(n-1) of measure
mu(E), the cap E = {x : x_1 > h} maximises the average distance d(E) = E_x d(x, E), and

    d(E) <= Phi^-1(1 - mu(E)) / sqrt(n)      (Gaussian approximation of one coordinate).

Here both sides are computed exactly: mu of a cap from the exact law of one coordinate, d(E) by
one-dimensional quadrature of the chord distance over that law, and -- independently -- by Monte
Carlo over sampled points with the nearest cap point constructed in R^n.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import integrate, stats

from advgeom.errors import InputError
from advgeom.theory.sphere import coordinate_isf, coordinate_pdf, coordinate_sf


def _check_mu(mu: float) -> None:
    if not 0 < mu <= 0.5:
        raise InputError(f"mu must be in (0, 0.5] (got {mu}): a cap larger than half the sphere "
                         "is not the optimal error set")


def cap_height(mu: float, n: int) -> float:
    """The h >= 0 for which the cap {x_1 > h} of the unit sphere in R^n has measure ``mu``."""
    _check_mu(mu)
    return coordinate_isf(mu, n)


def cap_measure(h: float, n: int) -> float:
    """The measure of the cap {x_1 > h}."""
    return float(coordinate_sf(h, n))


def chord_distance_to_cap(t: np.ndarray | float, h: float) -> np.ndarray:
    """L2 distance from a unit-sphere point with first coordinate ``t`` to the cap {x_1 >= h}.

    The nearest cap point lies on the cap's rim along the great circle through x and the pole, so
    the distance is the chord of the angle arccos(t) - arccos(h) (0 inside the cap).
    """
    t = np.clip(np.asarray(t, dtype=np.float64), -1.0, 1.0)
    angle = np.arccos(t) - math.acos(h)
    return np.where(t < h, 2.0 * np.sin(np.maximum(angle, 0.0) / 2.0), 0.0)


def mean_distance_quadrature(mu: float, n: int) -> float:
    """d(E) of the cap of measure ``mu``: the chord distance integrated over the coordinate law."""
    h = cap_height(mu, n)

    def integrand(t: float) -> float:
        return float(chord_distance_to_cap(t, h) * coordinate_pdf(t, n))

    # The law concentrates within a few 1/sqrt(n) of 0: tell quad where the mass is.
    spread = 1.0 / math.sqrt(n)
    points = sorted({p for p in (-5 * spread, -spread, 0.0, spread, h) if -1 < p < h})
    value, _ = integrate.quad(integrand, -1.0, h, points=points, limit=400, epsabs=1e-13)
    return value


def gaussian_bound(mu: float, n: int) -> float:
    """Theorem 5.1's optimal d(E): Phi^-1(1 - mu) / sqrt(n)."""
    _check_mu(mu)
    return float(stats.norm.isf(mu)) / math.sqrt(n)


def distances_to_caps_rn(x: torch.Tensor, heights: torch.Tensor) -> torch.Tensor:
    """Distances from unit vectors ``x`` (N, n) to each cap {x_1 >= h}, measured in R^n.

    Independent of :func:`chord_distance_to_cap` (no angles, no coordinate law): the nearest cap
    point is p = h e_1 + sqrt(1 - h^2) u, with u the unit direction of x's component orthogonal to
    e_1, and ||x - p||^2 = (x_1 - h)^2 + (||x_perp|| - sqrt(1 - h^2))^2 by Pythagoras.

    Args:
        x: (N, n) points of the unit sphere.
        heights: (K,) cap heights in [0, 1).

    Returns:
        (N, K) distances (0 for points inside a cap).
    """
    x = x.double()
    x1 = x[:, :1]
    perp = torch.linalg.vector_norm(x[:, 1:], dim=1, keepdim=True)
    h = heights.to(x).reshape(1, -1)
    d = torch.sqrt((x1 - h) ** 2 + (perp - torch.sqrt(1.0 - h * h)) ** 2)
    return torch.where(x1 >= h, torch.zeros_like(d), d)
