"""Transforms: pixel-copy up-sampling, block averaging, two-class subsets, flattening."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from advgeom.data import binary_subset, downsample, flatten, upsample
from advgeom.errors import InputError


def images(N=2, C=3, H=4, W=5, seed=0):
    return torch.rand(N, C, H, W, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_upsample_copies_pixels(factor):
    x = images()
    up = upsample(x, factor)
    assert up.shape == (2, 3, 4 * factor, 5 * factor)
    for i in range(4 * factor):
        for j in range(5 * factor):
            assert torch.equal(up[:, :, i, j], x[:, :, i // factor, j // factor])


def test_upsample_example():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = torch.tensor(
        [[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]], dtype=torch.float32
    )
    assert torch.equal(upsample(x, 2), expected)


def test_upsample_keeps_integer_dtype():
    x = torch.arange(4, dtype=torch.uint8).reshape(1, 1, 2, 2)
    assert upsample(x, 3).dtype == torch.uint8


def test_downsample_averages_blocks():
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    expected = torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]])
    assert torch.equal(downsample(x, 2), expected)
    assert torch.allclose(downsample(x, 2), torch.nn.functional.avg_pool2d(x, 2))


@settings(max_examples=25, deadline=None)
@given(factor=st.integers(1, 4), H=st.integers(1, 6), W=st.integers(1, 6), seed=st.integers(0, 99))
def test_property_downsample_inverts_upsample(factor, H, W, seed):
    # Values on a dyadic grid make the block mean exact in float32.
    x = (images(H=H, W=W, seed=seed) * 256).round() / 256
    assert torch.equal(downsample(upsample(x, factor), factor), x)


@pytest.mark.parametrize("factor", [0, -2, 1.5, True, "2", None])
@pytest.mark.parametrize("function", [upsample, downsample])
def test_bad_factor_names_the_field(function, factor):
    with pytest.raises(InputError, match="factor"):
        function(images(H=4, W=4), factor)


def test_downsample_needs_a_divisor():
    with pytest.raises(InputError, match="factor must divide"):
        downsample(images(H=28, W=28), 3)


def test_downsample_needs_floats():
    with pytest.raises(InputError, match="floating point"):
        downsample(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 2)


@pytest.mark.parametrize("bad", [torch.zeros(3, 4), torch.zeros(1, 2, 3, 4, 5), [[1.0]]])
def test_image_shape_is_checked(bad):
    with pytest.raises(InputError, match=r"\(N, C, H, W\)"):
        upsample(bad, 2)


def test_binary_subset_relabels():
    x = torch.arange(8, dtype=torch.float32).reshape(8, 1)
    y = torch.tensor([2, 3, 5, 3, 2, 7, 3, 2])
    xs, ys = binary_subset(x, y, pos=2, neg=3)
    assert torch.equal(xs[:, 0], torch.tensor([0.0, 1, 3, 4, 6, 7]))
    assert torch.equal(ys, torch.tensor([1, 0, 0, 1, 0, 1]))
    assert ys.dtype == torch.int64


def test_binary_subset_validates_classes():
    x, y = torch.zeros(4, 2), torch.tensor([0, 1, 1, 0])
    with pytest.raises(InputError, match=r"pos=5 is not a class of y; classes present: \[0, 1\]"):
        binary_subset(x, y, 5, 0)
    with pytest.raises(InputError, match="neg=9"):
        binary_subset(x, y, 1, 9)
    with pytest.raises(InputError, match="different"):
        binary_subset(x, y, 1, 1)
    with pytest.raises(InputError, match="pos must be"):
        binary_subset(x, y, -1, 0)
    with pytest.raises(InputError, match="one row per label"):
        binary_subset(torch.zeros(3, 2), y, 1, 0)
    with pytest.raises(InputError, match="integer labels"):
        binary_subset(x, y.float(), 1, 0)


def test_flatten():
    x = images()
    assert flatten(x).shape == (2, 60)
    assert torch.equal(flatten(x)[1], x[1].reshape(-1))
    with pytest.raises(InputError, match="batch dimension"):
        flatten(torch.tensor(1.0))
