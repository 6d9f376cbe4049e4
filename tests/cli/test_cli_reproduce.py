"""``advgeom reproduce`` and ``advgeom report``: selection, timing, report, failures, resume.

Most tests run throwaway sweeps (tests/conftest.py) in place of the registered experiments; one
module fixture reproduces the real ``gilmer`` experiments at smoke scale.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from advgeom.cli.main import main
from advgeom.runs import reproduce
from advgeom.runs.manifest import MANIFEST_NAME
from advgeom.runs.registry import PAPERS, all_experiments
from advgeom.runs.runner import CATALOG_NAME
from advgeom.store.catalog import Catalog

TESTS = Path(__file__).resolve().parents[1]


def read(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def gilmer_smoke(tmp_path_factory):
    """``advgeom reproduce --scale smoke --only gilmer`` into a fresh runs root."""
    root = tmp_path_factory.mktemp("reproduce")
    code = main(
        ["--quiet", "reproduce", "--scale", "smoke", "--only", "gilmer", "--out", str(root)]
    )
    return root, code


def test_only_gilmer_runs_its_experiments_and_writes_the_report(gilmer_smoke, page_text):
    root, code = gilmer_smoke
    assert code == 0
    expected = [e.id for e in all_experiments() if e.paper == "gilmer"]
    summary = read(root / "summary.json")
    assert [o["experiment"] for o in summary["experiments"]] == expected
    assert summary["scale"] == "smoke" and summary["only"] == ["gilmer"]
    assert summary["papers"]["gilmer"]["experiments"] == len(expected)
    statuses = {r.experiment: r.status for r in Catalog(root / CATALOG_NAME).list()}
    assert statuses == dict.fromkeys(expected, "done")
    manifest = read(root / MANIFEST_NAME)
    assert manifest["selection"] == expected
    assert {k: v["status"] for k, v in manifest["experiments"].items()} == statuses

    text = page_text(root / "report" / "index.html")
    for outcome in summary["experiments"]:
        assert outcome["experiment"] in text and outcome["seconds"] > 0
        for c in outcome["claims"]:
            assert c["id"] in text and " ".join(c["statement"].split()) in text
    assert PAPERS["gilmer"].title in text and PAPERS["zou"].title not in text
    assert (root / "report" / "report.md").is_file()


def use(monkeypatch, *sweeps) -> None:
    """Make ``reproduce`` see only these throwaway sweeps."""
    import advgeom.cli.reproduce as command

    monkeypatch.setattr(command, "all_experiments", lambda: [s.experiment for s in sweeps])


def test_prints_the_time_of_each_experiment(cli, tmp_path, register_sweep, monkeypatch):
    a, b = register_sweep("test.a"), register_sweep("test.b")
    use(monkeypatch, a, b)
    result = cli("reproduce", "--scale", "smoke", "--out", tmp_path)
    assert result.code == 0, result.err
    lines = result.err_lines
    assert lines[0] == f"reproducing 2 experiments at scale smoke on cpu -> {tmp_path}"
    for exp_id in ("test.a", "test.b"):
        line = next(line for line in lines if line.startswith(f"{exp_id}: done in "))
        assert line.endswith(" s, 0/1 claims reproduced")
    assert "0 claims reproduced, 0 differ, 2 not measurable" in result.out
    assert f"report: {tmp_path / 'report' / 'index.html'}" in result.out


def test_ctrl_c_then_resume(cli, tmp_path, register_sweep, monkeypatch, page_text):
    a, b, c = (register_sweep(f"test.{k}") for k in "abc")
    use(monkeypatch, a, b, c)
    b.fail["p3"] = KeyboardInterrupt()
    stopped = cli("reproduce", "--scale", "smoke", "--out", tmp_path)
    assert stopped.code == 130 and "Traceback" not in stopped.err
    assert f"advgeom reproduce --out {tmp_path} --resume" in " ".join(stopped.err.split())
    manifest = read(tmp_path / MANIFEST_NAME)
    assert {k: v["status"] for k, v in manifest["experiments"].items()} == {
        "test.a": "done",
        "test.b": "interrupted",
    }
    assert not (tmp_path / "report").exists()
    a.calls.clear(), b.calls.clear()

    resumed = cli("reproduce", "--resume", "--out", tmp_path)
    assert resumed.code == 0, resumed.err
    assert a.calls == [] and b.calls == ["p3", "p4"] and c.calls == [f"p{i}" for i in range(5)]
    assert any(line.startswith("test.a: done earlier in") for line in resumed.err_lines)
    summary = read(tmp_path / "summary.json")
    assert [o["status"] for o in summary["experiments"]] == ["done"] * 3
    assert [o["reused"] for o in summary["experiments"]] == [True, False, False]
    runs = Catalog(tmp_path / CATALOG_NAME).list()
    assert len(runs) == 3 and {r.status for r in runs} == {"done"}  # b's run was continued
    b_run = manifest["experiments"]["test.b"]["run_id"]
    assert read(tmp_path / b_run / "results.json")["metrics"]["values"].keys() == {
        f"p{i}" for i in range(5)
    }
    text = page_text(tmp_path / "report" / "index.html")
    assert all(k in text for k in ("test.a", "test.b", "test.c"))

    again = cli("reproduce", "--resume", "--out", tmp_path)  # nothing left: all reused
    assert again.code == 0 and a.calls == [] and b.calls == ["p3", "p4"]


KILLED = """
import dataclasses, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import Sweep
from advgeom.runs import registry
import advgeom.cli.reproduce as command
from advgeom.cli.main import main

fast, slow = Sweep("test.fast"), Sweep("test.slow")
slow.hold_at, slow.ready_file = "p2", Path({ready!r})
slow_exp = dataclasses.replace(slow.experiment, scales={{"smoke": {{"points": 8}}}})
for exp in (fast.experiment, slow_exp):
    registry.register(exp)
command.all_experiments = lambda: [fast.experiment, slow_exp]
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_reproduce_resumes(cli, tmp_path, register_sweep, monkeypatch, wait_for_file):
    """SIGKILL (no chance to clean up) in the middle of the second experiment, then --resume.

    The child stops inside test.slow's point p2 and says so with a file, so the kill lands there.
    """
    ready = tmp_path / "at-p2"
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(KILLED.format(tests=str(TESTS), ready=str(ready))),
                      encoding="utf-8")
    root = tmp_path / "runs"
    child = subprocess.Popen(
        [sys.executable, str(script), "reproduce", "--scale", "smoke", "--out", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_file(ready, child)
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    (slow_dir,) = root.glob("test.slow-*")
    kept = {p.name for p in (slow_dir / "points").iterdir()}
    assert len(kept) == 2  # p0 and p1
    assert read(root / MANIFEST_NAME)["experiments"]["test.slow"]["status"] == "running"

    fast, slow = register_sweep("test.fast"), register_sweep("test.slow")
    use(monkeypatch, fast, slow)
    result = cli("reproduce", "--resume", "--out", root)
    assert result.code == 0, result.err
    assert fast.calls == []
    assert slow.calls == [f"p{i}" for i in range(2, 8)]  # the saved config (8 points), 2 kept
    assert Catalog(root / CATALOG_NAME).get(slow_dir.name).status == "done"


def test_report_command_rewrites_the_report(cli, tmp_path, register_sweep, monkeypatch, page_text):
    a = register_sweep("test.a")
    use(monkeypatch, a)
    assert cli("reproduce", "--scale", "smoke", "--out", tmp_path).code == 0
    first = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    (tmp_path / "report" / "index.html").unlink()
    result = cli("report", "--out", tmp_path)
    assert result.code == 0, result.err
    assert "test.a" in page_text(tmp_path / "report" / "index.html")
    assert (tmp_path / "report" / "report.md").read_text(encoding="utf-8") == first


def test_a_failure_does_not_stop_the_others(cli, tmp_path, register_sweep, monkeypatch, page_text):
    broken, fine = register_sweep("test.broken"), register_sweep("test.fine")
    broken.fail["p1"] = RuntimeError("broken on purpose")
    use(monkeypatch, broken, fine)
    result = cli("reproduce", "--scale", "smoke", "--out", tmp_path)
    assert result.code == 1
    outcomes = {o["experiment"]: o for o in read(tmp_path / "summary.json")["experiments"]}
    assert outcomes["test.broken"]["status"] == "failed"
    assert "broken on purpose" in outcomes["test.broken"]["error"]
    assert outcomes["test.fine"]["status"] == "done" and fine.calls == [f"p{i}" for i in range(5)]
    text = page_text(tmp_path / "report" / "index.html")
    assert "broken on purpose" in text and "1 not completed" in text
    statuses = {r.experiment: r.status for r in Catalog(tmp_path / CATALOG_NAME).list()}
    assert statuses == {"test.broken": "failed", "test.fine": "done"}

    broken.calls.clear()
    resumed = cli("reproduce", "--resume", "--out", tmp_path)  # the failed run continues
    assert resumed.code == 0 and broken.calls == ["p1", "p2", "p3", "p4"]


BAD = {
    "unknown paper": (("--only", "gilmr"), ["'gilmr'", *PAPERS]),
    "one unknown of two": (("--only", "gilmer,nope"), ["'nope'", "gilmer, simon-gabriel"]),
    "resume with nothing to resume": (("--resume",), ["--resume", "reproduce.json"]),
    "bad scale": (("--scale", "huge"), ["--scale"]),
    "bad device": (("--device", "tpu"), ["--device"]),
}


@pytest.mark.parametrize(("argv", "words"), BAD.values(), ids=BAD)
def test_bad_input_writes_nothing(cli, tmp_path, argv, words):
    root = tmp_path / "runs"
    line = cli("reproduce", *argv, "--out", root).one_line_error()
    for word in words:
        assert word in line, line
    assert not root.exists()


def test_out_under_a_file(cli, tmp_path):
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    line = cli("reproduce", "--out", tmp_path / "a-file" / "runs").one_line_error()
    assert "a-file" in line and "not a folder" in line


def test_resume_keeps_the_scale_and_seed(cli, tmp_path, register_sweep, monkeypatch):
    use(monkeypatch, register_sweep("test.a"))
    assert cli("reproduce", "--scale", "smoke", "--out", tmp_path).code == 0
    for argv, word in ((("--scale", "default"), "--scale"), (("--seed", "3"), "--seed")):
        line = cli("reproduce", "--resume", *argv, "--out", tmp_path).one_line_error()
        assert word in line and "scale smoke, seed 0" in line
    assert cli("reproduce", "--resume", "--scale", "smoke", "--out", tmp_path).code == 0


def test_report_without_a_reproduction(cli, tmp_path):
    line = cli("report", "--out", tmp_path).one_line_error()
    assert "reproduce.json" in line


def test_paper_keys_and_selection():
    assert reproduce.paper_keys(("gilmer, zou", "gilmer")) == ("gilmer", "zou")
    assert reproduce.paper_keys(()) == ()
    experiments = all_experiments()
    assert reproduce.select(experiments, ()) == experiments
    assert {e.paper for e in reproduce.select(experiments, ("gilmer",))} == {"gilmer"}
    with pytest.raises(ValueError, match="no experiments are registered for zou"):
        reproduce.select([e for e in experiments if e.paper == "gilmer"], ("zou",))
