"""Progress display for long work, on stderr so that ``--json`` output on stdout stays clean.

Library code wraps long loops in :func:`track` or opens a :func:`task`; the CLI's ``--quiet`` turns
every bar off with :func:`set_enabled`. Bars draw only when stderr is a terminal, so logs and CI
output carry no control characters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

_state = {"enabled": True}
_console = Console(stderr=True)


def set_enabled(enabled: bool) -> None:
    """Turn every progress bar on or off (the CLI's ``--quiet`` turns them off)."""
    _state["enabled"] = bool(enabled)


def enabled() -> bool:
    """Whether bars are drawn: switched on and stderr is an interactive terminal."""
    return _state["enabled"] and _console.is_terminal


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_console,
        transient=True,
    )


def track(iterable: Iterable[T], *, total: int | None = None, description: str = "") -> Iterator[T]:
    """Yield from ``iterable`` while drawing a bar (or nothing, when bars are off)."""
    if not enabled():
        yield from iterable
        return
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with _progress() as bar:
        yield from bar.track(iterable, total=total, description=description)


class _Task:
    """A bar advanced by hand, for work that is not a simple loop."""

    def __init__(self, bar: Progress | None, task_id: int | None) -> None:
        self._bar, self._id = bar, task_id

    def advance(self, amount: float = 1.0) -> None:
        if self._bar is not None and self._id is not None:
            self._bar.advance(self._id, amount)


@contextlib.contextmanager
def task(description: str, *, total: float | None) -> Iterator[_Task]:
    """Open a bar of ``total`` units; call ``.advance(k)`` as work completes."""
    if not enabled():
        yield _Task(None, None)
        return
    with _progress() as bar:
        yield _Task(bar, bar.add_task(description, total=total))

