"""Where data files are looked for, and the message when they are not there.

Search order for a data set's files (the first place holding every file the split needs wins):

1. ``root`` if the caller names one (``--data-dir DIR`` on the CLI), else ``$ADVGEOM_DATA`` if set;
2. the data cache, ``$ADVGEOM_CACHE/data`` or ``~/.cache/advgeom/data``, where downloads go.

Inside each of these, every layout the data set accepts is tried (e.g. torchvision's
``<root>/MNIST/raw/`` and a flat ``<root>/``). Each place tried is recorded as a
:class:`Looked` entry so that a failure can say exactly where it looked and what it found.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from advgeom.errors import DataError, InputError

__all__ = [
    "Looked",
    "cache_dir",
    "describe",
    "find_file",
    "look_in",
    "not_found_error",
    "search_roots",
]


def cache_dir() -> Path:
    """The folder downloads and extracted archives go to: ``$ADVGEOM_CACHE/data`` or
    ``~/.cache/advgeom/data`` (a ``data`` sub-folder, so other caches can share the root)."""
    base = os.environ.get("ADVGEOM_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "advgeom"
    return root / "data"


def search_roots(root: str | os.PathLike | None) -> list[Path]:
    """The roots to search, in order: ``root`` (else ``$ADVGEOM_DATA``), then the cache.

    Raises:
        InputError: ``root`` (or ``$ADVGEOM_DATA``) names something that is not a folder.
    """
    roots: list[Path] = []
    if root is not None:
        named, field = Path(root).expanduser().absolute(), "root (--data-dir)"
    elif os.environ.get("ADVGEOM_DATA"):
        named = Path(os.environ["ADVGEOM_DATA"]).expanduser().absolute()
        field = "ADVGEOM_DATA"
    else:
        named = None
    if named is not None:
        if not named.exists():
            raise InputError(f"{field} names a data folder that does not exist: {named}")
        if not named.is_dir():
            raise InputError(f"{field} must name a folder, but {named} is a file")
        roots.append(named)
    cache = cache_dir()
    if all(cache.resolve() != r.resolve() for r in roots):
        roots.append(cache)
    return roots


def find_file(folder: Path, name: str, suffixes: Iterable[str] = ("",)) -> Path | None:
    """``folder/name+suffix`` for the first suffix that names an existing file, else None."""
    for suffix in suffixes:
        path = folder / (name + suffix)
        if path.is_file():
            return path
    return None


@dataclass(frozen=True)
class Looked:
    """One place searched and what it held at that moment (for the error message)."""

    folder: Path
    found: tuple[str, ...]
    missing: tuple[str, ...]
    contents: str | None  # describe(folder), or None when there was no such folder

    def describe(self) -> str:
        if self.contents is None:
            return f"{self.folder} (no such folder)"
        if self.found:
            return f"{self.folder} (has {', '.join(self.found)}; lacks {', '.join(self.missing)})"
        return f"{self.folder} (none of the expected files; {self.contents})"


def describe(folder: Path, *, limit: int = 4) -> str:
    """A short account of a folder's contents: ``'empty'`` or ``'holds a, b, ... (n entries)'``."""
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError:
        return "unreadable"
    if not names:
        return "empty"
    shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
    return f"holds {shown}" + (f" ({len(names)} entries)" if len(names) > limit else "")


def look_in(
    folder: Path, names: Iterable[str], suffixes: Iterable[str] = ("",)
) -> tuple[dict[str, Path] | None, Looked]:
    """Look for every file of ``names`` in ``folder``.

    Returns:
        ``({name: path}, looked)`` when all are there, else ``(None, looked)``.
    """
    names, suffixes = tuple(names), tuple(suffixes)
    paths = {name: find_file(folder, name, suffixes) for name in names}
    found = tuple(n for n, p in paths.items() if p is not None)
    missing = tuple(n for n, p in paths.items() if p is None)
    contents = describe(folder) if folder.is_dir() else None
    looked = Looked(folder, found, missing, contents)
    return (None if missing else {n: p for n, p in paths.items() if p is not None}), looked


def not_found_error(
    dataset: str, split: str, looked: list[Looked], reason: str, how: str
) -> DataError:
    """The one error for "not found anywhere and not downloaded": every place and the fix.

    Args:
        dataset: Display name, e.g. ``"MNIST"``.
        split: The split that was asked for.
        looked: Every place searched, in order.
        reason: Why no download happened (or how it failed).
        how: Which files to put where, e.g. ``"put X and Y in DIR/MNIST/raw/ or DIR/"``.
    """
    places = "; ".join(f"[{i}] {item.describe()}" for i, item in enumerate(looked, 1))
    return DataError(
        f"cannot find the {dataset} {split} files, and {reason}. Looked in: {places}. "
        f"To supply them: {how}, then pass --data-dir DIR (or root=DIR) or set ADVGEOM_DATA=DIR."
    )
