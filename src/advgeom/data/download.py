"""Download files into the cache, trusting them only once their SHA-256 matches.

A download streams into a temporary file beside its destination, hashing as it goes, and is
renamed into place (atomically, :func:`os.replace`) only when the hash matches the one pinned in
the code. On a mismatch, an interruption or any error the temporary file is deleted, so the cache
never holds a partial or unverified file.

The network is reached only through the module attribute :data:`urlopen` (or an ``opener``
argument), which tests replace to simulate being offline or a server returning the wrong bytes.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advgeom import __version__
from advgeom.errors import DataError
from advgeom.progress import task

__all__ = ["DownloadError", "Remote", "download", "sha256_of", "urlopen"]

# Replaced in tests; called as urlopen(request, timeout=seconds) like urllib's.
urlopen: Callable[..., Any] = urllib.request.urlopen

_CHUNK = 1 << 20


class DownloadError(DataError):
    """No mirror could be reached (offline, HTTP error, timeout); the cache is unchanged."""


@dataclass(frozen=True)
class Remote:
    """A file known by name, official locations (mirrors, tried in order) and SHA-256."""

    filename: str
    urls: tuple[str, ...]
    sha256: str
    size: int | None = None


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, part: Path, remote: Remote, opener, timeout: float) -> str:
    """Stream ``url`` into ``part``; return the hex SHA-256 of what was written."""
    request = urllib.request.Request(url, headers={"User-Agent": f"advgeom/{__version__}"})
    digest, written = hashlib.sha256(), 0
    with opener(request, timeout=timeout) as response, open(part, "wb") as out:
        length = getattr(response, "headers", {}).get("Content-Length")
        total = int(length) if length and str(length).isdigit() else remote.size
        with task(f"downloading {remote.filename}", total=total) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                written += len(chunk)
                if remote.size is not None and written > remote.size:
                    # Stop a server that sends more than the known size instead of filling
                    # the disk; the bytes cannot match the pinned hash anyway.
                    raise DataError(
                        f"{url} sent more than the {remote.size} bytes {remote.filename} has; "
                        "download stopped and the partial file deleted"
                    )
                out.write(chunk)
                digest.update(chunk)
                bar.advance(len(chunk))
    return digest.hexdigest()


def download(
    remote: Remote,
    folder: str | os.PathLike,
    *,
    opener: Callable[..., Any] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``remote`` into ``folder`` and return the verified file's path.

    Mirrors are tried in order until one delivers the file. A file that arrives but does not
    match the pinned SHA-256 is deleted and reported at once (the next mirror is not tried:
    a wrong checksum is a reason to stop and look, not to retry).

    Args:
        remote: What to fetch.
        folder: Destination folder (created if needed); the file keeps ``remote.filename``.
        opener: Replacement for :data:`urlopen`, called as ``opener(request, timeout=...)``.
        timeout: Seconds to wait on a silent connection.

    Returns:
        ``folder / remote.filename``, whose SHA-256 equals ``remote.sha256``.

    Raises:
        DownloadError: Every mirror failed to deliver (offline, HTTP error, timeout).
        DataError: A delivered file had the wrong SHA-256 (names file, expected and actual hash).
    """
    folder = Path(folder)
    dest = folder / remote.filename
    opener = opener if opener is not None else urlopen
    # Folders this call creates, removed again if nothing arrives, so a failed download
    # leaves the cache exactly as it was.
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data cache {folder}: {exc}") from exc
    failures: list[str] = []
    try:
        for url in remote.urls:
            try:
                return _attempt(remote, url, dest, opener, timeout)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                # URLError, HTTPError, timeouts and socket errors are OSErrors; a connection
                # cut mid-body raises http.client.IncompleteRead.
                failures.append(f"{url}: {exc}")
    finally:
        if not dest.exists():
            for path in created:
                try:
                    path.rmdir()
                except OSError:
                    break  # not empty (another process wrote there): keep it and its parents
    raise DownloadError(f"downloading {remote.filename} failed ({'; '.join(failures)})")


def _attempt(remote: Remote, url: str, dest: Path, opener, timeout: float) -> Path:
    """One mirror: stream into a temporary file, check the hash, rename into place."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=remote.filename + ".", suffix=".part")
    os.close(fd)
    part = Path(name)
    try:
        actual = _fetch(url, part, remote, opener, timeout)
        if actual != remote.sha256:
            raise DataError(
                f"checksum mismatch for {remote.filename} downloaded from {url}: expected "
                f"SHA-256 {remote.sha256}, got {actual}; the file was deleted (a proxy or "
                "captive portal may have answered instead of the server)"
            )
        os.replace(part, dest)
        return dest
    finally:
        part.unlink(missing_ok=True)
