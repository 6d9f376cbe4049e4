"""The run folder (points, files, log) and the environment record."""

from __future__ import annotations

import math
import re

import pytest

from advgeom.store import environment
from advgeom.store.rundir import RunDir, now_iso


def test_create_makes_layout_and_refuses_a_taken_id(tmp_path):
    run = RunDir(tmp_path / "exp-1").create()
    assert run.id == "exp-1"
    assert (run.path / "points").is_dir() and run.figures_dir.is_dir()
    assert not run.exists()  # exists() means run.json was written
    run.write("run", {"status": "running"})
    assert run.exists()
    with pytest.raises(FileExistsError):
        RunDir(tmp_path / "exp-1").create()


def test_read_write_and_default(tmp_path):
    run = RunDir(tmp_path / "r").create()
    run.write("config", {"n": 3, "t": (1, 2)})
    assert run.read("config") == {"n": 3, "t": [1, 2]}
    assert run.read("results", default=None) is None
    with pytest.raises(FileNotFoundError):
        run.read("results")


def test_points_are_stored_one_file_each(tmp_path):
    run = RunDir(tmp_path / "r").create()
    assert run.load_point("a", default="missing") == "missing"
    with pytest.raises(KeyError):
        run.load_point("a")
    run.save_point("a", [1.0, 2.0])
    run.save_point("b/with odd:chars", {"x": math.nan})
    assert run.load_point("a") == [1.0, 2.0]
    assert run.load_point("b/with odd:chars") == {"x": "nan"}
    assert run.points() == {"a": [1.0, 2.0], "b/with odd:chars": {"x": "nan"}}
    assert len(list((run.path / "points").glob("*.json"))) == 2
    run.save_point("a", 3)  # overwrite
    assert run.load_point("a") == 3


def test_points_skips_unreadable_files(tmp_path):
    run = RunDir(tmp_path / "r").create()
    run.save_point("good", 1)
    (run.path / "points" / "junk.json").write_text("{not json", encoding="utf-8")
    assert run.points() == {"good": 1}


def test_log_appends_timestamped_lines(tmp_path):
    run = RunDir(tmp_path / "r").create()
    run.log("first")
    run.log("second")
    lines = run.log_path.read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["first", "second"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", lines[0].split(" ")[0])
    assert now_iso().endswith("+00:00")


def test_environment_record():
    env = environment.describe(device="cpu", seed=7)
    assert env["device"] == "cpu" and env["seed"] == 7
    assert "git_commit" in env
    assert env["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", env["git_commit"])
    assert env["packages"]["torch"]  # installed, so a version string
    assert set(env["packages"]) >= {"advgeom", "torch", "numpy"}
    for key in ("python", "platform", "machine", "cpu_count"):
        assert key in env
