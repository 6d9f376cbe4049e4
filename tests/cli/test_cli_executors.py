"""``--executor local|ray`` on ``advgeom run`` and ``advgeom reproduce``: bad input (one line,
exit 2, nothing written), a driver killed with kill -9 then ``--resume``, and a reproduction on
the session's local Ray."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from advgeom.runs.runner import CATALOG_NAME
from advgeom.store.rundir import RunDir

TESTS = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--executor", "dask"), "'--executor': 'dask' is not one of 'local', 'ray'"),
        (("--address", "10.0.0.1:6379"), "--address needs --executor ray"),
        (("--gpus-per-task", "1", "--cpus-per-task", "2"),
         "--cpus-per-task, --gpus-per-task need --executor ray"),
        (("--executor", "ray", "--gpus-per-task", "-1"), "'--gpus-per-task'"),
    ],
)
def test_bad_executor_options(cli, tmp_path, register_sweep, argv, words):
    register_sweep()
    line = cli("run", "test.sweep", "--out", tmp_path, *argv).one_line_error()
    assert words in line, line
    assert not (tmp_path / CATALOG_NAME).exists()


def test_ray_missing_is_one_line_with_the_install_command(cli, tmp_path, register_sweep,
                                                          monkeypatch):
    register_sweep()
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    for command in (("run", "test.sweep"), ("reproduce",)):
        line = cli(*command, "--out", tmp_path, "--executor", "ray").one_line_error()
        assert line == "error: --executor ray needs Ray: pip install 'advgeom[ray]'"
    assert not (tmp_path / CATALOG_NAME).exists()


def test_a_bad_set_is_reported_before_ray_is_started(cli, tmp_path, register_sweep):
    pytest.importorskip("ray")
    register_sweep()
    # Nothing listens at this address: were Ray started first, the error would name --address.
    line = cli("run", "test.sweep", "--out", tmp_path, "--executor", "ray", "--address",
               f"127.0.0.1:{free_port()}", "--set", "no_such_field=1").one_line_error()
    assert "no_such_field" in line and "--address" not in line, line
    assert not (tmp_path / CATALOG_NAME).exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_address_fails_at_once(cli, tmp_path, register_sweep):
    pytest.importorskip("ray")
    register_sweep()
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    line = cli("run", "test.sweep", "--out", tmp_path, "--executor", "ray",
               "--address", address).one_line_error()
    assert f"--address {address}: no Ray cluster answers there" in line
    assert "ray start --head" in line
    line = cli("run", "test.sweep", "--out", tmp_path, "--executor", "ray",
               "--address", "nowhere").one_line_error()
    assert "--address nowhere: expected HOST:PORT" in line
    assert not (tmp_path / CATALOG_NAME).exists()


def test_more_gpus_than_the_cluster_has(cli, tmp_path, register_sweep, ray_session):
    register_sweep()
    line = cli("run", "test.sweep", "--out", tmp_path, "--executor", "ray",
               "--gpus-per-task", "1").one_line_error()
    assert "--gpus-per-task 1: the Ray cluster has 0 GPUs" in line
    assert not (tmp_path / CATALOG_NAME).exists()


HELD_DRIVER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import conftest
import ray
ray.cloudpickle.register_pickle_by_value(conftest)  # the workers cannot import it
from advgeom.runs import registry
from advgeom.cli.main import main

sweep = conftest.Sweep("test.held")
sweep.hold_at, sweep.ready_file = "p3", Path({ready!r})
registry.register(sweep.experiment)
sys.exit(main(sys.argv[1:]))
"""


def test_driver_killed_then_resume_completes_with_the_same_numbers(
    cli, tmp_path, register_sweep, ray_session, by_value, wait_for_file
):
    """A driver joined to the session's Ray is killed (kill -9) while a worker computes p3;
    ``run --resume --executor ray`` in this process finishes the run from its point files."""
    _, address = ray_session
    ready = tmp_path / "at-p3"
    script = tmp_path / "held_driver.py"
    script.write_text(textwrap.dedent(HELD_DRIVER.format(tests=str(TESTS), ready=str(ready))),
                      encoding="utf-8")
    root = tmp_path / "runs"
    child = subprocess.Popen(
        [sys.executable, str(script), "-q", "run", "test.held", "--out", str(root), "--set",
         "points=6", "--executor", "ray", "--address", address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_file(ready, child)
    finally:
        child.kill()
        child.communicate(timeout=60)
    (run,) = (RunDir(p) for p in root.iterdir() if p.is_dir())
    assert run.read("run")["status"] == "running"  # the driver could not close it
    assert not run.results_path.exists() and "p3" not in run.points()

    sweep = register_sweep("test.held")
    by_value(type(sweep).__module__)
    resumed = cli("-q", "run", "test.held", "--out", root, "--resume", run.id, "--executor",
                  "ray", "--json")
    assert resumed.code == 0, resumed.err
    assert run.read("run")["status"] == "done"
    assert run.read("run")["executor"]["name"] == "ray"
    reference = cli("-q", "run", "test.held", "--out", tmp_path / "local", "--set", "points=6",
                    "--json")
    assert json.loads(resumed.out)["metrics"] == json.loads(reference.out)["metrics"]


def test_reproduce_on_ray_writes_the_same_claims_as_locally(
    cli, tmp_path, register_sweep, ray_session, by_value, monkeypatch
):
    import advgeom.cli.reproduce as command

    sweeps = [register_sweep(f"test.{k}") for k in "ab"]
    by_value(type(sweeps[0]).__module__)
    monkeypatch.setattr(command, "all_experiments", lambda: [s.experiment for s in sweeps])
    summaries = {}
    for executor in ("local", "ray"):
        root = tmp_path / executor
        result = cli("-q", "reproduce", "--scale", "smoke", "--out", root, "--executor", executor)
        assert result.code == 0, result.err
        summaries[executor] = json.loads((root / "summary.json").read_text(encoding="utf-8"))
    claims = {k: [o["claims"] for o in s["experiments"]] for k, s in summaries.items()}
    assert claims["ray"] == claims["local"] and len(claims["ray"]) == 2
