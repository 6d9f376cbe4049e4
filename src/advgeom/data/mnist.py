"""MNIST and Fashion-MNIST, read from the official IDX files.

Accepted layouts inside each searched root (see :mod:`advgeom.data.locate`), each file gzipped
(``.gz``) or plain:

- torchvision's: ``<root>/MNIST/raw/`` and ``<root>/FashionMNIST/raw/``;
- flat: ``<root>/`` holding ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
  ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]`` directly.

When no root holds the split's two files they are downloaded into ``<cache>/MNIST/raw/`` (or
``FashionMNIST/raw``) and checked against the SHA-256 values below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from advgeom.data import download as dl
from advgeom.data.idx import read_idx
from advgeom.data.locate import Looked, cache_dir, look_in, not_found_error, search_roots
from advgeom.errors import DataError, check_choice

__all__ = ["FILES", "SOURCES", "load_idx_dataset"]

# (images, labels) file names per split, without the optional ".gz".
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class _Source:
    display: str
    folder: str  # torchvision's folder name: <root>/<folder>/raw/
    mirrors: tuple[str, ...]
    sha256: dict[str, str]  # per file name (with .gz)
    size: dict[str, int]


# SHA-256 and sizes: tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt (cvdf
# mirror); the same hashes are pinned for the yann.lecun.com and ossci-datasets mirrors in
# pytorch/vision, torchvision/prototype/datasets/_builtin/mnist.py (_CHECKSUMS), so the
# mirrors serve identical files.
_MNIST = _Source(
    display="MNIST",
    folder="MNIST",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    sha256={
        "train-images-idx3-ubyte.gz": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
        ),
        "train-labels-idx1-ubyte.gz": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
        ),
    },
    size={
        "train-images-idx3-ubyte.gz": 9912422,
        "train-labels-idx1-ubyte.gz": 28881,
        "t10k-images-idx3-ubyte.gz": 1648877,
        "t10k-labels-idx1-ubyte.gz": 4542,
    },
)

# SHA-256 and sizes: tensorflow/datasets, tensorflow_datasets/url_checksums/fashion_mnist.txt;
# the same values in pytorch/vision, torchvision/prototype/datasets/_builtin/mnist.py.
_FASHION = _Source(
    display="Fashion-MNIST",
    folder="FashionMNIST",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    sha256={
        "train-images-idx3-ubyte.gz": (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
        ),
        "train-labels-idx1-ubyte.gz": (
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
        ),
    },
    size={
        "train-images-idx3-ubyte.gz": 26421880,
        "train-labels-idx1-ubyte.gz": 29515,
        "t10k-images-idx3-ubyte.gz": 4422102,
        "t10k-labels-idx1-ubyte.gz": 5148,
    },
)

SOURCES = {"mnist": _MNIST, "fashion-mnist": _FASHION}
_SUFFIXES = ("", ".gz")  # prefer an already-decompressed file


def _find(source: _Source, names: tuple[str, ...], roots) -> tuple[dict | None, list[Looked]]:
    looked: list[Looked] = []
    for root in roots:
        for folder in (root / source.folder / "raw", root):
            paths, record = look_in(folder, names, _SUFFIXES)
            looked.append(record)
            if paths is not None:
                return paths, looked
    return None, looked


def _download(source: _Source, names: tuple[str, ...]) -> dict:
    folder = cache_dir() / source.folder / "raw"
    paths = {}
    for name in names:
        gz = name + ".gz"
        urls = tuple(mirror + gz for mirror in source.mirrors)
        remote = dl.Remote(gz, urls, source.sha256[gz], source.size[gz])
        paths[name] = dl.download(remote, folder)
    return paths


def _how(source: _Source, names: tuple[str, ...]) -> str:
    files = " and ".join(f"{n}.gz" for n in names)
    return (
        f"put {files} (gzipped or not) in DIR/{source.folder}/raw/ or directly in DIR/ "
        f"(from {source.mirrors[0]})"
    )


def _check(source: _Source, images: np.ndarray, labels: np.ndarray, paths: dict, names) -> None:
    img, lab = paths[names[0]], paths[names[1]]
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(
            f"{img} holds {images.dtype} values of shape {images.shape}; "
            f"{source.display} images must be uint8 of shape (N, 28, 28)"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(f"{lab} holds {labels.dtype} of shape {labels.shape}, not uint8 (N,)")
    if len(images) != len(labels):
        raise DataError(
            f"{img} has {len(images)} images but {lab} has {len(labels)} labels; "
            "the two files must come from the same split and release"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{lab} holds label {labels.max()}; {source.display} labels are 0..9")


def locate_idx_files(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    split: str = "train",
    download: bool = True,
) -> dict[str, Path]:
    """The IDX files of a split, ``{images name: path, labels name: path}``, without reading them.

    Searches as :func:`load_idx_dataset` does and downloads into the cache when allowed.

    Raises:
        DataError: not found anywhere and not downloaded (the message lists every place looked
            and how to supply the files).
    """
    check_choice("name", name, tuple(SOURCES))
    check_choice("split", split, tuple(FILES))
    source, names = SOURCES[name], FILES[split]
    paths, looked = _find(source, names, search_roots(root))
    if paths is not None:
        return paths
    if not download:
        raise not_found_error(
            source.display, split, looked, "downloading is switched off", _how(source, names)
        )
    try:
        return _download(source, names)
    except dl.DownloadError as exc:
        raise not_found_error(
            source.display, split, looked, f"could not download them: {exc}", _how(source, names)
        ) from exc


def load_idx_dataset(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    split: str = "train",
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST or Fashion-MNIST from IDX files, downloading them if no root has them.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        root: Folder to search first (else ``$ADVGEOM_DATA``); the cache is searched after.
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        download: Whether to download missing files into the cache.

    Returns:
        x: ``(N, 1, 28, 28)`` float32 in [0, 1] (pixel / 255); y: ``(N,)`` int64 in 0..9.

    Raises:
        InputError: Bad ``split``, or ``root`` does not exist.
        DataError: Files not found and not downloadable (one message listing every place looked
            and how to supply them), or a file that is corrupt, truncated or inconsistent.
    """
    source, names = SOURCES[name], FILES[split]
    paths = locate_idx_files(name, root=root, split=split, download=download)
    images, labels = read_idx(paths[names[0]]), read_idx(paths[names[1]])
    _check(source, images, labels, paths, names)
    x = torch.from_numpy(images).to(torch.float32).div_(255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))
