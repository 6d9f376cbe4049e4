"""Writing a folder atomically: build it beside its final place, then swap it in.

A report is two files (and an audit a whole folder of results and figures); readers must see
the old version or the new one, never a mix or a half. Everything is written into a hidden
sibling folder, flushed, and renamed into place; an older folder of that name is renamed away
first and removed after. A crash leaves at most a hidden ``.<name>.new-*`` or ``.<name>.old-*``
folder, never a half-written report under the real name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from advgeom.report.html import render_html
from advgeom.report.markdown import render_markdown
from advgeom.report.model import Report

HTML_NAME = "index.html"
MARKDOWN_NAME = "report.md"


@contextlib.contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``target`` in one rename.

    On any exception (Ctrl-C included) the temporary folder is removed and ``target`` is left as
    it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a report is for others to read
        yield tmp
        _fsync_tree(tmp)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(new: Path, target: Path) -> None:
    if not target.exists():
        os.rename(new, target)
        return
    old = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)  # put the previous version back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_files(report: Report, folder: Path, *, final: Path | None = None) -> tuple[Path, Path]:
    """Write ``index.html`` and ``report.md`` into ``folder`` (no atomicity of its own).

    ``final`` is where the folder will end up (Markdown figure links are relative to it).
    """
    folder.mkdir(parents=True, exist_ok=True)
    html_path, md_path = folder / HTML_NAME, folder / MARKDOWN_NAME
    html_path.write_text(render_html(report), encoding="utf-8")
    md_path.write_text(render_markdown(report, folder=final or folder), encoding="utf-8")
    return html_path, md_path


def write_report(report: Report, folder: Path) -> Path:
    """Write the report into ``folder`` (``index.html`` + ``report.md``) atomically.

    Returns:
        The path of ``index.html`` in its final place.
    """
    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        write_files(report, tmp, final=folder)
    return folder / HTML_NAME
