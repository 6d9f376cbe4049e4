"""Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al.), gzipped or plain.

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian
uint32 dimension sizes, then the values in row-major (C) order, big-endian. Type codes:
0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.

The reader trusts nothing: the magic number, the type code, the dimension count and the exact
payload length are all checked, so a truncated download or a stray file is reported by name
instead of being silently reshaped into garbage.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from advgeom.errors import DataError

__all__ = ["IDX_DTYPES", "read_idx", "write_idx"]

# Type code -> big-endian numpy dtype, as in the format's specification.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read IDX file {path}: {exc.strerror or exc}") from exc
    # Sniff the content rather than trust the suffix: an IDX file always starts with two zero
    # bytes, a gzip stream with 1f 8b, so the two cannot be confused.
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a valid gzip file (truncated or corrupt): {exc}") from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file, gzipped (``.gz``) or plain, into a numpy array.

    Args:
        path: The file; gzip compression is recognised from the content, not the name.

    Returns:
        An array of the file's shape and (native-endian) dtype, e.g. ``(60000, 28, 28)`` uint8.

    Raises:
        DataError: Naming ``path``, when it cannot be read, is not IDX (bad magic number or
            type code, no dimensions) or its payload is shorter or longer than the header says.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path} is not an IDX file: only {len(data)} bytes, no header")
    zero, zero2, code, ndim = data[0], data[1], data[2], data[3]
    if zero or zero2 or code not in IDX_DTYPES:
        raise DataError(
            f"{path} is not an IDX file: bad magic number 0x{data[:4].hex()} "
            "(expected 0x0000 followed by a type code 08/09/0b/0c/0d/0e and the dimension count)"
        )
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated: the IDX header needs {header} bytes")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than its header says"
        raise DataError(
            f"{path} is {problem}: header shape {shape} needs {expected} bytes of data, "
            f"found {actual}; delete the file and supply it again"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    # astype copies into native byte order and gives a writable array torch can share.
    return values.astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (the inverse of :func:`read_idx`).

    Used to make test fixtures and small subsets; gzip-compressed when ``compress`` is true or,
    by default, when the name ends in ``.gz``.

    Args:
        path: Destination file.
        array: Any array whose dtype is one of the IDX types (uint8, int8, int16, int32,
            float32, float64), with at least one dimension.
        compress: Force (or forbid) gzip compression.
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes or array.ndim == 0:
        raise ValueError(f"cannot write dtype {array.dtype} with shape {array.shape} as IDX")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
