"""Tilting plane, angle, distances and mirror images; the local tilting angle of any model."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from advgeom.errors import InputError
from advgeom.geometry.tilting import (
    boundary_distance,
    centroid_direction,
    class_centroids,
    decision,
    local_tilting,
    local_tilting_angle,
    minimal_perturbation,
    mirror_image,
    plane_boundary,
    project,
    tilting_angle,
    tilting_basis,
)


def _vectors(seed: int, n: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g, dtype=torch.float64), torch.randn(
        n, generator=g, dtype=torch.float64
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 50))
def test_basis_is_orthonormal_and_spans_w(seed, n):
    w, z = _vectors(seed, n)
    basis = tilting_basis(w, z)
    torch.testing.assert_close(basis @ basis.T, torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(basis[0], z / z.norm())
    coords = basis @ w
    torch.testing.assert_close(coords @ basis, w)  # w is in the span
    assert coords[1] > 0  # n_hat points to w's side of z_hat


def test_basis_of_a_known_tilt():
    z = torch.tensor([1.0, 0.0, 0.0])
    w = torch.tensor([1.0, 1.0, 0.0])
    basis = tilting_basis(w, 3 * z)
    torch.testing.assert_close(basis, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64))
    assert tilting_angle(w, z).item() == pytest.approx(45.0)
    assert tilting_angle(w, z, degrees=False).item() == pytest.approx(math.pi / 4)


def test_basis_rejects_w_along_z():
    z = torch.tensor([0.0, 2.0, 1.0])
    with pytest.raises(InputError, match="parallel"):
        tilting_basis(-3 * z, z)


def test_angle_is_zero_for_the_nearest_centroid_classifier():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 1, 4, 4, generator=g) + torch.arange(40).reshape(40, 1, 1, 1) % 2
    y = torch.arange(40) % 2
    z_hat = centroid_direction(x, y)
    cents = class_centroids(x, y)
    w = (cents[1] - cents[0]).reshape(-1)  # the nearest-centroid classifier's weight
    assert tilting_angle(w, z_hat).item() == pytest.approx(0.0, abs=1e-5)
    assert z_hat.norm().item() == pytest.approx(1.0)
    # Batched angles: the centroid direction and its opposite.
    angles = tilting_angle(torch.stack([w, -w]), z_hat)
    torch.testing.assert_close(
        angles, torch.tensor([0.0, 180.0], dtype=torch.float64), atol=1e-5, rtol=0
    )


def test_centroids_are_class_means():
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    y = torch.tensor([0, 0, 1])
    torch.testing.assert_close(
        class_centroids(x, y), torch.tensor([[1.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
    )
    torch.testing.assert_close(
        centroid_direction(x, y), torch.tensor([-1.0, 4.0], dtype=torch.float64) / math.sqrt(17)
    )


def test_distance_perturbation_and_mirror_in_closed_form():
    w = torch.tensor([3.0, 4.0], dtype=torch.float64)
    b = -5.0
    x = torch.tensor([[3.0, 4.0], [0.0, 0.0]], dtype=torch.float64)  # w.x + b = 20, -5
    torch.testing.assert_close(
        boundary_distance(x, w, b), torch.tensor([4.0, 1.0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        boundary_distance(x, w, b, signed=True), torch.tensor([4.0, -1.0], dtype=torch.float64)
    )
    delta = minimal_perturbation(x, w, b)
    torch.testing.assert_close(delta.norm(dim=1), torch.tensor([4.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(
        decision(x + delta, w, b), torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0
    )
    crossed = x + minimal_perturbation(x, w, b, overshoot=0.02)
    assert (decision(crossed, w, b) * decision(x, w, b) < 0).all()
    mirror = mirror_image(x, w, b)
    torch.testing.assert_close(decision(mirror, w, b), -decision(x, w, b))
    torch.testing.assert_close(
        mirror, torch.tensor([[-1.8, -2.4], [1.2, 1.6]], dtype=torch.float64)
    )


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_plane_projection_decides_the_class(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(25, 1, 3, 3, generator=g, dtype=torch.float64)
    w, z = _vectors(seed, 9)
    b = float(torch.randn(1, generator=g))
    basis = tilting_basis(w, z)
    uv = project(x, basis)
    a, c, b0 = plane_boundary(w, b, basis)
    torch.testing.assert_close(a * uv[:, 0] + c * uv[:, 1] + b0, decision(x, w, b))
    # The distance to the boundary is the distance of the projection to the line.
    torch.testing.assert_close(
        (a * uv[:, 0] + c * uv[:, 1] + b0).abs() / math.hypot(a, c), boundary_distance(x, w, b)
    )


def test_perturbation_keeps_shape_and_rejects_bad_input():
    x = torch.rand(4, 1, 2, 2)
    w = torch.ones(1, 2, 2)
    assert minimal_perturbation(x, w, 0.5).shape == x.shape
    assert mirror_image(x, w, 0.5).dtype == torch.float32
    with pytest.raises(InputError, match="overshoot"):
        minimal_perturbation(x, w, 0.5, overshoot=-1.0)
    with pytest.raises(InputError, match="zero"):
        mirror_image(x, torch.zeros(4), 0.0)


def _linear(w: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    lin = nn.Linear(w.shape[1], w.shape[0]).double()
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(b)
    return lin


def test_local_angle_of_a_linear_binary_model_is_its_tilting_angle():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(30, 6, generator=g, dtype=torch.float64)
    y = (torch.arange(30) % 2).long()
    x[y == 1] += 1.5
    w = torch.randn(1, 6, generator=g, dtype=torch.float64)
    model = _linear(w, torch.tensor([0.3], dtype=torch.float64))
    angles = local_tilting_angle(model, x, y, centroids=class_centroids(x, y))
    expected = tilting_angle(w[0], centroid_direction(x, y))
    torch.testing.assert_close(angles, expected.expand(30))
    res = local_tilting(model, x, y, centroids=class_centroids(x, y))
    # The first-order distance of an affine model is its exact signed boundary distance.
    signed = boundary_distance(x, w[0], 0.3, signed=True) * (2 * y - 1)
    torch.testing.assert_close(res.distance, signed)
    torch.testing.assert_close(res.other, 1 - y)


def test_local_angle_of_a_linear_multiclass_model_uses_the_pair():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(45, 5, generator=g, dtype=torch.float64)
    y = torch.arange(45) % 3
    x += 2 * torch.nn.functional.one_hot(y, 5).double()
    W = torch.randn(3, 5, generator=g, dtype=torch.float64)
    model = _linear(W, torch.zeros(3, dtype=torch.float64))
    cents = class_centroids(x, y)
    res = local_tilting(model, x, y, centroids=cents)
    logits = model(x).detach()
    runner = logits.scatter(1, y[:, None], -math.inf).argmax(dim=1)
    torch.testing.assert_close(res.other, runner)
    for i in range(45):
        a, k = int(y[i]), int(runner[i])
        expected = tilting_angle(W[a] - W[k], cents[a] - cents[k])
        assert res.angle[i].item() == pytest.approx(expected.item(), abs=1e-6)
    fixed = local_tilting_angle(model, x, y, centroids=cents, other=(y + 1) % 3, degrees=False)
    a, k = int(y[0]), int((y[0] + 1) % 3)
    assert fixed[0].item() == pytest.approx(
        tilting_angle(W[a] - W[k], cents[a] - cents[k], degrees=False).item(), abs=1e-8
    )


def test_local_tilting_rejects_bad_pairs():
    model = _linear(torch.ones(3, 4, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    x = torch.zeros(2, 4, dtype=torch.float64)
    y = torch.tensor([0, 1])
    cents = torch.eye(3, 4, dtype=torch.float64)
    with pytest.raises(InputError, match="differ"):
        local_tilting(model, x, y, centroids=cents, other=y)
    with pytest.raises(InputError, match="features"):
        local_tilting(model, x, y, centroids=torch.eye(3, 5))
    one = _linear(torch.ones(1, 4, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    with pytest.raises(InputError, match="0/1"):
        local_tilting(one, x, torch.tensor([0, 2]), centroids=cents[:2])
