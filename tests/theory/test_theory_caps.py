"""Spherical caps: exact measure and distance, checked two independent ways."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from advgeom.data.spheres import sample_sphere
from advgeom.errors import InputError
from advgeom.theory import caps


@pytest.mark.parametrize("n", [3, 50, 500])
@pytest.mark.parametrize("mu", [0.4, 1e-2, 1e-6, 1e-12])
def test_height_and_measure_are_inverse(n, mu):
    assert caps.cap_measure(caps.cap_height(mu, n), n) == pytest.approx(mu, rel=1e-8)


def test_chord_formula_equals_distance_built_in_rn():
    x = sample_sphere(2000, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    heights = torch.tensor([0.0, 0.1, 0.3, 0.7])
    rn = caps.distances_to_caps_rn(x, heights)
    for k, h in enumerate(heights.tolist()):
        chord = caps.chord_distance_to_cap(x[:, 0].numpy(), h)
        np.testing.assert_allclose(rn[:, k].numpy(), chord, atol=1e-12)


def test_nearest_cap_point_is_on_the_sphere_and_in_the_cap():
    # On S^2, 50,000 cap points are dense: brute force nears the exact distance, never beats it.
    gen = torch.Generator().manual_seed(1)
    x = sample_sphere(20, 3, generator=gen, dtype=torch.float64)
    cap = sample_sphere(200_000, 3, generator=gen, dtype=torch.float64)
    h = 0.5
    cap = cap[cap[:, 0] >= h]
    brute = torch.cdist(x, cap).min(dim=1).values
    exact = caps.distances_to_caps_rn(x, torch.tensor([h]))[:, 0]
    assert torch.all(exact <= brute + 1e-12)
    assert torch.allclose(exact, brute, atol=0.02)


@pytest.mark.parametrize("n", [10, 100, 500])
def test_monte_carlo_and_quadrature_agree_to_one_percent(n):
    mus = (0.3, 1e-3, 1e-10)
    x = sample_sphere(100_000, n, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    heights = torch.tensor([caps.cap_height(mu, n) for mu in mus])
    monte_carlo = caps.distances_to_caps_rn(x, heights).mean(dim=0)
    for mu, estimate in zip(mus, monte_carlo.tolist(), strict=True):
        assert estimate == pytest.approx(caps.mean_distance_quadrature(mu, n), rel=0.01)


def test_gaussian_bound_is_the_papers_formula():
    assert caps.gaussian_bound(0.01, 500) == pytest.approx(stats.norm.isf(0.01) / math.sqrt(500))


def test_gaussian_bound_approaches_exact_caps_in_high_dimension():
    gaps = [abs(caps.gaussian_bound(1e-4, n) / caps.mean_distance_quadrature(1e-4, n) - 1)
            for n in (10, 100, 1000)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 0.01


@pytest.mark.parametrize("mu", [0.0, 0.6, -1e-3])
def test_bad_measure_is_refused(mu):
    with pytest.raises(InputError, match="mu must be"):
        caps.cap_height(mu, 10)
