"""Concentric spheres: exact radii, labels, seeding, independent splits, the online stream."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from advgeom.data import load
from advgeom.data.spheres import (
    load_spheres,
    sample_sphere,
    sample_spheres,
    sphere_batches,
    split_seed,
)
from advgeom.errors import InputError


def radii(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(x.double(), dim=1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-13)])
def test_sample_sphere_lies_on_its_radius(dtype, tol):
    x = sample_sphere(2000, 500, radius=2.5, generator=gen(), dtype=dtype)
    assert x.shape == (2000, 500) and x.dtype == dtype
    assert torch.allclose(radii(x), torch.full((2000,), 2.5, dtype=torch.float64), rtol=tol, atol=0)


def test_sample_sphere_is_centred_and_isotropic():
    # Uniform on the unit sphere: E[x] = 0 and E[x_j^2] = 1/n for every coordinate.
    n, N = 4, 40_000
    x = sample_sphere(N, n, generator=gen(3), dtype=torch.float64)
    assert x.mean(0).abs().max() < 0.02
    assert torch.allclose((x**2).mean(0), torch.full((n,), 1 / n, dtype=torch.float64), atol=0.01)


def test_sample_spheres_radii_follow_labels():
    x, y = sample_spheres(5000, 50, R=1.3, generator=gen())
    assert x.shape == (5000, 50) and y.shape == (5000,) and y.dtype == torch.int64
    expected = torch.where(y == 1, 1.3, 1.0).double()
    assert torch.allclose(radii(x), expected, rtol=1e-6, atol=0)
    assert set(y.tolist()) == {0, 1}


def test_labels_are_balanced_in_expectation():
    _, y = sample_spheres(20_000, 3, generator=gen(1))
    # Binomial(20000, 1/2): the standard deviation of the mean is 0.0035; allow ~6 of them.
    assert abs(y.double().mean().item() - 0.5) < 0.02


def test_labels_are_shuffled_not_blocked():
    _, y = sample_spheres(1000, 3, generator=gen(2))
    changes = (y[1:] != y[:-1]).sum().item()
    assert changes > 300  # ~500 for independent labels; a sorted vector would have 1


@settings(max_examples=30, deadline=None)
@given(
    N=st.integers(1, 40),
    n=st.integers(1, 300),
    R=st.floats(1.0001, 50.0),
    seed=st.integers(0, 2**32),
)
def test_property_every_point_on_its_sphere(N, n, R, seed):
    x, y = sample_spheres(N, n, R=R, generator=gen(seed))
    assert x.shape == (N, n) and torch.isfinite(x).all()
    expected = torch.where(y == 1, R, 1.0).double()
    assert torch.allclose(radii(x), expected, rtol=1e-6, atol=0)


def test_seeded_sampling_is_reproducible():
    a = sample_spheres(100, 20, generator=gen(7))
    b = sample_spheres(100, 20, generator=gen(7))
    c = sample_spheres(100, 20, generator=gen(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_load_is_reproducible_and_splits_are_independent():
    x1, y1 = load("spheres", n=30, N=200, seed=4)
    x2, y2 = load("spheres", n=30, N=200, seed=4)
    xt, yt = load("spheres", n=30, N=200, seed=4, split="test")
    x5, _ = load("spheres", n=30, N=200, seed=5)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.shape == (200, 30) and x1.dtype == torch.float32 and y1.dtype == torch.int64
    # No test point equals a training point, and a different seed gives different data.
    assert torch.cdist(x1, xt).min() > 1e-3
    assert not torch.equal(x1, x5)


def test_load_defaults_are_the_paper_settings():
    x, y = load("spheres", N=50)
    assert x.shape == (50, 500)
    assert torch.allclose(radii(x), torch.where(y == 1, 1.3, 1.0).double(), rtol=1e-6)


def test_split_seeds_do_not_collide():
    seeds = {split_seed(s, split) for s in range(50) for split in ("train", "test")}
    assert len(seeds) == 100
    assert all(0 <= s < 2**63 for s in seeds)


def test_batches_are_fresh_and_endless():
    stream = sphere_batches(10, 16, R=2.0, generator=gen(0))
    batches = list(itertools.islice(stream, 5))
    assert all(x.shape == (16, 10) and y.shape == (16,) for x, y in batches)
    for (xa, _), (xb, _) in itertools.combinations(batches, 2):
        assert not torch.equal(xa, xb)
    for x, y in batches:
        assert torch.allclose(radii(x), torch.where(y == 1, 2.0, 1.0).double(), rtol=1e-6)
    assert next(stream)[0].shape == (16, 10)  # still going


def test_batches_follow_the_generator():
    a = next(sphere_batches(5, 4, generator=gen(9)))
    b = next(sphere_batches(5, 4, generator=gen(9)))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_batch_arguments_are_checked_at_call_time():
    with pytest.raises(InputError, match="batch_size"):
        sphere_batches(5, 0)
    with pytest.raises(InputError, match="R must be > 1"):
        sphere_batches(5, 4, R=0.5)


@pytest.mark.parametrize(
    "options, field",
    [
        ({"n": 0}, "n must be >= 1"),
        ({"n": 2.5}, "n must be an integer"),
        ({"n": True}, "n must be an integer"),
        ({"N": 0}, "N must be >= 1"),
        ({"N": -3}, "N must be >= 1"),
        ({"R": 1.0}, r"R must be > 1 \(got 1.0\)"),
        ({"R": 0.7}, "R must be > 1"),
        ({"R": math.nan}, "R must be a finite number"),
        ({"R": math.inf}, "R must be a finite number"),
        ({"R": "big"}, "R must be a real number"),
        ({"seed": -1}, "seed must be >= 0"),
    ],
)
def test_bad_options_name_the_field(options, field):
    with pytest.raises(InputError, match=field):
        load("spheres", **{"n": 5, "N": 5, **options})


def test_integral_floats_are_accepted():
    x, _ = load("spheres", n=4.0, N=1e1)
    assert x.shape == (10, 4)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: sample_sphere(0, 3), "N must be >= 1"),
        (lambda: sample_sphere(3, 0), "n must be >= 1"),
        (lambda: sample_sphere(3, 3, radius=0.0), "radius must be > 0"),
        (lambda: sample_sphere(3, 3, radius=math.nan), "radius must be a finite"),
        (lambda: sample_sphere(3, 3, dtype=torch.int64), "dtype"),
        (lambda: sample_spheres(3, 3, R=math.nan), "R must be a finite"),
    ],
)
def test_sampler_arguments_are_checked(call, field):
    with pytest.raises(InputError, match=field):
        call()


def test_load_spheres_rejects_unknown_split():
    with pytest.raises(InputError, match="split"):
        load_spheres(split="valid")


def test_device_and_dtype_are_respected():
    x, y = sample_spheres(8, 3, generator=gen(), dtype=torch.float64, device="cpu")
    assert x.dtype == torch.float64 and x.device.type == "cpu" and y.device.type == "cpu"


def test_float32_draws_are_on_the_sphere_to_float32_precision():
    x = sample_sphere(2_000, 300, radius=1.3, generator=torch.Generator().manual_seed(0),
                      draw_float64=False)
    assert x.dtype == torch.float32 and x.shape == (2_000, 300)
    norms = torch.linalg.vector_norm(x.double(), dim=1)
    assert (norms - 1.3).abs().max() < 1e-5
