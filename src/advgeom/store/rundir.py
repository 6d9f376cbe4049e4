"""One run's folder: config, results, figures, log, environment and the points measured so far.

Layout of ``<runs root>/<run id>/``::

    run.json          id, experiment, scale, status, times, error (rewritten atomically)
    config.json       the resolved config, scale, seed and device
    environment.json  package versions, device, git commit, start and end
    points/           one JSON file per finished point of a sweep (what --resume reuses)
    results.json      written last, only when the run is complete
    figures/          PNG and SVG of each figure
    run.log           timestamped log

Points are written one file each, atomically, the moment they are measured: an interrupted or
crashed run keeps every point it finished, and ``--resume`` recomputes none of them.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from advgeom.store.atomic import atomic_write_json, read_json

_MISSING = object()


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunDir:
    """Paths and reads/writes of one run folder."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @property
    def id(self) -> str:
        return self.path.name

    # -- fixed files ---------------------------------------------------------------------
    @property
    def results_path(self) -> Path:
        return self.path / "results.json"

    @property
    def figures_dir(self) -> Path:
        return self.path / "figures"

    @property
    def log_path(self) -> Path:
        return self.path / "run.log"

    def create(self) -> RunDir:
        """Make the folder (and points/, figures/); fail if the run id is already taken."""
        self.path.mkdir(parents=True, exist_ok=False)
        (self.path / "points").mkdir()
        self.figures_dir.mkdir()
        return self

    def exists(self) -> bool:
        return (self.path / "run.json").is_file()

    def write(self, name: str, obj: Any) -> Path:
        """Write ``<name>.json`` atomically."""
        return atomic_write_json(self.path / f"{name}.json", obj)

    def read(self, name: str, default: Any = _MISSING) -> Any:
        """Read ``<name>.json``; return ``default`` if it does not exist (else raise)."""
        path = self.path / f"{name}.json"
        if not path.is_file() and default is not _MISSING:
            return default
        return read_json(path)

    def log(self, message: str) -> None:
        """Append one timestamped line to run.log (appends need no atomicity: lines are whole)."""
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(f"{now_iso()} {message}\n")

    # -- points of a sweep ---------------------------------------------------------------
    def _point_path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
        return self.path / "points" / f"{digest}.json"

    def load_point(self, key: str, default: Any = _MISSING) -> Any:
        """The stored value of a finished point, or ``default`` when it was not measured yet."""
        path = self._point_path(key)
        if not path.is_file():
            if default is _MISSING:
                raise KeyError(key)
            return default
        stored = read_json(path)
        if stored.get("key") != key:  # a hash collision would be astronomically rare; still check
            raise KeyError(key)
        return stored["value"]

    def save_point(self, key: str, value: Any) -> None:
        """Store a finished point (atomically: a crash mid-write leaves no half point)."""
        atomic_write_json(self._point_path(key), {"key": key, "value": value})

    def points(self) -> dict[str, Any]:
        """Every stored point, key -> value."""
        out = {}
        for path in sorted((self.path / "points").glob("*.json")):
            try:
                stored = read_json(path)
            except (OSError, json.JSONDecodeError):
                continue
            out[stored["key"]] = stored["value"]
        return out
