"""What a running experiment is handed: its folder, device, seed, data folder and point cache."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

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
    """

    run: RunDir
    device: torch.device
    seed: int
    scale: str
    data_dir: Path | None = None

    def generator(self, *parts: Any, device: torch.device | str | None = None) -> torch.Generator:
        """A generator seeded from the run seed and ``parts`` (e.g. the point's key).

        Deriving one generator per point, rather than drawing from one shared stream, makes a
        point's result independent of which points ran before it: a resumed sweep gives the same
        numbers as an uninterrupted one.
        """
        text = repr((self.seed, *parts)).encode()
        seed = int.from_bytes(hashlib.sha256(text).digest()[:8], "little") & ((1 << 63) - 1)
        gen = torch.Generator(device=device or "cpu")
        gen.manual_seed(seed)
        return gen

    def point(self, key: str, compute: Callable[[], T]) -> T:
        """Return the stored value of point ``key``, or compute, store and return it.

        ``compute`` must return plain JSON data. The value is saved the moment it exists, so an
        interrupted run keeps it and ``--resume`` skips it.
        """
        stored = self.run.load_point(key, default=_MISSING)
        if stored is not _MISSING:
            self.log(f"point {key}: reused from an earlier attempt")
            return stored
        self.run.save_point(key, compute())
        self.log(f"point {key}: measured")
        # Hand back what was stored, so a fresh point and a reused one look exactly alike.
        return self.run.load_point(key)

    def log(self, message: str) -> None:
        """Append a line to the run's log."""
        self.run.log(message)


_MISSING = object()
