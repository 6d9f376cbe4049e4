"""The run catalog: one SQLite row per run, safe to write from several processes at once.

SQLite serialises writers with a file lock; every write here is one short ``BEGIN IMMEDIATE``
transaction on a fresh connection with a generous busy timeout, so two ``advgeom run`` processes
sharing a runs folder queue for the lock instead of failing or corrupting the file.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

STATUSES = ("running", "done", "failed", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    scale TEXT NOT NULL,
    status TEXT NOT NULL,
    seed INTEGER,
    started TEXT NOT NULL,
    ended TEXT,
    config_hash TEXT NOT NULL,
    claims_total INTEGER NOT NULL DEFAULT 0,
    claims_agree INTEGER NOT NULL DEFAULT 0,
    claims_disagree INTEGER NOT NULL DEFAULT 0,
    claims_unmeasured INTEGER NOT NULL DEFAULT 0,
    host TEXT,
    pid INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs (experiment, started);
"""


@dataclass(frozen=True)
class RunRecord:
    """One catalog row."""

    id: str
    experiment: str
    scale: str
    status: str
    seed: int | None
    started: str
    ended: str | None
    config_hash: str
    claims_total: int = 0
    claims_agree: int = 0
    claims_disagree: int = 0
    claims_unmeasured: int = 0
    host: str | None = None
    pid: int | None = None
    error: str | None = None


_COLUMNS = tuple(f.name for f in fields(RunRecord))


class Catalog:
    """The SQLite index of the runs under one runs root (``<root>/catalog.sqlite``)."""

    def __init__(self, path: str | os.PathLike, *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            # One statement at a time: executescript() would commit our transaction early.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, taking the write lock up front
        # so two writers never both read-then-upgrade and deadlock.
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def add(self, record: RunRecord) -> None:
        """Insert a new run (its id must be new)."""
        row = asdict(record)
        if row["host"] is None:
            row["host"] = socket.gethostname()
        if row["pid"] is None:
            row["pid"] = os.getpid()
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO runs ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                [row[c] for c in _COLUMNS],
            )

    def update(self, run_id: str, **values: object) -> None:
        """Set some columns of one run, e.g. ``status="done", ended=...``."""
        unknown = set(values) - set(_COLUMNS)
        if unknown:
            raise KeyError(f"unknown catalog columns: {sorted(unknown)}")
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self._transaction() as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", [*values.values(), run_id])

    def get(self, run_id: str) -> RunRecord | None:
        """The row of one run, or None."""
        rows = self._select("WHERE id = ?", [run_id])
        return rows[0] if rows else None

    def list(self, *, experiment: str | None = None) -> list[RunRecord]:
        """All runs, oldest first (optionally of one experiment)."""
        if experiment is None:
            return self._select("ORDER BY started, id", [])
        return self._select("WHERE experiment = ? ORDER BY started, id", [experiment])

    def _select(self, where: str, args: list) -> list[RunRecord]:
        db = sqlite3.connect(self.path, timeout=self.timeout)
        try:
            cursor = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs {where}", args)
            return [RunRecord(*row) for row in cursor.fetchall()]
        finally:
            db.close()

    def mark_stale_runs(self) -> list[str]:
        """Mark as interrupted the runs of this host still 'running' whose process is gone.

        A run killed outright (SIGKILL, power loss) cannot mark itself; this is how the catalog
        learns of it. Returns the ids it changed.
        """
        host = socket.gethostname()
        stale = [
            r.id
            for r in self._select("WHERE status = 'running' AND host = ?", [host])
            if r.pid is not None and not _process_alive(r.pid)
        ]
        for run_id in stale:
            self.update(run_id, status="interrupted", error="process ended without closing the run")
        return stale


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
