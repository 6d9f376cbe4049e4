"""The manifest of a reproduction, ``<root>/reproduce.json``, and the resume bookkeeping.

The manifest is rewritten atomically whenever an experiment starts or ends (:class:`Manifest`):
the scale, seed and selection, and per experiment its run id, paper, status, time and error.
``advgeom reproduce --resume`` reads it back (:func:`read_manifest`) and refuses to continue runs
another live process is still writing (:func:`check_not_running`); ``advgeom report`` rebuilds
the report from it. The reproduction itself is :mod:`advgeom.runs.reproduce`, which uses this
module (never the other way round).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from advgeom.errors import InputError
from advgeom.runs import runner
from advgeom.store.atomic import atomic_write_json, read_json
from advgeom.store.catalog import Catalog
from advgeom.store.rundir import RunDir, now_iso

MANIFEST_NAME = "reproduce.json"


def read_manifest(root: Path) -> dict:
    """The manifest of the reproduction under ``root``; InputError when there is none."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise InputError(
            f"--resume: no reproduction to resume under {root} (no {MANIFEST_NAME}); "
            "run 'advgeom reproduce' without --resume"
        )
    try:
        manifest = read_json(path)
        _ = manifest["scale"], manifest["seed"], manifest["experiments"]
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(
            f"--resume: {path} is not a reproduction manifest ({err}); "
            "start a new reproduction without --resume"
        ) from err
    return manifest


def check_not_running(root: Path, entries: list[dict]) -> None:
    """Refuse to resume runs another live process is still writing."""
    ids = [e["run_id"] for e in entries if e.get("run_id") and e.get("status") != "done"]
    if not ids or not (root / runner.CATALOG_NAME).is_file():
        return
    runner.mark_stale_runs(root, Catalog(root / runner.CATALOG_NAME))
    for run_id in ids:
        run = RunDir(root / run_id)
        if run.exists() and run.read("run")["status"] == "running":
            raise InputError(
                f"--resume: run {run_id} is still running in another process; "
                "wait for it or stop it first"
            )


class Manifest:
    """The manifest file of one reproduction, rewritten atomically on every change."""

    def __init__(
        self,
        root: Path,
        *,
        scale: str,
        seed: int,
        only: Sequence[str],
        selection: Sequence[str],
        resume: bool,
    ) -> None:
        self.path = Path(root) / MANIFEST_NAME
        earlier = read_json(self.path) if resume and self.path.is_file() else {}
        self.data: dict[str, Any] = {
            "scale": scale,
            "seed": seed,
            "only": list(only),
            "selection": list(selection),
            "started": earlier.get("started") or now_iso(),
            "updated": None,
            "experiments": dict(earlier.get("experiments") or {}),
        }

    def record(self, experiment_id: str, **entry: Any) -> None:
        self.data["experiments"][experiment_id] = {
            **self.data["experiments"].get(experiment_id, {}),
            **entry,
        }
        self.data["updated"] = now_iso()
        atomic_write_json(self.path, self.data)
