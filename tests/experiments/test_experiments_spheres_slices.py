"""``spheres.slices``: plane bases, grid coordinates, boundary bisection and the claims logic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.experiments.gilmer2018 import slices
from advgeom.experiments.gilmer2018.slices import (
    KINDS,
    Config,
    boundary_radii,
    circle_errors,
    grid_coords,
    plane_basis,
    plane_logits,
    plane_points,
)


class NormModel(nn.Module):
    """logit = ||x|| - radius: its boundary is exactly the sphere of that radius."""

    def __init__(self, radius: float = 1.15) -> None:
        super().__init__()
        self.radius = nn.Parameter(torch.tensor(radius, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.linalg.vector_norm(x.double(), dim=1) - self.radius).unsqueeze(-1)


def test_plane_basis_is_orthonormal_and_spans_the_directions():
    gen = torch.Generator().manual_seed(0)
    u, v = torch.randn(2, 50, generator=gen)
    basis = plane_basis(u, v)
    assert basis.shape == (2, 50)
    torch.testing.assert_close(basis @ basis.T, torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(basis[0], u.double() / u.double().norm())
    for w in (u, v):  # projecting onto the plane gives the vector back
        w = w.double()
        torch.testing.assert_close(plane_points(basis, (basis @ w)[None])[0], w)


def test_plane_basis_rejects_parallel_directions():
    u = torch.randn(10)
    with pytest.raises(InputError, match="parallel"):
        plane_basis(u, -2 * u)


def test_grid_points_map_to_their_plane_points():
    basis = plane_basis(torch.tensor([1.0, 1.0, 0.0]), torch.tensor([0.0, 0.0, 3.0]))
    axis, coords = grid_coords(1.5, 7)
    assert coords.shape == (49, 2) and axis[0] == -1.5 and axis[-1] == 1.5
    grid = coords.reshape(7, 7, 2)  # [y index, x index]
    assert grid[2, 5].tolist() == [axis[5], axis[2]]
    x = plane_points(basis, coords).reshape(7, 7, 3)
    a, b = axis[5], axis[2]
    expected = torch.tensor([a / math.sqrt(2), a / math.sqrt(2), b], dtype=torch.float64)
    torch.testing.assert_close(x[2, 5], expected)
    # Distances in the plane are distances in R^n.
    torch.testing.assert_close(x.reshape(-1, 3).norm(dim=1), coords.norm(dim=1))


def test_boundary_radii_of_the_norm_model_are_the_circle():
    basis = plane_basis(torch.randn(30, generator=torch.Generator().manual_seed(1)),
                        torch.randn(30, generator=torch.Generator().manual_seed(2)))
    radii = boundary_radii(NormModel(1.15), basis, angles=360, r_max=2.6)
    assert radii.shape == (360,)
    np.testing.assert_allclose(radii, 1.15, atol=1e-9)


def test_boundary_radii_nan_without_a_crossing():
    basis = plane_basis(torch.eye(3)[0], torch.eye(3)[1])
    radii = boundary_radii(NormModel(5.0), basis, angles=8, r_max=2.6)
    assert np.isnan(radii).all()


def test_circle_errors_and_logits_of_the_norm_model():
    basis = plane_basis(torch.eye(4)[0], torch.eye(4)[2])
    model = NormModel(1.15)
    assert circle_errors(model, basis, radius=1.0, label=0, points=100) == 0.0
    assert circle_errors(model, basis, radius=1.3, label=1, points=100) == 0.0
    assert circle_errors(model, basis, radius=1.3, label=0, points=100) == 1.0
    _, coords = grid_coords(1.6, 5)
    torch.testing.assert_close(plane_logits(model, basis, coords), coords.norm(dim=1) - 1.15)


def test_config_validation():
    with pytest.raises(InputError, match="attack_points"):
        Config(attack_points=1)
    with pytest.raises(InputError, match="R must be"):
        Config(R=1.0)


def _metrics(random_err=0.0, adv_err=0.02, radii=None, attack_errors=3):
    rr = {"inner_error": random_err, "outer_error": 0.0,
          "boundary_radii": radii if radii is not None else [1.16, 1.14, 1.15, 1.17]}
    ra = {"inner_error": adv_err, "outer_error": 0.0, "boundary_radii": []}
    aa = {"inner_error": 0.1, "outer_error": 0.3, "boundary_radii": []}
    return {"R": 1.3, "attack_errors": attack_errors, "attack_points": 20,
            "slices": dict(zip(KINDS, (rr, ra, aa), strict=True))}


def _by_id(cfg, m, measurable=True):
    return {c["id"]: c for c in slices.claims(cfg, m, measurable=measurable)}


def test_claims_agree_on_a_perfect_random_slice():
    c = _by_id(Config(n=50, hidden=64, steps=100), _metrics())
    assert c["random_slice_correct"]["agrees"] is True
    assert c["adversarial_slice_errors_on_circle"]["agrees"] is True
    gap = c["random_slice_max_margin"]
    assert gap["agrees"] is True and gap["measured"] == pytest.approx(0.01)
    assert "reduced" in gap["note"]


def test_claims_disagree_and_unmeasured():
    cfg = Config(n=50, hidden=64, steps=100)
    c = _by_id(cfg, _metrics(random_err=0.01, adv_err=0.0, radii=[1.15, None]))
    assert c["random_slice_correct"]["agrees"] is False
    assert c["adversarial_slice_errors_on_circle"]["agrees"] is False
    assert c["random_slice_max_margin"]["agrees"] is False  # a ray without a crossing
    assert "1 rays without" in c["random_slice_max_margin"]["note"]
    c = _by_id(cfg, _metrics(radii=[1.4, 0.9]))
    assert c["random_slice_max_margin"]["agrees"] is False
    c = _by_id(cfg, _metrics(attack_errors=0))
    assert c["adversarial_slice_errors_on_circle"]["agrees"] is None
    c = _by_id(cfg, _metrics(radii=[None]), measurable=False)
    assert all(v["agrees"] is None for v in c.values())
    assert c["random_slice_max_margin"]["measured"] is None
