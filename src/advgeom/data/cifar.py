"""CIFAR-10 and CIFAR-100, read from the official "python version" pickle batches.

Accepted inside each searched root (see :mod:`advgeom.data.locate`), in this order:

- ``<root>/cifar-10-batches-py/`` (``data_batch_1`` .. ``data_batch_5``, ``test_batch``), or
  ``<root>/cifar-100-python/`` (``train``, ``test``) — the layout torchvision uses too;
- the same files directly in ``<root>/``;
- the official tarball ``<root>/cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``, extracted
  safely (:mod:`advgeom.data.archive`) into ``<cache>/extracted/``.

If none is found the tarball is downloaded into the cache and checked against its SHA-256.

Security: a pickle can run arbitrary code when loaded. Batches are read with an unpickler that
may construct only numpy arrays and dtypes (what the official files contain); any other import a
file asks for is refused with a DataError before anything runs.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advgeom.data import download as dl
from advgeom.data.archive import safe_extract
from advgeom.data.locate import Looked, cache_dir, look_in, not_found_error, search_roots
from advgeom.errors import DataError, check_choice

try:  # numpy >= 2 moved numpy.core to numpy._core (the old name warns on access)
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct

__all__ = ["CIFAR", "load_cifar", "read_batch"]

# Everything an official batch imports: numpy's array reconstruction, under the module name of
# the numpy that wrote it (numpy.core in the 2009 files, numpy._core from numpy 2 on).
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, path: Path) -> None:
        # encoding="bytes": the batches were written by Python 2, their str keys become bytes.
        super().__init__(file, encoding="bytes")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise DataError(
                f"refusing to load {self._path}: the pickle asks for {module}.{name}, which no "
                "CIFAR batch needs (loading it could run code); use the official files"
            )
        return allowed


def _unpickle(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            obj = _RestrictedUnpickler(f, path).load()
    except DataError:
        raise
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except Exception as exc:  # noqa: BLE001 - a corrupt pickle can fail in almost any way
        raise DataError(
            f"{path} is not a readable CIFAR batch (truncated or corrupt pickle: "
            f"{type(exc).__name__}: {exc}); delete it and supply the official file again"
        ) from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path} holds a {type(obj).__name__}, not a CIFAR batch (a dict)")
    return {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_batch(path: str | os.PathLike, *, label_key: str, classes: int) -> tuple[np.ndarray, ...]:
    """Read one pickle batch, checked: ``data`` (N, 3072) uint8 and ``label_key`` (N,) ints.

    Args:
        path: The batch file, e.g. ``cifar-10-batches-py/data_batch_1``.
        label_key: ``"labels"`` (CIFAR-10), ``"fine_labels"`` or ``"coarse_labels"``.
        classes: Number of classes; labels must be in ``0..classes-1``.

    Returns:
        images ``(N, 3, 32, 32)`` uint8 (row-major R, G, B planes) and labels ``(N,)`` int64.

    Raises:
        DataError: Naming ``path``: unreadable, corrupt, refused, or of the wrong shape.
    """
    path = Path(path)
    batch = _unpickle(path)
    data, labels = batch.get("data"), batch.get(label_key)
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or (data.shape[1] != 3 * 32 * 32)
    ):
        what = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else repr(type(data))
        raise DataError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got {what}")
    if labels is None:
        raise DataError(f"{path} has no {label_key!r} entry (keys: {', '.join(map(str, batch))})")
    labels = np.asarray(labels)
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{path}: {label_key!r} must hold {len(data)} integers (one per image), "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise DataError(f"{path}: {label_key!r} must lie in 0..{classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


@dataclass(frozen=True)
class _Cifar:
    display: str
    folder: str
    files: dict[str, tuple[str, ...]]
    remote: dl.Remote
    classes: dict[str, int]  # label key -> number of classes


CIFAR = {
    # SHA-256: keras-team/keras, keras/src/datasets/cifar10.py (file_hash); the same value in
    # pytorch/vision, torchvision/prototype/datasets/_builtin/cifar.py. (TFDS pins only the
    # binary version.) Size: 170,498,071 bytes, as the Toronto page lists (~163 MB).
    "cifar10": _Cifar(
        display="CIFAR-10",
        folder="cifar-10-batches-py",
        files={"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
        remote=dl.Remote(
            "cifar-10-python.tar.gz",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            170498071,
        ),
        classes={"labels": 10},
    ),
    # SHA-256: keras-team/keras, keras/src/datasets/cifar100.py (file_hash); the same value in
    # pytorch/vision, torchvision/prototype/datasets/_builtin/cifar.py.
    "cifar100": _Cifar(
        display="CIFAR-100",
        folder="cifar-100-python",
        files={"train": ("train",), "test": ("test",)},
        remote=dl.Remote(
            "cifar-100-python.tar.gz",
            ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
            "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
            169001437,
        ),
        classes={"fine_labels": 100, "coarse_labels": 20},
    ),
}


def _extracted(spec: _Cifar, tarball: Path, names: tuple[str, ...]) -> dict[str, Path]:
    """Extract ``tarball`` into the cache (once per version of the file) and find the batches."""
    stat = tarball.stat()
    # Keyed by path, size and mtime: a replaced tarball gets a fresh extraction, not stale files.
    key = hashlib.sha256(f"{tarball.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    stem = tarball.name.removesuffix(".tar.gz")
    target = safe_extract(tarball, cache_dir() / "extracted" / f"{stem}-{key.hexdigest()[:12]}")
    paths, looked = look_in(target / spec.folder, names)
    if paths is None:
        raise DataError(
            f"{tarball} is not the official {spec.display} archive: it lacks "
            f"{spec.folder}/{', '.join(looked.missing)}"
        )
    return paths


def _find(spec: _Cifar, names: tuple[str, ...], roots) -> tuple[dict | None, list[Looked]]:
    looked: list[Looked] = []
    for root in roots:
        for folder in (root / spec.folder, root):
            paths, record = look_in(folder, names)
            looked.append(record)
            if paths is not None:
                return paths, looked
        if (root / spec.remote.filename).is_file():
            return _extracted(spec, root / spec.remote.filename, names), looked
    return None, looked


def _how(spec: _Cifar, names: tuple[str, ...]) -> str:
    return (
        f"put {spec.remote.filename} (from {spec.remote.urls[0]}) in DIR/, or its extracted "
        f"folder DIR/{spec.folder}/ holding {', '.join(names)}"
    )


def locate_cifar_files(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    split: str = "train",
    download: bool = True,
) -> dict[str, Path]:
    """The pickle batches of a split, ``{batch name: path}``, without reading them.

    Searches as :func:`load_cifar` does (an official tarball found is extracted into the cache)
    and downloads the tarball when allowed.

    Raises:
        DataError: not found anywhere and not downloaded (the message lists every place looked
            and how to supply the files).
    """
    check_choice("name", name, tuple(CIFAR))
    check_choice("split", split, ("train", "test"))
    spec, names = CIFAR[name], CIFAR[name].files[split]
    paths, looked = _find(spec, names, search_roots(root))
    if paths is not None:
        return paths
    reason = "downloading is switched off"
    if download:
        try:
            tarball = dl.download(spec.remote, cache_dir())
        except dl.DownloadError as exc:
            reason = f"could not download them: {exc}"
        else:
            return _extracted(spec, tarball, names)
    raise not_found_error(spec.display, split, looked, reason, _how(spec, names))


def load_cifar(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    split: str = "train",
    label_mode: str = "fine",
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load CIFAR-10 or CIFAR-100 from the official pickle batches (or tarball).

    Args:
        name: ``"cifar10"`` or ``"cifar100"``.
        root: Folder to search first (else ``$ADVGEOM_DATA``); the cache is searched after.
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        label_mode: CIFAR-100 only: ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).
        download: Whether to download the tarball into the cache when no root has the files.

    Returns:
        x: ``(N, 3, 32, 32)`` float32 in [0, 1] (pixel / 255, RGB); y: ``(N,)`` int64.

    Raises:
        InputError: Bad ``split`` or ``label_mode``, or ``root`` does not exist.
        DataError: Files not found and not downloadable (one message listing every place looked
            and how to supply them), or a file that is corrupt, truncated or refused.
    """
    check_choice("name", name, tuple(CIFAR))
    spec, names = CIFAR[name], CIFAR[name].files.get(split, ())
    if name == "cifar100":
        check_choice("label_mode", label_mode, ("fine", "coarse"))
        label_key = f"{label_mode}_labels"
    else:
        label_key = "labels"
    paths = locate_cifar_files(name, root=root, split=split, download=download)
    parts = [
        read_batch(paths[n], label_key=label_key, classes=spec.classes[label_key]) for n in names
    ]
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(255.0)
    return x, torch.from_numpy(labels)
