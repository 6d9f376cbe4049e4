"""d_m (Badger, Eq. 1): the blocked scan against brute force, duplicates, chunking."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from advgeom.errors import InputError
from advgeom.metrics import (
    distinct_rows,
    min_input_distance,
    min_output_distance,
    min_pairwise_distance,
)


def brute_force(z: torch.Tensor) -> tuple[float, set]:
    """Minimum L1 distance over i < j by a double loop, and every pair attaining it."""
    best, pairs = float("inf"), set()
    for i, j in itertools.combinations(range(len(z)), 2):
        d = float((z[i] - z[j]).abs().sum())
        if d < best:
            best, pairs = d, {(i, j)}
        elif d == best:
            pairs.add((i, j))
    return best, pairs


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_matches_brute_force_for_chunks_that_do_not_divide_n(chunk):
    z = torch.randn(23, 5, generator=torch.Generator().manual_seed(chunk), dtype=torch.float64)
    d, i, j = min_pairwise_distance(z, chunk=chunk)
    best, pairs = brute_force(z)
    assert d == pytest.approx(best, rel=1e-12)
    assert (i, j) in pairs and i < j


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 30),
    m=st.integers(1, 6),
    chunk=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    levels=st.integers(2, 5),
)
def test_property_matches_brute_force_on_integer_grids(n, m, chunk, seed, levels):
    """Small integer values make ties and exact zeros common (all distances exact)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randint(0, levels, (n, m), generator=gen).double()
    d, i, j = min_pairwise_distance(z, chunk=chunk)
    best, pairs = brute_force(z)
    assert d == best
    assert (i, j) in pairs


def test_upper_triangle_only_never_pairs_a_row_with_itself():
    z = torch.tensor([[0.0], [10.0], [30.0]])
    d, i, j = min_pairwise_distance(z, chunk=2)
    assert (d, i, j) == (10.0, 0, 1)


def test_fewer_than_two_rows_give_infinity():
    assert min_pairwise_distance(torch.zeros(1, 3)) == (float("inf"), -1, -1)


def test_duplicate_inputs_give_zero_and_are_reported_and_left_out():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [5.0, 5.0], [1.0, 0.0], [0.0, 0.0]])
    res = min_output_distance(lambda v: 3 * v, x, chunk=2)
    # Groups {0, 2, 5} and {1, 4}: 3 + 1 equal pairs.
    assert res.duplicate_pairs == 4
    assert sorted(map(sorted, res.duplicate_groups)) == [[0, 2, 5], [1, 4]]
    assert res.distance_with_duplicates == 0.0
    assert res.n == 6 and res.n_distinct == 3
    # Among distinct inputs (0,0), (1,0), (5,5) the closest outputs are 3 apart.
    assert res.distance == pytest.approx(3.0)
    assert res.pair == (0, 1)


def test_equal_outputs_of_distinct_inputs_give_zero_with_their_pair():
    x = torch.tensor([[0.0], [1.0], [-1.0], [4.0]])
    res = min_output_distance(lambda v: v.square(), x)
    assert res.distance == 0.0 and res.pair == (1, 2)
    assert res.duplicate_pairs == 0


def test_outputs_given_directly_with_and_without_inputs():
    out = torch.tensor([[0.0], [2.0], [2.5], [0.0]])
    bare = min_output_distance(out)
    assert bare.distance == 0.0 and bare.pair == (0, 3) and bare.duplicate_pairs is None
    x = torch.tensor([[1.0], [2.0], [3.0], [1.0]])  # rows 0 and 3 are the same input
    res = min_output_distance(out, x)
    assert res.distance == pytest.approx(0.5) and res.pair == (1, 2)
    assert res.duplicate_pairs == 1


def test_model_runs_in_eval_mode_and_in_batches():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.9))
    model.train()
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    a = min_output_distance(model, x, batch_size=7, chunk=16)
    with torch.no_grad():
        best, pairs = brute_force(model.eval()(x))
    assert a.distance == pytest.approx(best, rel=1e-5) and a.pair in pairs
    model.train()
    assert model.training  # the mode is restored


def test_input_distance_and_image_shapes():
    x = torch.zeros(4, 1, 2, 2)
    x[1, 0, 0, 0] = 1.0
    x[2, 0, 1, 1] = 0.25
    x[3] = x[2]
    res = min_input_distance(x)
    assert res.distance == 0.25 and res.pair == (0, 2) and res.duplicate_pairs == 1


def test_distinct_rows_keeps_the_data_order():
    x = torch.tensor([[3.0], [1.0], [3.0], [2.0]])
    first, inverse, groups, pairs = distinct_rows(x)
    assert first.tolist() == [0, 1, 3]
    assert inverse.tolist() == [0, 1, 0, 2]
    assert groups == [[0, 2]] and pairs == 1


def test_bad_inputs_are_refused():
    with pytest.raises(InputError, match="x is required"):
        min_output_distance(lambda v: v)
    with pytest.raises(InputError, match="z must be"):
        min_pairwise_distance(torch.zeros(3))
    with pytest.raises(InputError, match="rows"):
        min_output_distance(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(InputError, match="chunk"):
        min_pairwise_distance(torch.zeros(3, 2), chunk=0)
