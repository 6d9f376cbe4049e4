"""The SQLite run catalog: rows, updates, concurrent writers and stale-run detection."""

from __future__ import annotations

import multiprocessing
import socket
import sqlite3
import subprocess
import sys

import pytest

from advgeom.store.catalog import STATUSES, Catalog, RunRecord


def record(run_id: str, **overrides) -> RunRecord:
    values = dict(id=run_id, experiment="spheres.sampling", scale="smoke", status="running",
                  seed=0, started="2026-01-01T00:00:00+00:00", ended=None, config_hash="abc")
    values.update(overrides)
    return RunRecord(**values)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_add_get_list_update(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert catalog.list() == []
    assert catalog.get("missing") is None
    catalog.add(record("b", started="2026-01-02T00:00:00+00:00"))
    catalog.add(record("a", experiment="other.exp"))
    row = catalog.get("b")
    assert row.status == "running"
    assert row.host == socket.gethostname()  # filled in when not given
    assert row.pid is not None
    assert [r.id for r in catalog.list()] == ["a", "b"]  # oldest first
    assert [r.id for r in catalog.list(experiment="other.exp")] == ["a"]
    catalog.update("b", status="done", ended="2026-01-02T00:01:00+00:00", claims_total=4,
                   claims_agree=3, claims_unmeasured=1)
    row = catalog.get("b")
    assert (row.status, row.ended, row.claims_total, row.claims_agree, row.claims_unmeasured) == (
        "done", "2026-01-02T00:01:00+00:00", 4, 3, 1)
    # A second Catalog on the same file sees the same rows (the schema is created once).
    assert Catalog(tmp_path / "catalog.sqlite").get("b") == row


def test_update_refuses_unknown_columns_and_statuses(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.add(record("r"))
    with pytest.raises(KeyError, match="bogus"):
        catalog.update("r", bogus=1)
    with pytest.raises(ValueError, match="status"):
        catalog.update("r", status="finished")
    assert catalog.get("r").status == "running"
    assert set(STATUSES) == {"running", "done", "failed", "interrupted"}


def test_run_ids_are_unique(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.add(record("r"))
    with pytest.raises(sqlite3.IntegrityError):
        catalog.add(record("r"))
    assert len(catalog.list()) == 1


def test_failed_transaction_rolls_back(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.add(record("r"))
    with pytest.raises(RuntimeError), catalog._transaction() as db:
        db.execute("UPDATE runs SET status = 'done' WHERE id = 'r'")
        raise RuntimeError("crash in the middle of a transaction")
    assert catalog.get("r").status == "running"


def test_mark_stale_runs(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    gone = dead_pid()
    catalog.add(record("dead", pid=gone))
    catalog.add(record("alive"))  # this process: still running
    catalog.add(record("dead-but-done", pid=gone, status="done"))
    catalog.add(record("dead-elsewhere", pid=gone, host="some-other-host"))  # cannot check it
    assert catalog.mark_stale_runs() == ["dead"]
    statuses = {r.id: r.status for r in catalog.list()}
    assert statuses == {"dead": "interrupted", "alive": "running", "dead-but-done": "done",
                        "dead-elsewhere": "running"}
    assert catalog.get("dead").error
    assert catalog.mark_stale_runs() == []  # idempotent


# -- several processes writing one catalog ------------------------------------------------------
WORKERS, RUNS_EACH = 4, 25


def _writer(path: str, worker: int, start: multiprocessing.synchronize.Event) -> None:
    start.wait(30)
    catalog = Catalog(path)  # every worker also races to create the schema
    for i in range(RUNS_EACH):
        run_id = f"w{worker}-r{i}"
        catalog.add(record(run_id, started=f"2026-01-01T00:00:{i:02d}+00:00"))
        catalog.update(run_id, claims_total=i, claims_agree=worker)
        final = "done" if i % 3 else "failed"
        catalog.update(run_id, status=final, ended="2026-01-01T01:00:00+00:00")


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "catalog.sqlite"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(path), w, start)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * WORKERS

    rows = {r.id: r for r in Catalog(path).list()}
    assert len(rows) == WORKERS * RUNS_EACH
    for w in range(WORKERS):
        for i in range(RUNS_EACH):
            row = rows[f"w{w}-r{i}"]
            assert row.status == ("done" if i % 3 else "failed")
            assert (row.claims_total, row.claims_agree) == (i, w)
            assert row.ended == "2026-01-01T01:00:00+00:00"
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == WORKERS * RUNS_EACH
    finally:
        db.close()
