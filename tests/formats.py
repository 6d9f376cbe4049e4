"""Writers of the official data formats (IDX, CIFAR's Python 2 pickle batches, tarballs) and a
stand-in for the network, shared by the tests that build data files.

They are written from the format specifications, independently of the library's readers, so a
round trip checks a reader against the format rather than against itself. Tests reach them through
the ``formats`` fixture (``tests/conftest.py``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
import urllib.error
from pathlib import Path

import numpy as np

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C}
IDX_CODES.update({np.float32: 0x0D, np.float64: 0x0E})


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes: 0x0000, type code, ndim, big-endian dims, big-endian values."""
    code = IDX_CODES[array.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool) -> Path:
    data = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def mnist_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # both ends of the range occur
    return images, rng.integers(0, 10, size=n, dtype=np.uint8)


def write_mnist(
    root: Path,
    *,
    layout: str = "torchvision",
    gz: bool = True,
    folder: str = "MNIST",
    n_train: int = 7,
    n_test: int = 3,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write the four MNIST files under ``root`` in ``layout`` ("torchvision" or "flat")."""
    where = root / folder / "raw" if layout == "torchvision" else root
    out = {}
    for split, prefix, n, seed in (("train", "train", n_train, 1), ("test", "t10k", n_test, 2)):
        images, labels = mnist_arrays(n, seed)
        write_idx(where / f"{prefix}-images-idx3-ubyte", images, gz=gz)
        write_idx(where / f"{prefix}-labels-idx1-ubyte", labels, gz=gz)
        out[split] = (images, labels)
    return out


def cifar_batch(n: int, seed: int, label_keys: dict[str, int]) -> dict[bytes, object]:
    """A batch as the official files hold it: bytes keys, (n, 3072) uint8 data, int lists."""
    rng = np.random.default_rng(seed)
    batch: dict[bytes, object] = {
        b"batch_label": b"testing batch",
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }
    for key, classes in label_keys.items():
        batch[key.encode()] = [int(v) for v in rng.integers(0, classes, size=n)]
    return batch


class Py2Pickler(pickle._Pickler):
    """Pickles like Python 2's cPickle, which wrote the official batches: protocol 2, every
    string (bytes or str) as a BINSTRING and numpy under its old name, numpy.core.multiarray."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_as_py2_str(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin-1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_as_py2_str
    dispatch[str] = save_as_py2_str


def py2_pickle(obj: object) -> bytes:
    out = io.BytesIO()
    Py2Pickler(out, protocol=2).dump(obj)
    # GLOBAL opcodes spell module and name as text, so renaming the module is a byte edit.
    return out.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def write_pickle(path: Path, obj: object, *, py2: bool = True) -> Path:
    """Write ``obj`` as an official batch would be (``py2``) or as Python 3 pickles it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(py2_pickle(obj) if py2 else pickle.dumps(obj, protocol=4))
    return path


def write_cifar10(folder: Path, *, n: int = 4) -> dict[str, list[dict]]:
    """cifar-10-batches-py's files in ``folder``: data_batch_1..5, test_batch, batches.meta."""
    batches = {"train": [], "test": []}
    for i in range(1, 6):
        batch = cifar_batch(n, i, {"labels": 10})
        write_pickle(folder / f"data_batch_{i}", batch)
        batches["train"].append(batch)
    batches["test"].append(cifar_batch(n + 1, 99, {"labels": 10}))
    write_pickle(folder / "test_batch", batches["test"][0])
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer"] + [b"x"] * 5
    write_pickle(folder / "batches.meta", {b"label_names": names, b"num_cases_per_batch": n})
    return batches


def write_cifar100(folder: Path, *, n: int = 6) -> dict[str, dict]:
    """cifar-100-python's files in ``folder``: train, test, meta."""
    keys = {"fine_labels": 100, "coarse_labels": 20}
    batches = {"train": cifar_batch(n, 5, keys), "test": cifar_batch(n - 1, 6, keys)}
    for split, batch in batches.items():
        write_pickle(folder / split, batch)
    write_pickle(folder / "meta", {b"fine_label_names": [b"apple"] * 100})
    return batches


def make_tarball(path: Path, members: dict[str, bytes]) -> Path:
    """A .tar.gz holding ``members`` (archive name -> content), names written verbatim."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def folder_members(folder: Path, prefix: str) -> dict[str, bytes]:
    return {f"{prefix}/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())}


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


class FakeServer:
    """Stands in for urlopen: serves ``files`` (URL -> bytes), fails on any other URL."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.calls = files, []

    def __call__(self, request, timeout=None):
        url = request.full_url
        self.calls.append(url)
        if url not in self.files:
            raise urllib.error.URLError(f"no route to {url} (simulated)")
        return FakeResponse(self.files[url])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
