"""Failed, interrupted and resumed runs through the CLI (throwaway experiments, see conftest)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from advgeom.errors import InputError
from advgeom.runs.runner import CATALOG_NAME
from advgeom.store.catalog import Catalog
from advgeom.store.rundir import RunDir

TESTS = Path(__file__).resolve().parents[1]


def only_run(root: Path) -> RunDir:
    (path,) = [p for p in root.iterdir() if p.is_dir()]
    return RunDir(path)


def status(root: Path, run: RunDir) -> tuple[str, str]:
    return run.read("run")["status"], Catalog(root / CATALOG_NAME).get(run.id).status


def test_failure_exits_1_naming_the_log(cli, tmp_path, register_sweep):
    sweep = register_sweep()
    sweep.fail["p2"] = RuntimeError("the experiment has a bug")
    result = cli("--quiet", "run", "test.sweep", "--out", tmp_path)
    line = result.one_line_error(code=1)
    run = only_run(tmp_path)
    assert str(run.log_path) in line and run.id in line
    assert "RuntimeError: the experiment has a bug" in line
    assert status(tmp_path, run) == ("failed", "failed")
    assert "Traceback" in run.log_path.read_text(encoding="utf-8")
    assert not run.results_path.exists()


def test_without_quiet_the_error_is_the_last_line(cli, tmp_path, register_sweep):
    sweep = register_sweep()
    sweep.fail["p2"] = RuntimeError("the experiment has a bug")
    result = cli("run", "test.sweep", "--out", tmp_path)
    assert result.code == 1
    assert [line for line in result.err_lines if line.startswith("error:")] == result.err_lines[-1:]
    assert result.err_lines[0].startswith("running test.sweep")
    assert "Traceback" not in result.err


def test_input_error_in_the_experiment_exits_2(cli, tmp_path, register_sweep):
    sweep = register_sweep()
    sweep.fail["p1"] = InputError("model file is not a safetensors file")
    result = cli("--quiet", "run", "test.sweep", "--out", tmp_path)
    assert result.one_line_error() == "error: model file is not a safetensors file"
    run = only_run(tmp_path)
    assert status(tmp_path, run) == ("failed", "failed")
    assert not run.results_path.exists()


def test_failure_message_is_one_line_even_for_multiline_errors(cli, tmp_path, register_sweep):
    sweep = register_sweep()
    sweep.fail["p0"] = RuntimeError("shapes do not match:\n  (3, 4) vs (4, 3)")
    cli("-q", "run", "test.sweep", "--out", tmp_path).one_line_error(code=1)


def interrupted_run(cli, root: Path, sweep, at: str = "p3") -> RunDir:
    sweep.fail[at] = KeyboardInterrupt()
    result = cli("run", "test.sweep", "--scale", "smoke", "--out", root)
    assert result.code == 130
    run = only_run(root)
    assert f"--resume {run.id}" in " ".join(result.err.split())  # rich may wrap the hint
    assert "Traceback" not in result.err
    return run


def test_ctrl_c_marks_the_run_interrupted(cli, tmp_path, register_sweep):
    sweep = register_sweep()
    run = interrupted_run(cli, tmp_path, sweep)
    assert status(tmp_path, run) == ("interrupted", "interrupted")
    assert sorted(run.points()) == ["p0", "p1", "p2"]
    assert not run.results_path.exists()
    shown = cli("show", run.id, "--out", tmp_path)
    assert "interrupted" in shown.out and "3 points measured" in shown.out
    assert json.loads(cli("show", run.id, "--out", tmp_path, "--json").out)["status"] == (
        "interrupted")


def test_main_returns_the_ctrl_c_code(cli, tmp_path, register_sweep):
    sweep = register_sweep()
    sweep.fail["p1"] = KeyboardInterrupt()
    result = cli("run", "test.sweep", "--out", tmp_path)
    assert result.code == 130
    assert not result.raised_system_exit


def test_resume_through_the_cli(cli, tmp_path, register_sweep):
    sweep = register_sweep()
    run = interrupted_run(cli, tmp_path / "a", sweep, at="p3")
    finished = run.points()
    sweep.calls.clear()

    result = cli("run", "test.sweep", "--out", tmp_path / "a", "--resume", run.id, "--json")
    assert result.code == 0, result.err
    assert sweep.calls == ["p3", "p4"]  # smoke has 5 points; p0..p2 were kept
    resumed = json.loads(result.out)
    assert resumed["run_id"] == run.id and resumed["scale"] == "smoke"
    assert {k: resumed["metrics"]["values"][k] for k in finished} == finished
    assert status(tmp_path / "a", run) == ("done", "done")
    assert len(Catalog(tmp_path / "a" / CATALOG_NAME).list()) == 1

    straight = cli("run", "test.sweep", "--scale", "smoke", "--out", tmp_path / "b", "--json")
    assert json.loads(straight.out)["metrics"] == resumed["metrics"]


def test_resume_accepts_the_saved_scale_and_seed(cli, tmp_path, register_sweep):
    sweep = register_sweep()
    run = interrupted_run(cli, tmp_path, sweep)
    result = cli("run", "test.sweep", "--out", tmp_path, "--resume", run.id, "--scale", "smoke",
                 "--seed", "0")
    assert result.code == 0, result.err


def test_resume_errors(cli, tmp_path, register_sweep):
    sweep = register_sweep()
    register_sweep("test.other")
    run = interrupted_run(cli, tmp_path, sweep)
    resume = ("run", "test.sweep", "--out", tmp_path, "--resume", run.id)
    cases = [
        (("run", "test.sweep", "--out", tmp_path, "--resume", "test.sweep-nope"),
         "no run 'test.sweep-nope'"),
        (("run", "test.other", "--out", tmp_path, "--resume", run.id), "of experiment"),
        ((*resume, "--set", "points=9"), "drop --set"),
        ((*resume, "--scale", "default"), "--scale"),
        ((*resume, "--seed", "5"), "--seed"),
    ]
    for argv, words in cases:
        line = cli(*argv).one_line_error()
        assert words in line, line
    # None of these touched the interrupted run.
    assert status(tmp_path, run) == ("interrupted", "interrupted")
    assert sweep.calls == ["p0", "p1", "p2", "p3"]

    assert cli(*resume).code == 0
    line = cli(*resume).one_line_error()
    assert "already complete" in line


HELD_SWEEP = """
import signal, sys
from pathlib import Path
# A shell that starts the test run in the background makes its children ignore SIGINT, and Python
# then installs no KeyboardInterrupt handler; a terminal's Ctrl-C, which this test plays, has one.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {tests!r})
from conftest import Sweep
from advgeom.runs import registry
from advgeom.cli.main import main

sweep = Sweep("test.held")
sweep.hold_at, sweep.ready_file = "p2", Path({ready!r})
registry.register(sweep.experiment)
sys.exit(main(sys.argv[1:]))
"""


def test_real_sigint_then_resume(cli, tmp_path, register_sweep, wait_for_file):
    """A real Ctrl-C (SIGINT) to a separate `advgeom run` process, then --resume in this one.

    The child stops inside point p2 (p0 and p1 saved) and says so with a file: the signal comes at a
    known point, however slow the machine.
    """
    ready = tmp_path / "at-p2"
    script = tmp_path / "held_run.py"
    script.write_text(textwrap.dedent(HELD_SWEEP.format(tests=str(TESTS), ready=str(ready))),
                      encoding="utf-8")
    root = tmp_path / "runs"
    child = subprocess.Popen(
        [sys.executable, str(script), "run", "test.held", "--out", str(root), "--set",
         "points=8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_file(ready, child)
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    run = only_run(root)
    assert status(root, run) == ("interrupted", "interrupted")
    assert not run.results_path.exists()
    finished = run.points()
    assert sorted(finished) == ["p0", "p1"]

    sweep = register_sweep("test.held")
    result = cli("run", "test.held", "--out", root, "--resume", run.id, "--json")
    assert result.code == 0, result.err
    assert sweep.calls == [f"p{i}" for i in range(2, 8)]
    values = json.loads(result.out)["metrics"]["values"]
    assert {k: values[k] for k in finished} == finished


def test_runs_marks_a_killed_run_interrupted_and_it_can_resume(cli, tmp_path, register_sweep):
    """A run killed outright (SIGKILL) cannot mark itself; `advgeom runs` sees its pid gone."""
    from advgeom.runs import runner

    sweep = register_sweep()
    exp = sweep.experiment
    request = runner.RunRequest(experiment=exp, config=exp.config(), scale="default", root=tmp_path)
    run = runner.start(request)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    Catalog(tmp_path / CATALOG_NAME).update(run.id, pid=gone.pid)

    listed = cli("runs", "--out", tmp_path)
    line = next(line for line in listed.out.splitlines() if run.id in line)
    assert "interrupted" in line
    assert Catalog(tmp_path / CATALOG_NAME).get(run.id).status == "interrupted"
    assert cli("run", "test.sweep", "--out", tmp_path, "--resume", run.id).code == 0
    assert Catalog(tmp_path / CATALOG_NAME).get(run.id).status == "done"
