"""scikit-learn's digits: shapes, range, and the fixed, disjoint, stratified split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advgeom.data import load
from advgeom.data.digits import load_digits, split_indices
from advgeom.errors import InputError


@pytest.fixture(scope="module")
def splits():
    return {split: load("digits", split=split) for split in ("train", "test")}


def test_shapes_dtypes_and_range(splits):
    (x, y), (xt, yt) = splits["train"], splits["test"]
    assert x.shape == (1347, 1, 8, 8) and xt.shape == (450, 1, 8, 8)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    for images in (x, xt):
        assert images.min() >= 0 and images.max() <= 1 and images.max() == 1
        # Raw values are integers 0..16, so every pixel is a multiple of 1/16.
        assert torch.equal(images * 16, (images * 16).round())
    assert set(y.tolist()) == set(range(10)) == set(yt.tolist())


def test_split_is_disjoint_covering_and_stratified():
    from sklearn.datasets import load_digits as sk

    labels = sk().target
    train, test = split_indices(labels, "train"), split_indices(labels, "test")
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))
    for label in range(10):
        share = np.mean(labels[test] == label) / np.mean(labels == label)
        assert 0.95 < share < 1.05  # each class keeps its proportion


def test_split_matches_sklearn_pixels(splits):
    from sklearn.datasets import load_digits as sk

    bunch = sk()
    index = split_indices(bunch.target, "test")
    xt, yt = splits["test"]
    assert torch.equal(xt[:, 0], torch.from_numpy(bunch.images[index] / 16.0).float())
    assert torch.equal(yt, torch.from_numpy(bunch.target[index]).long())


def test_split_is_deterministic(splits):
    x, y = load_digits(split="test")
    assert torch.equal(x, splits["test"][0]) and torch.equal(y, splits["test"][1])


def test_no_test_image_in_train(splits):
    (x, _), (xt, _) = splits["train"], splits["test"]
    flat, flat_t = x.flatten(1), xt.flatten(1)
    # The data set has a few exact duplicate images; at most those may coincide.
    assert (torch.cdist(flat_t, flat).min(dim=1).values == 0).sum() <= 5


def test_root_is_ignored_and_bad_split_refused(tmp_path):
    x, _ = load("digits", root=tmp_path / "nowhere", split="test")
    assert x.shape[0] == 450
    with pytest.raises(InputError, match="split"):
        load("digits", split="validation")
