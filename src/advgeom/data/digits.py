"""scikit-learn's bundled 8x8 handwritten digits: the data set that needs no download.

1,797 images of the digits 0-9 (UCI "Optical Recognition of Handwritten Digits", test part),
8x8 pixels with integer values 0..16, shipped inside scikit-learn. Pixels are divided by 16 so
they lie in [0, 1] like every other image data set here.

There is no official train/test split, so this module fixes one: a stratified 75/25 split made
with a fixed seed (:data:`SPLIT_SEED`). Within each class the indices are permuted by a
``torch.Generator`` seeded with ``SPLIT_SEED`` and the first ``round(0.25 * count)`` go to the
test split; both splits keep the original order of the data set. The splits are disjoint and
together cover all 1,797 images (1,347 train, 450 test).
"""

from __future__ import annotations

import numpy as np
import torch

from advgeom.errors import check_choice

__all__ = ["SPLIT_SEED", "TEST_FRACTION", "load_digits", "split_indices"]

SPLIT_SEED = 0
TEST_FRACTION = 0.25


def split_indices(y: np.ndarray, split: str) -> np.ndarray:
    """Indices of the fixed stratified split ``split`` of labels ``y`` (sorted, int64).

    Args:
        y: ``(N,)`` integer labels.
        split: ``"train"`` or ``"test"``.
    """
    check_choice("split", split, ("train", "test"))
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    test = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        order = torch.randperm(len(members), generator=generator).numpy()
        test.append(members[order[: round(TEST_FRACTION * len(members))]])
    is_test = np.zeros(len(y), dtype=bool)
    is_test[np.concatenate(test)] = True
    return np.flatnonzero(is_test if split == "test" else ~is_test).astype(np.int64)


def load_digits(*, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """The digits split ``split`` as image tensors.

    Args:
        split: ``"train"`` (1,347 images) or ``"test"`` (450 images).

    Returns:
        x: ``(N, 1, 8, 8)`` float32 in [0, 1]; y: ``(N,)`` int64 in 0..9.
    """
    check_choice("split", split, ("train", "test"))
    # Imported here: scikit-learn's import costs ~1 s and only this data set needs it.
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / 16.0
    labels = np.asarray(bunch.target, dtype=np.int64)
    index = split_indices(labels, split)
    x = torch.from_numpy(np.ascontiguousarray(images[index])).unsqueeze(1)
    return x, torch.from_numpy(labels[index])
