"""The IDX reader: every type, gzip and plain, and every way a file can be wrong."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from advgeom.data.idx import read_idx, write_idx
from advgeom.errors import DataError


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_every_type(tmp_path, fmt, dtype, gz):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = fmt.write_idx(tmp_path / "a-idx3", array, gz=gz)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == (3, 4, 5)
    assert np.array_equal(out, array)
    assert out.dtype.byteorder in ("=", "|")  # native, ready for torch.from_numpy


def test_one_dimensional_labels(tmp_path, fmt):
    labels = np.arange(10, dtype=np.uint8)
    assert np.array_equal(read_idx(fmt.write_idx(tmp_path / "l", labels, gz=False)), labels)


def test_gzip_detected_by_content_not_name(tmp_path, fmt):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    path = tmp_path / "no-suffix"
    path.write_bytes(gzip.compress(fmt.idx_bytes(array)))
    assert np.array_equal(read_idx(path), array)


def test_write_idx_matches_the_specification(tmp_path, fmt):
    array = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    write_idx(tmp_path / "x", array)
    assert (tmp_path / "x").read_bytes() == fmt.idx_bytes(array)
    write_idx(tmp_path / "x.gz", array)
    assert gzip.decompress((tmp_path / "x.gz").read_bytes()) == fmt.idx_bytes(array)


def corrupt(tmp_path, data: bytes, name: str = "bad-idx3-ubyte"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("cut", [1, 100, 784])
def test_truncated_file_names_the_file(tmp_path, fmt, cut):
    data = fmt.idx_bytes(np.zeros((2, 28, 28), dtype=np.uint8))
    path = corrupt(tmp_path, data[:-cut])
    with pytest.raises(DataError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_oversized_file_is_refused(tmp_path, fmt):
    data = fmt.idx_bytes(np.zeros((2, 3), dtype=np.uint8)) + b"\x00"
    path = corrupt(tmp_path, data)
    with pytest.raises(DataError, match="longer than its header") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_names_the_file(tmp_path, fmt):
    data = gzip.compress(fmt.idx_bytes(np.arange(500, dtype=np.int32)))
    path = corrupt(tmp_path, data[: len(data) // 2], "x.gz")
    with pytest.raises(DataError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "header, message",
    [
        (b"\x00\x01\x08\x01", "bad magic"),  # second byte must be zero
        (b"PK\x03\x04", "bad magic"),  # a zip file
        (b"\x00\x00\x07\x01", "bad magic"),  # unknown type code
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08", "no header"),
        (b"", "no header"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "header needs 16 bytes"),
    ],
)
def test_bad_header_is_refused(tmp_path, header, message):
    path = corrupt(tmp_path, header + (b"\x00\x00\x00\x01\x07" if "magic" in message else b""))
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "absent")
