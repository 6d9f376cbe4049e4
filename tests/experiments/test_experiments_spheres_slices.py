"""``spheres.slices``: plane bases, grid coordinates, boundary bisection and the claims logic."""

from __future__ import annotations

import math
from types import SimpleNamespace

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
    inner_reach,
    plane_basis,
    plane_logits,
    plane_points,
)
from advgeom.runs import rules


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


def _slice(inner=0.0, outer=0.0, radii=(), reach=1.15):
    return {"inner_error": inner, "outer_error": outer, "boundary_radii": list(radii),
            "largest_inner_norm": reach, "inner_share_beyond": 0.0 if reach <= 2 else 0.05,
            "min_logit_beyond": 3.0 if reach <= 2 else -2.0}


def _metrics(random_err=0.0, adv_err=0.3, radii=None, attack_errors=3, reach=2.4, whole=1.0):
    rr = _slice(inner=random_err, radii=radii if radii is not None else [1.16, 1.14, 1.15, 1.17])
    ra = _slice(outer=adv_err, reach=reach)
    aa = _slice(outer=whole, reach=reach)
    return {"R": 1.3, "attack_errors": attack_errors, "attack_points": 20,
            "attack_from": "outer", "picked_are_errors": [attack_errors > 0, attack_errors > 1],
            "slices": dict(zip(KINDS, (rr, ra, aa), strict=True))}


def _by_id(cfg, m, measurable=True):
    return {c["id"]: c for c in slices.claims(cfg, m, measurable=measurable)}


CFG = Config(n=50, hidden=64, steps=100)


def test_claims_agree_on_paper_like_slices():
    c = _by_id(CFG, _metrics())
    assert list(c) == ["random_slice_correct", "adversarial_slice_errors_on_circle",
                       "random_slice_max_margin", "norm_above_2_inner", "outer_circle_wrong"]
    assert all(v["agrees"] is True for v in c.values())
    gap = c["random_slice_max_margin"]
    assert gap["measured"] == pytest.approx(0.01)
    assert "reduced" in gap["note"]
    assert c["norm_above_2_inner"]["measured"] == 2.4
    assert c["outer_circle_wrong"]["measured"] == 1.0


def test_claims_disagree_and_unmeasured():
    c = _by_id(CFG, _metrics(random_err=0.01, radii=[1.15, None], reach=1.2, whole=0.6))
    assert c["random_slice_correct"]["agrees"] is False
    assert c["random_slice_max_margin"]["agrees"] is False  # a ray without a crossing
    assert c["random_slice_max_margin"]["measured"] == pytest.approx(1.15 / 2)
    assert "1 rays without" in c["random_slice_max_margin"]["note"]
    assert c["norm_above_2_inner"]["agrees"] is False
    assert c["outer_circle_wrong"]["agrees"] is False and c["outer_circle_wrong"]["measured"] == 0.6
    c = _by_id(CFG, _metrics(radii=[1.4, 0.9]))
    assert c["random_slice_max_margin"]["agrees"] is False
    c = _by_id(CFG, _metrics(radii=[None]), measurable=False)
    assert all(v["agrees"] is None for v in c.values())
    assert c["random_slice_max_margin"]["measured"] == pytest.approx(1.15)


def test_errors_on_circle_is_a_construction_and_needs_an_error_to_slice_through():
    """Old defect: a reproduction whose verdict was inner_error > 0, true for any successful
    attack. It is now a construction check; the paper's statements have their own claims."""
    c = _by_id(CFG, _metrics())
    on_circle = c["adversarial_slice_errors_on_circle"]
    assert on_circle["kind"] == "construction" and on_circle["agrees"] is True
    assert all(c[k]["kind"] == "reproduction" for k in c if k != on_circle["id"])
    assert _by_id(CFG, _metrics(adv_err=1.0))[on_circle["id"]]["agrees"] is False  # no correct arc
    none = _by_id(CFG, _metrics(attack_errors=0, adv_err=0.0))
    assert none[on_circle["id"]]["agrees"] is None
    # A successful attack alone no longer reproduces the paper: its two statements can fail.
    weak = _by_id(CFG, _metrics(attack_errors=20, reach=1.3, whole=0.2))
    assert weak["norm_above_2_inner"]["agrees"] is False
    assert weak["outer_circle_wrong"]["agrees"] is False


def test_every_claim_rule_can_fail_and_accepts_the_paper():
    for c in slices.claims(CFG, _metrics()):
        assert rules.contract_problems(c.decided_by, c["paper_value"]) == [], c["id"]


class SpotModel(nn.Module):
    """The norm model (boundary at 1.15), but "outer" within ``width`` of one point ``spot``: an
    error region that is only the adversarial example itself."""

    def __init__(self, spot: torch.Tensor, width: float = 1e-6) -> None:
        super().__init__()
        self.spot = nn.Parameter(spot.double(), requires_grad=False)
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.double()
        near = torch.linalg.vector_norm(x - self.spot, dim=1) < self.width
        logit = torch.linalg.vector_norm(x, dim=1) - 1.15
        return torch.where(near, torch.ones_like(logit), logit).unsqueeze(-1)


def test_circle_sampling_does_not_count_the_adversarial_example_itself():
    """Old defect: the circle sampling started exactly at the example spanning the plane, so a
    single wrong point (the example) made the error share > 0."""
    gen = torch.Generator().manual_seed(4)
    adv = torch.nn.functional.normalize(torch.randn(12, generator=gen, dtype=torch.float64), dim=0)
    model = SpotModel(adv)
    basis = plane_basis(adv, torch.randn(12, generator=gen))
    mark = (basis @ adv).tolist()
    old = circle_errors(model, basis, radius=1.0, label=0, points=360,
                        phase=math.atan2(mark[1], mark[0]))
    assert old == pytest.approx(1 / 360)  # what the old sampling measured: the example
    new = circle_errors(model, basis, radius=1.0, label=0, points=360,
                        phase=slices.circle_phase([mark], 360))
    assert new == 0.0


def test_circle_phase_keeps_every_mark_off_the_samples():
    for marks in ([[1.0, 0.0]], [[0.0, 1.0], [1.0, 1e-5]], [[0.3, -0.4], [-1.0, 0.2], [0.1, 1]]):
        spacing = 2 * math.pi / 3600
        phase = slices.circle_phase(marks, 3600)
        for a, b in marks:
            off = (math.atan2(b, a) - phase) % spacing
            assert min(off, spacing - off) >= spacing / (2 * len(marks)) - 1e-12


def test_inner_reach_of_norm_models():
    basis = plane_basis(torch.eye(6)[0], torch.eye(6)[3])
    near = inner_reach(NormModel(1.15), basis, angles=36, r_max=3.0)
    assert near["largest_inner_norm"] == pytest.approx(1.15, abs=0.011)
    assert near["inner_share_beyond"] == 0.0 and near["min_logit_beyond"] > 0
    far = inner_reach(NormModel(2.5), basis, angles=36, r_max=3.0)
    assert far["largest_inner_norm"] == pytest.approx(2.5, abs=0.011)
    assert far["inner_share_beyond"] == pytest.approx(0.5, abs=0.02)


def test_measure_slices_through_worst_case_examples_of_the_outer_sphere(monkeypatch):
    """Old defect: first-error examples of the inner sphere. Fig. 1 uses worst-case examples (all
    steps), with the paper's step, here from the outer sphere (see the module docstring)."""
    seen = []
    real = slices.manifold_pgd

    def spy(model, x, y, **kw):
        seen.append({"norms": x.norm(dim=1), "labels": y, **kw})
        return real(model, x, y, **kw)

    monkeypatch.setattr(slices, "manifold_pgd", spy)
    cfg = Config(n=6, hidden=8, steps=5, attack_points=3, attack_steps=4, grid=5,
                 circle_points=36, angles=8)
    ctx = SimpleNamespace(device=torch.device("cpu"),
                          generator=lambda *k: torch.Generator().manual_seed(len(k[0])))
    m = slices.measure(cfg, ctx)
    (call,) = seen
    assert call["mode"] == "worst_case" and call["tangent"] is False
    assert call["steps"] == 4 and call["step_size"] == cfg.attack_step_size
    torch.testing.assert_close(call["norms"], torch.full((3,), 1.3), rtol=1e-5, atol=1e-5)
    assert call["labels"].tolist() == [1, 1, 1]
    assert set(m["slices"]) == set(KINDS) and m["attack_from"] == "outer"
    ra = m["slices"]["random/adversarial"]
    assert {"largest_inner_norm", "inner_share_beyond", "circle_phase"} <= set(ra)
    with pytest.raises(InputError, match="attack_from"):
        Config(attack_from="both")
