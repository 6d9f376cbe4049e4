"""The quadratic network's ellipsoid, its CLT error estimate and the projection model."""

import math

import numpy as np
import pytest
import torch

from advgeom.errors import InputError
from advgeom.theory import quadratic


@pytest.mark.parametrize("h", [3, 12, 40])
def test_ellipsoid_form_reproduces_the_logits_exactly(h):
    gen = torch.Generator().manual_seed(h)
    n, w, b = 12, 0.7, -1.9
    W1 = torch.randn(h, n, generator=gen, dtype=torch.float64)
    x = torch.randn(50, n, generator=gen, dtype=torch.float64)
    logits = w * ((x @ W1.T) ** 2).sum(dim=1) + b
    alpha, V = quadratic.ellipsoid_form(W1, w, b)
    z = x.numpy() @ V
    np.testing.assert_allclose(-b * ((alpha * z**2).sum(axis=1) - 1), logits.numpy(), rtol=1e-10)
    np.testing.assert_allclose(quadratic.alphas(W1, w, b), alpha, rtol=1e-10)
    assert np.allclose(V.T @ V, np.eye(n))


def test_incorrect_alphas_are_those_outside_the_band():
    R = 1.3
    alpha = np.array([0.5, 1 / R**2, 0.8, 1.0, 1.01])
    assert quadratic.count_incorrect(alpha, R) == 2


@pytest.mark.parametrize(("mean", "sphere"), [(0.93, "inner"), (0.62, "outer")])
def test_clt_matches_monte_carlo_where_measurable(mean, sphere):
    # Badly warped alphas give rates of a few percent on one sphere: measurable with 1e5 samples.
    # The CLT ignores the skew of the chi-square sum, so it is close, not exact (~10% here).
    n, R = 300, 1.3
    alpha = np.clip(np.random.default_rng(0).normal(mean, 0.6, n), 0, None)
    clt = quadratic.clt_error_rates(alpha, R)
    mc = quadratic.monte_carlo_error_rates(alpha, R, samples=100_000,
                                           generator=torch.Generator().manual_seed(0))
    assert mc[sphere] > 1e-2
    assert clt[sphere] == pytest.approx(mc[sphere], rel=0.2)
    assert clt[f"log10_{sphere}"] == pytest.approx(math.log10(clt[sphere]))


def test_perfect_alphas_have_tiny_clt_error():
    alpha = np.full(500, (1 + 1 / 1.3**2) / 2)
    rates = quadratic.clt_error_rates(alpha, 1.3)
    assert rates["log10_inner"] < -20 and rates["log10_outer"] < -20


def test_projection_rates_exact_against_monte_carlo():
    n, k, R, c = 50, 20, 1.3, 2.0
    exact = quadratic.projection_error_rates(k, n, c, R)
    alpha = np.concatenate([np.full(k, c), np.zeros(n - k)])
    mc = quadratic.monte_carlo_error_rates(alpha, R, samples=300_000,
                                           generator=torch.Generator().manual_seed(1))
    for sphere in ("inner", "outer"):
        assert mc[sphere] == pytest.approx(exact[sphere], rel=0.05, abs=2e-4)


def test_bad_arguments_are_refused():
    with pytest.raises(InputError, match="b must be < 0"):
        quadratic.alphas(torch.ones(2, 2), 1.0, 0.5)
    with pytest.raises(InputError, match="k must be"):
        quadratic.projection_error_rates(0, 10, 1.0, 1.3)
