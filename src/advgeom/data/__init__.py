"""Data sets and transforms: one entry point, :func:`load`, for every data set advgeom uses.

>>> from advgeom import data
>>> x, y = data.load("digits", split="test")       # bundled with scikit-learn, no download
>>> x.shape, y.dtype
(torch.Size([450, 1, 8, 8]), torch.int64)

Names (:data:`DATASETS`) and their options (keyword-only, beside ``root`` and ``split``):

==================  ==========================================  ===========================
name                what                                        options (defaults)
==================  ==========================================  ===========================
``spheres``         Gilmer et al.'s concentric spheres, (N, n)  n=500, N=10000, R=1.3, seed=0
``digits``          scikit-learn's 8x8 digits, fixed 75/25      (none)
``mnist``           MNIST, IDX files                            download=True
``fashion-mnist``   Fashion-MNIST, IDX files                    download=True
``cifar10``         CIFAR-10, python pickle batches             download=True
``cifar100``        CIFAR-100, python pickle batches            label_mode="fine", download=True
``miniimagenet``    Simon-Gabriel et al.'s 12-class ImageNet    size=256, limit=None, classes=12
                    subset, JPEG/PNG class folders (App. H)
==================  ==========================================  ===========================

Images are float32 in [0, 1] with shape ``(N, C, H, W)``; labels are int64. Files are looked
for in ``root`` (else ``$ADVGEOM_DATA``), then in the cache (``$ADVGEOM_CACHE/data``, default
``~/.cache/advgeom/data``), and downloaded into the cache if missing (see
:mod:`advgeom.data.locate`).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import torch

from advgeom.data import transforms
from advgeom.data.cifar import load_cifar, locate_cifar_files
from advgeom.data.digits import load_digits
from advgeom.data.miniimagenet import load_miniimagenet, locate_miniimagenet_files
from advgeom.data.mnist import load_idx_dataset, locate_idx_files
from advgeom.data.spheres import load_spheres
from advgeom.data.transforms import binary_subset, downsample, flatten, upsample
from advgeom.errors import InputError, check_choice, check_int

__all__ = [
    "DATASETS",
    "FILE_BACKED",
    "binary_subset",
    "downsample",
    "flatten",
    "canonical_name",
    "input_shape",
    "load",
    "locate",
    "transforms",
    "upsample",
]

DATASETS: tuple[str, ...] = (
    "spheres", "digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "miniimagenet"
)
FILE_BACKED: tuple[str, ...] = (  # the data sets that need files
    "mnist", "fashion-mnist", "cifar10", "cifar100", "miniimagenet"
)

# Each data set's options and their defaults; anything else passed to load() is an error.
_OPTIONS: dict[str, dict[str, Any]] = {
    "spheres": {"n": 500, "N": 10_000, "R": 1.3, "seed": 0},
    "digits": {},
    "mnist": {"download": True},
    "fashion-mnist": {"download": True},
    "cifar10": {"download": True},
    "cifar100": {"label_mode": "fine", "download": True},
    "miniimagenet": {"size": 256, "limit": None, "classes": 12},
}
_SHAPES = {
    "digits": (1, 8, 8),
    "mnist": (1, 28, 28),
    "fashion-mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
}
# Spellings people commonly use for the same data sets.
_ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar-100": "cifar100",
    "sphere": "spheres",
    "mini-imagenet": "miniimagenet",
    "imgnet12": "miniimagenet",
}


def _canonical(name: Any) -> str:
    """The data set's canonical name, or InputError listing the valid ones and close matches."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key in DATASETS:
        return key
    close = difflib.get_close_matches(key, DATASETS, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    raise InputError(f"unknown data set {name!r}: {hint}valid names are {', '.join(DATASETS)}")


def _options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    valid = _OPTIONS[name]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        allowed = ", ".join(valid) if valid else "none"
        raise InputError(
            f"unknown option(s) {', '.join(unknown)} for data set {name!r}; its options: {allowed}"
        )
    return {**valid, **options}


def load(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    split: str = "train",
    **options: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a data set split as tensors.

    Args:
        name: One of :data:`DATASETS` (case-insensitive; "cifar-10", "fashion_mnist" accepted).
        root: Folder holding the data files (CLI ``--data-dir``); ignored by the data sets that
            need no files (spheres, digits). Default: ``$ADVGEOM_DATA``, then the cache.
        split: ``"train"`` or ``"test"``.
        **options: The data set's options (see the module docstring), e.g. ``n=500`` for spheres
            or ``label_mode="coarse"`` for CIFAR-100.

    Returns:
        x: float32, ``(N, C, H, W)`` images in [0, 1] (spheres: ``(N, n)`` points);
        y: ``(N,)`` int64 labels.

    Raises:
        InputError: Unknown name, split or option, a bad option value, or a missing ``root``.
        DataError: Files that cannot be found, downloaded, read or trusted.
    """
    name = _canonical(name)
    check_choice("split", split, ("train", "test"))
    opts = _options(name, options)
    if name == "spheres":
        return load_spheres(split=split, **opts)
    if name == "digits":
        return load_digits(split=split)
    if name in ("mnist", "fashion-mnist"):
        return load_idx_dataset(name, root=root, split=split, **opts)
    if name == "miniimagenet":
        return load_miniimagenet(root=root, split=split, **opts)
    return load_cifar(name, root=root, split=split, **opts)


def canonical_name(name: str) -> str:
    """The canonical spelling of a data set's name ("CIFAR-10" -> "cifar10"), or InputError."""
    return _canonical(name)


def locate(
    name: str, *, root: str | os.PathLike | None = None, split: str = "train", download: bool = True
) -> dict[str, Path]:
    """The files of a file-backed data set's split (:data:`FILE_BACKED`), found or downloaded as
    :func:`load` would, without reading them: ``{file name: path}`` (empty for the data sets that
    need no files).

    Raises:
        InputError: unknown name or split, or a ``root`` that is no folder.
        DataError: the files are nowhere and could not be downloaded (the message lists every
            place looked and how to supply them).
    """
    name = _canonical(name)
    check_choice("split", split, ("train", "test"))
    if name in ("mnist", "fashion-mnist"):
        return locate_idx_files(name, root=root, split=split, download=download)
    if name in ("cifar10", "cifar100"):
        return locate_cifar_files(name, root=root, split=split, download=download)
    if name == "miniimagenet":  # never downloaded (ImageNet's licence)
        return locate_miniimagenet_files(root=root, split=split)
    return {}


def input_shape(name: str, **options: Any) -> tuple[int, ...]:
    """The shape of one example of data set ``name`` (without the batch dimension).

    Args:
        name: One of :data:`DATASETS`.
        **options: The same options :func:`load` takes; only spheres' ``n`` and Mini-ImageNet's
            ``size`` change the shape.

    Returns:
        e.g. ``(1, 28, 28)`` for MNIST, ``(n,)`` for spheres.
    """
    name = _canonical(name)
    opts = _options(name, options)
    if name == "spheres":
        return (check_int("n", opts["n"], minimum=1),)
    if name == "miniimagenet":
        size = check_int("size", opts["size"], minimum=1)
        return (3, size, size)
    return _SHAPES[name]
