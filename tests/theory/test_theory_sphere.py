"""Closed forms of the uniform law on the sphere, checked against independent computations."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from advgeom.errors import InputError
from advgeom.theory import sphere


@pytest.mark.parametrize("n", [3, 10, 500])
def test_coordinate_pdf_is_a_density(n):
    total, _ = integrate.quad(lambda t: float(sphere.coordinate_pdf(t, n)), -1, 1, points=[0])
    assert total == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("n", [3, 10, 500])
@pytest.mark.parametrize("t", [-0.3, 0.0, 0.05, 0.2, 0.6])
def test_sf_is_the_integral_of_the_pdf(n, t):
    tail, _ = integrate.quad(lambda s: float(sphere.coordinate_pdf(s, n)), t, 1)
    assert float(sphere.coordinate_sf(t, n)) == pytest.approx(tail, rel=1e-7, abs=1e-12)


def test_n3_coordinate_is_uniform():
    # Archimedes: on the 2-sphere one coordinate is uniform on [-1, 1].
    t = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(sphere.coordinate_sf(t, 3), (1 - t) / 2, atol=1e-12)


def test_isf_inverts_sf_into_the_far_tail():
    for p in (0.5, 0.1, 1e-4, 1e-9, 1e-15):
        t = sphere.coordinate_isf(p, 500)
        assert float(sphere.coordinate_sf(t, 500)) == pytest.approx(p, rel=1e-6)


def test_cdf_matches_sampled_coordinates():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(200_000, 20, generator=gen, dtype=torch.float64)
    x1 = (z[:, 0] / z.norm(dim=1)).numpy()
    for t in (-0.4, -0.1, 0.0, 0.25):
        assert np.mean(x1 <= t) == pytest.approx(float(sphere.coordinate_cdf(t, 20)), abs=4e-3)


def test_nearest_pair_quantiles_bracket_monte_carlo():
    N, n, trials = 60, 30, 300
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(trials, N, n, generator=gen, dtype=torch.float64)
    x = z / z.norm(dim=2, keepdim=True)
    d = torch.cdist(x, x) + torch.eye(N, dtype=torch.float64) * 10
    nearest = d.flatten(1).min(dim=1).values.numpy()
    median = sphere.nearest_pair_median(N, n)
    assert np.median(nearest) == pytest.approx(median, rel=0.02)
    low, high = (sphere.nearest_pair_quantile(N, n, q) for q in (0.05, 0.95))
    assert low < median < high
    assert 0.85 <= np.mean((nearest >= low) & (nearest <= high)) <= 0.95


def test_nearest_pair_scales_with_radius():
    assert sphere.nearest_pair_median(100, 50, radius=1.3) == pytest.approx(
        1.3 * sphere.nearest_pair_median(100, 50)
    )


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5])
def test_bad_dimension_is_refused(bad):
    with pytest.raises(InputError, match="n must be"):
        sphere.coordinate_sf(0.1, bad)


def test_bad_probabilities_are_refused():
    with pytest.raises(InputError, match="p must be"):
        sphere.coordinate_isf(0.7, 10)
    with pytest.raises(InputError, match="q must be"):
        sphere.nearest_pair_quantile(10, 10, 1.0)
    with pytest.raises(InputError, match="N must be"):
        sphere.nearest_pair_quantile(1, 10, 0.5)
    assert math.isfinite(sphere.nearest_pair_median(2, 10))
