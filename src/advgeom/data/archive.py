"""Safe extraction of a tar archive (the CIFAR tarballs) into the cache.

``tarfile.extractall`` will happily write ``../../.bashrc`` or follow a symlink out of the
target. This extractor writes only regular files and folders, refuses any member whose path is
absolute, contains ``..`` or would land outside the target, and refuses links and devices. It
extracts into a temporary folder that is renamed into place only when every member succeeded, so
a refused or broken archive leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from advgeom.errors import DataError

__all__ = ["safe_extract"]


def _member_path(archive: Path, target: Path, member: tarfile.TarInfo) -> Path:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or "\\" in member.name or ":" in member.name:
        raise DataError(
            f"refusing to extract {archive}: member {member.name!r} would escape the target "
            "folder (absolute path or '..'); the archive is not an official release"
        )
    path = (target / name).resolve()
    if path != target and target not in path.parents:
        raise DataError(f"refusing to extract {archive}: member {member.name!r} escapes {target}")
    return path


def _extract_all(archive: Path, tar: tarfile.TarFile, target: Path) -> None:
    for member in tar:
        path = _member_path(archive, target, member)
        if member.isdir():
            path.mkdir(parents=True, exist_ok=True)
        elif member.isfile():
            path.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None  # a regular file always has data
            with source, open(path, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        else:
            kind = "link" if member.issym() or member.islnk() else "special file"
            raise DataError(
                f"refusing to extract {archive}: member {member.name!r} is a {kind}; "
                "the official archives hold only regular files"
            )


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Extract ``archive`` (tar, optionally gzip/bz2/xz) to the new folder ``target``.

    If ``target`` already exists it is assumed complete (it only ever appears by an atomic
    rename) and returned as is.

    Args:
        archive: The tar file.
        target: Folder to create, holding the archive's members.

    Returns:
        ``target``.

    Raises:
        DataError: Naming ``archive``, when it is not a readable tar file, is truncated, or has
            a member that is a link, a device, or a path escaping ``target``.
    """
    archive, target = Path(archive), Path(target)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=target.name + ".", suffix=".part"))
    try:
        with tarfile.open(archive, "r:*") as tar:
            _extract_all(archive, tar, staging.resolve())
        try:
            os.replace(staging, target)
        except OSError:
            # Another process finished the same extraction first; its copy is as good as ours.
            if not target.is_dir():
                raise
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot extract {archive}: not a valid tar archive ({exc})") from exc
    except OSError as exc:  # a corrupt gzip stream, or the disk is full or read-only
        raise DataError(f"cannot extract {archive} into {target.parent}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
