"""Softmax geometry (Zou et al.): adversarial subspace, class regions, parallel boundaries."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from advgeom.errors import InputError
from advgeom.geometry import softmax as sm
from advgeom.geometry import softmax_parallel as sp
from advgeom.geometry import softmax_regions as sr

SQ3 = math.sqrt(3)
# Three unit vectors at 0, 120, 240 degrees and a centre class with w = 0, b = 1: the centre
# region {w_j . h <= 1} is the triangle with vertices (-2, 0), (1, +-sqrt 3), inradius 1
# (Fig. 1 left).
TRIANGLE = (
    np.array([[1.0, 0], [-0.5, SQ3 / 2], [-0.5, -SQ3 / 2], [0, 0]]),
    np.array([0.0, 0, 0, 1]),
)


def random_head(width: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, width)), rng.standard_normal(m)


# --- Theorem 1: the adversarial subspace ---------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(width=st.integers(1, 40), m=st.integers(2, 40), seed=st.integers(0, 2**31))
def test_dimension_of_generic_heads(width, m, seed):
    """dim V = l - m + 1 for l >= m, 0 for l < m: at least l - m (Theorem 1)."""
    V = sm.adversarial_subspace(random_head(width, m, seed))
    assert V.dim == (width - m + 1 if width >= m else 0)
    assert V.dim >= width - m and V.dim == sm.dimension_formula(random_head(width, m, seed))
    assert V.basis.shape == (width, V.dim) and V.complement.shape == (width, width - V.dim)


@pytest.mark.parametrize("width,m", [(12, 5), (5, 5), (3, 5)])
def test_basis_is_orthonormal_and_maps_to_multiples_of_one(width, m):
    W, b = random_head(width, m, 1)
    V = sm.adversarial_subspace((W, b))
    full = np.hstack([V.basis, V.complement])
    np.testing.assert_allclose(full.T @ full, np.eye(width), atol=1e-12)
    image = W @ V.basis  # (m, dim V): every column a multiple of 1
    np.testing.assert_allclose(image - image.mean(axis=0), 0, atol=1e-12)
    if V.dim:  # and a direction of the complement is not
        off = W @ V.complement[:, 0]
        assert np.ptp(off) > 1e-3


def test_rank_deficient_heads_have_larger_V():
    rng = np.random.default_rng(0)
    low = rng.standard_normal((10, 3)) @ rng.standard_normal((3, 20))  # rank 3, 1 not in range
    assert sm.adversarial_subspace((low, None)).dim == 20 - 3
    with_ones = np.hstack([np.ones((10, 1)), rng.standard_normal((10, 2))]) @ rng.standard_normal(
        (3, 20)
    )  # rank 3 with 1 in its range: one more direction
    assert sm.adversarial_subspace((with_ones, None)).dim == 20 - 3 + 1
    assert sm.dimension_formula((with_ones, None)) == 18
    same_rows = np.tile(rng.standard_normal(20), (10, 1))  # softmax sees nothing of h
    assert sm.adversarial_subspace((same_rows, None)).dim == 20


@pytest.mark.parametrize("width,m", [(64, 10), (10, 10), (200, 50)])
def test_probabilities_unchanged_along_V_in_float64(width, m):
    W, b = random_head(width, m, 2)
    V = sm.adversarial_subspace((W, b))
    rng = np.random.default_rng(3)
    points = rng.standard_normal((5, width))
    dirs = sm.random_unit_directions(V.basis, 16, rng)
    thetas = (-1e4, -1.0, 1e-3, 1.0, 1e4)
    assert sm.probability_change((W, b), points, dirs, thetas=thetas) <= 1e-9
    assert sm.invariance_bound((W, b), V, 1e4) <= 1e-9
    # The check can fail: a direction outside V changes the probabilities.
    assert sm.probability_change((W, b), points, V.complement[:, :1], thetas=(1e2,)) > 1e-3


def test_float32_linear_layer_is_read_in_float64():
    layer = torch.nn.Linear(30, 7)
    V = sm.adversarial_subspace(layer)
    assert V.dim == 24 and V.lower_bound == 23
    points = np.random.default_rng(0).standard_normal((3, 30))
    assert sm.probability_change(layer, points, V.basis) <= 1e-9


def test_bad_heads_are_input_errors():
    with pytest.raises(InputError, match="shape"):
        sm.adversarial_subspace((np.ones(3), None))
    with pytest.raises(InputError, match="bias"):
        sm.head_weights((np.ones((3, 2)), np.ones(2)))
    with pytest.raises(InputError, match="finite"):
        sm.head_weights((np.full((3, 2), np.nan), None))
    with pytest.raises(InputError, match="head"):
        sm.head_weights("linear")


# --- Theorem 2: class regions --------------------------------------------------------------


def test_lp_direction_on_a_hand_built_three_class_head():
    """Class 0 of w = (1, 0), (0, 1), (-1, -1): max_d min(d1 - d2, 2 d1 + d2) over the box is
    1.5 at d = (1, -1/2)."""
    head = (np.array([[1.0, 0], [0, 1], [-1, -1]]), np.zeros(3))
    region = sr.class_region(head, 0)
    assert region.kind == "strict"
    np.testing.assert_allclose(region.direction, np.array([1, -0.5]) / math.sqrt(1.25), atol=1e-9)
    assert region.growth == pytest.approx(1.5 / math.sqrt(1.25))
    for r in sr.class_regions(head):
        W, _ = head
        assert np.all((W[r.cls] - np.delete(W, r.cls, 0)) @ r.direction > 0)
        far = sr.far_along(head, r, (1e2, 1e4, 1e6))
        assert far["classes"] == [r.cls] * 3
        assert far["margins"][2] > far["margins"][0] > 0  # the margin grows linearly
        assert sr.is_unbounded_lp(head, r)


def test_wide_head_has_invariant_directions_with_identical_probabilities():
    head = random_head(12, 5, 4)
    V = sm.adversarial_subspace(head)
    for r in sr.class_regions(head):
        assert r.unbounded and r.interior is not None
        z = r.interior @ head[0].T + head[1]
        assert int(np.argmax(z)) == r.cls
        assert sm.probability_change(head, r.interior, V.basis, thetas=(1e6,)) <= 1e-9


def test_bounded_region_when_l_below_m():
    kinds = [r.kind for r in sr.class_regions(TRIANGLE)]
    assert kinds == ["strict", "strict", "strict", "bounded"]
    lo, hi = sr.region_box(TRIANGLE, 3)
    np.testing.assert_allclose(lo, [-2, -SQ3], atol=1e-7)
    np.testing.assert_allclose(hi, [1, SQ3], atol=1e-7)
    assert sr.region_extent(TRIANGLE, 3) == pytest.approx(2)
    assert sr.region_extent(TRIANGLE, 0) == math.inf
    inner = sr.class_region(TRIANGLE, 3, radius_cap=10.0)
    assert inner.direction is None and inner.inradius == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(inner.interior, [0, 0], atol=1e-5)


def test_empty_region_and_orthant():
    W, b = TRIANGLE
    hidden = (np.vstack([W, [0, 0]]), np.r_[b, -5.0])  # w = 0 with a lower bias never wins
    assert sr.class_region(hidden, 4).kind == "empty"
    assert math.isnan(sr.region_extent(hidden, 4))
    # {h1 <= 1, h2 <= 1}: unbounded in R^2, the unit square in the orthant h >= 0.
    square = (np.array([[0.0, 0], [1, 0], [0, 1]]), np.array([1.0, 0, 0]))
    assert sr.class_region(square, 0).kind == "strict"
    assert sr.class_region(square, 0, domain="nonnegative").kind == "bounded"
    assert sr.region_extent(square, 0, domain="nonnegative") == pytest.approx(1)
    with pytest.raises(InputError, match="domain"):
        sr.class_region(square, 0, domain="positive")


@settings(max_examples=15, deadline=None)
@given(width=st.integers(2, 3), m=st.integers(4, 9), seed=st.integers(0, 2**31))
def test_region_kinds_are_consistent_on_narrow_heads(width, m, seed):
    """Every non-empty region is either verified unbounded or has a finite box."""
    head = random_head(width, m, seed)
    for r in sr.class_regions(head):
        if r.kind == "empty":
            continue
        if r.kind == "bounded":
            assert math.isfinite(sr.region_extent(head, r.cls))
        else:
            assert sr.far_along(head, r)["classes"] == [r.cls] * 3
            assert sr.is_unbounded_lp(head, r)


# --- Definition 2: parallel boundaries -----------------------------------------------------


def test_parallel_boundaries_on_a_hand_built_head():
    """w = (1, 0), (0, 0), (-1, 0) with the middle bias 0.5: slabs x > .5, |x| < .5, x < -.5."""
    head = (np.array([[1.0, 0], [0, 0], [-1, 0]]), np.array([0.0, 0.5, 0]))
    assert sp.realised_boundaries(head) == [(0, 1), (1, 2)]
    assert sp.separated_pairs(head) == [(0, 2)]
    pairs, smallest = sp.parallel_boundaries(head)
    assert [(p.first, p.second) for p in pairs] == [((0, 1), (1, 2))] and smallest == 0
    # A lower middle bias empties the middle class: no realised boundaries are parallel.
    low = (head[0], np.array([0.0, -0.5, 0]))
    assert sp.realised_boundaries(low) == [(0, 2)]
    assert sp.parallel_boundaries(low)[0] == []
    assert len(sp.parallel_boundaries(low, realised_only=False)[0]) == 3


def test_generic_heads_are_not_parallel():
    head = (np.array([[1.0, 0], [0, 1], [-1, -1]]), np.zeros(3))
    pairs, smallest = sp.parallel_boundaries(head)
    assert pairs == [] and smallest > 0.1
    wide = random_head(16, 6, 5)
    assert sp.separated_pairs(wide) == [] and sp.parallel_boundaries(wide)[0] == []


def test_boundary_angle_is_accurate_near_zero():
    n = np.array([1.0, 2.0, 3.0])
    tilt = n + 1e-9 * np.array([2.0, -1.0, 0.0])
    assert sp.boundary_angle(n, tilt) == pytest.approx(
        1e-9 * np.linalg.norm([2, -1, 0]) / np.linalg.norm(n), rel=1e-4
    )
    assert sp.boundary_angle(n, -2 * n) == 0.0


def test_make_parallel_separates_the_outer_classes():
    head = random_head(8, 5, 6)
    assert (0, 2) not in sp.separated_pairs(head)
    made = sp.make_parallel(head, between=(0, 1, 2), gap=1.0)
    assert sp.separated_pairs(made) == [(0, 2)]
    assert any({p.first, p.second} == {(0, 1), (1, 2)} for p in sp.parallel_boundaries(made)[0])
    touching = sp.make_parallel(head, between=(0, 1, 2), gap=-1.0)  # j empty: 0, 2 adjacent
    assert (0, 2) not in sp.separated_pairs(touching)
    with pytest.raises(InputError, match="between"):
        sp.make_parallel(head, between=(0, 0, 2))


def test_chain_head_is_a_linear_layer_with_parallel_slabs():
    chain = sp.ChainHead(8, 6, generator=torch.Generator().manual_seed(0))
    h = torch.randn(7, 8, generator=torch.Generator().manual_seed(1))
    linear = h.double() @ chain.weight.T + chain.bias
    torch.testing.assert_close(chain(h).double(), linear, atol=1e-5, rtol=1e-5)
    assert sp.realised_boundaries(chain) == [(j, j + 1) for j in range(5)]
    assert len(sp.parallel_boundaries(chain)[0]) == 10  # every pair of the 5 boundaries
    assert sm.adversarial_subspace(chain).dim == 7  # only u . h matters
    kinds = [r.kind for r in sr.class_regions(chain)]
    assert kinds == ["strict"] + ["invariant"] * 4 + ["strict"]
    assert torch.all(chain.thresholds().diff() > 0)
