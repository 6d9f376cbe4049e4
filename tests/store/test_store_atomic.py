"""Atomic writes: the old file or the new one, never half of either, and no temp file left over."""

from __future__ import annotations

import json
import math
import os
import threading

import pytest

from advgeom.store import atomic
from advgeom.store.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_json,
    to_json,
)


def leftovers(folder):
    """Temp files (``.<name>.*.tmp``) an interrupted write could leave behind."""
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def strict_loads(text: str):
    """json.loads that refuses NaN/Infinity literals (they are not standard JSON)."""

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_write_json_round_trip(tmp_path):
    path = atomic_write_json(tmp_path / "a.json", {"x": 1, "y": [1.5, "s", None, True]})
    assert path == tmp_path / "a.json"
    assert read_json(path) == {"x": 1, "y": [1.5, "s", None, True]}
    assert leftovers(tmp_path) == []


def test_write_creates_missing_parent_folders(tmp_path):
    path = atomic_write_bytes(tmp_path / "deep" / "er" / "f.bin", b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"


def test_successful_write_replaces_the_file(tmp_path):
    path = tmp_path / "f.json"
    atomic_write_json(path, {"version": 1})
    old_inode = path.stat().st_ino
    with open(path, encoding="utf-8") as reader:  # a reader that opened the old file
        atomic_write_json(path, {"version": 2})
        # Replaced by rename, not rewritten in place: the open reader still sees the old file whole.
        assert json.load(reader) == {"version": 1}
    assert read_json(path) == {"version": 2}
    assert path.stat().st_ino != old_inode
    assert leftovers(tmp_path) == []


def test_text_is_utf8(tmp_path):
    path = atomic_write_text(tmp_path / "t.txt", "Schölkopf — ok\n")
    assert path.read_bytes() == "Schölkopf — ok\n".encode()


@pytest.mark.parametrize("failing", ["replace", "fsync"])
@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_write_keeps_old_content_and_leaves_no_temp(tmp_path, monkeypatch, failing, error):
    path = tmp_path / "results.json"
    atomic_write_json(path, {"old": True})
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise error

    monkeypatch.setattr(atomic.os, failing, boom)
    with pytest.raises(type(error)):
        atomic_write_json(path, {"new": True, "payload": list(range(1000))})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_failed_write_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(tmp_path / "new.bin", b"data")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_the_bytes_keeps_old_content(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")
    real_fdopen = os.fdopen

    class HalfWriter:
        """Writes half the data, then fails: a crash in the middle of a write."""

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError("I/O error")

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="I/O error"):
        atomic_write_bytes(path, b"new content that never fully lands")
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("bad", [{"x": object()}, {"x": {1, 2}}, {"x": b"bytes"}])
def test_unserialisable_object_keeps_old_content(tmp_path, bad):
    path = tmp_path / "f.json"
    atomic_write_json(path, {"old": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, bad)
    assert read_json(path) == {"old": 1}
    assert leftovers(tmp_path) == []


def test_non_finite_floats_become_strings_and_file_is_standard_json(tmp_path):
    data = {
        "nan": math.nan,
        "list": [math.inf, -math.inf, 1.0],
        "nested": {"deep": [{"v": math.nan}], "t": (math.inf, 2)},
        3: "int key",
    }
    path = atomic_write_json(tmp_path / "f.json", data)
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    loaded = strict_loads(text)
    assert loaded == {
        "nan": "nan",
        "list": ["inf", "-inf", 1.0],
        "nested": {"deep": [{"v": "nan"}], "t": ["inf", 2]},
        "3": "int key",
    }
    assert strict_loads(to_json(math.nan)) == "nan"


def test_numpy_float_nan_is_also_made_safe():
    np = pytest.importorskip("numpy")
    assert strict_loads(to_json({"v": np.float64("nan")})) == {"v": "nan"}


def test_readers_never_see_a_partial_file(tmp_path):
    """A reader polling while a writer rewrites the file always reads one whole version."""
    path = tmp_path / "f.json"
    versions = [{"v": i, "payload": [i] * 5000} for i in range(2)]
    atomic_write_json(path, versions[0])
    stop, seen, errors = threading.Event(), set(), []

    def read_loop():
        while not stop.is_set():
            try:
                value = read_json(path)
            except Exception as err:  # noqa: BLE001 - any failure to read is the bug
                errors.append(repr(err))
                return
            seen.add(value["v"])
            if value not in versions:
                errors.append(f"unexpected content {value['v']}")

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        for i in range(150):
            atomic_write_json(path, versions[i % 2])
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert seen <= {0, 1}
    assert leftovers(tmp_path) == []


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "f.json", {})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
