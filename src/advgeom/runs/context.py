"""What a running experiment is handed: its folder, device, seed, data folder and its points.

A point is one independent unit of a sweep (one dimension, one penalty, one architecture), stored
in the run folder the moment it exists. :meth:`RunContext.points` hands a batch of them to the
run's executor (:mod:`advgeom.runs.executors`): in process one after another, or as Ray tasks.

A context pickles (a Ray task's compute closure carries it) without its executor; the copy a Ray
worker unpickles runs nested points in process, logs into a buffer the driver writes to the run
log (only the driver writes the run's files besides points), and uses the GPU Ray gave the task.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from advgeom.runs.executors import LocalExecutor
from advgeom.store.rundir import RunDir

T = TypeVar("T")


@dataclass
class RunContext:
    """The run an experiment writes into.

    Attributes:
        run: the run folder (points, log, figures).
        device: where tensors go; experiments never pick a device themselves.
        seed: the run's seed; all randomness derives from it through :meth:`generator`.
        scale: ``smoke``, ``default`` or ``paper`` (for claim notes).
        data_dir: the user's ``--data-dir``, or None (data loaders then look in their defaults).
        executor: how points are computed (:class:`advgeom.runs.executors.LocalExecutor` when
            None).
    """

    run: RunDir
    device: torch.device
    seed: int
    scale: str
    data_dir: Path | None = None
    executor: Any = None

    def generator(self, *parts: Any, device: torch.device | str | None = None) -> torch.Generator:
        """A generator seeded from the run seed and ``parts`` (e.g. the point's key).

        Deriving one generator per point, rather than drawing from one shared stream, makes a
        point's result independent of which points ran before it and where: a resumed or
        distributed sweep gives the same numbers as an uninterrupted local one.
        """
        text = repr((self.seed, *parts)).encode()
        seed = int.from_bytes(hashlib.sha256(text).digest()[:8], "little") & ((1 << 63) - 1)
        gen = torch.Generator(device=device or "cpu")
        gen.manual_seed(seed)
        return gen

    def points(self, items: Sequence[tuple[str, Callable[[], Any]]]) -> list:
        """The values of independent points ``[(key, compute), ...]``, in the order given.

        Each ``compute`` is a zero-argument callable returning plain JSON data; it must not
        depend on another point of the batch (the executor may run them at once, elsewhere) and,
        for the Ray executor, must pickle. Points already stored (an earlier attempt) are reused.
        """
        return (self.executor or LocalExecutor()).map_points(self, list(items))

    def point(self, key: str, compute: Callable[[], T]) -> T:
        """Return the stored value of point ``key``, or compute, store and return it.

        For a point a later one needs; independent points go together through :meth:`points`.
        The value is saved the moment it exists, so an interrupted run keeps it and
        ``--resume`` skips it.
        """
        return self.points([(key, compute)])[0]

    def log(self, message: str) -> None:
        """Append a line to the run's log (in a Ray worker: to what the driver logs)."""
        if _worker["log"] is not None:
            _worker["log"].append(message)
        else:
            self.run.log(message)

    def __reduce__(self):
        # The executor holds a Ray session and a progress bar: neither travels to a worker.
        return _rebuild, (self.run.path, self.device, self.seed, self.scale, self.data_dir)


_worker: dict[str, Any] = {"log": None, "device": None}


def _rebuild(path: Path, device: torch.device, seed: int, scale: str,
             data_dir: Path | None) -> RunContext:
    return RunContext(RunDir(path), _worker["device"] or device, seed, scale, data_dir)


@contextlib.contextmanager
def worker_scope(device: torch.device | None) -> Iterator[list[str]]:
    """Inside a worker: contexts unpickled in the block use ``device`` (when given) and log
    into the yielded list instead of the run's log file."""
    before = dict(_worker)
    _worker.update(log=[], device=device)
    try:
        yield _worker["log"]
    finally:
        _worker.update(before)
