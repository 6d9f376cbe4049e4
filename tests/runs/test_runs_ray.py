"""The Ray executor on the session's local Ray (2 CPUs): the same numbers as in process, a worker
killed mid-point, Ctrl-C in the driver, and a cluster too small for the task."""

from __future__ import annotations

import functools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from advgeom.errors import InputError
from advgeom.runs import config as config_mod
from advgeom.runs import registry, runner
from advgeom.runs.executors import LocalExecutor
from advgeom.store.rundir import RunDir

pytest.importorskip("ray")

from advgeom.runs.ray_executor import RayExecutor, SharedTensors  # noqa: E402  (needs Ray)


def ray_executor(**kw) -> RayExecutor:
    return RayExecutor(address=None, cpus_per_task=kw.pop("cpus", 1.0),
                       gpus_per_task=kw.pop("gpus", 0.0), **kw)


def execute(exp, cfg, root: Path, executor, *, run=None, scale="smoke"):
    """Run ``exp`` (or resume ``run``) into ``root`` with ``executor``: (results, run folder)."""
    request = runner.RunRequest(experiment=exp, config=cfg, scale=scale, root=root,
                                executor=executor)
    run = run or runner.start(request)
    with executor:
        return runner.execute(request, run), run


def comparable(results: dict) -> dict:
    return {k: v for k, v in results.items() if k != "run_id"}


def test_a_smoke_sweep_on_ray_equals_the_local_run_point_for_point(tmp_path, ray_session):
    exp = registry.get("spheres.caps")  # a dimension sweep: one Monte Carlo point per n
    cfg = config_mod.resolve(exp.config, scale_overrides=exp.overrides("smoke"))
    local, local_run = execute(exp, cfg, tmp_path / "local", LocalExecutor())
    executor = ray_executor()
    counted = []
    executor.on_point = lambda: counted.append(1)
    on_ray, ray_run = execute(exp, cfg, tmp_path / "ray", executor)
    assert len(local_run.points()) == len(cfg.dims) >= 3
    assert ray_run.points() == local_run.points()
    assert comparable(on_ray) == comparable(local)
    assert len(counted) == len(cfg.dims)
    assert ray_run.read("run")["executor"]["name"] == "ray"
    assert local_run.read("run")["executor"] == {"name": "local"}
    assert "measured in a Ray task" in ray_run.log_path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class FourPoints:
    points: int = 4


def value_or_die(marker: str, key: str, ctx) -> list[float]:
    """Point ``p1`` kills its own worker (kill -9) the first time; the retry computes it."""
    if key == "p1" and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        os.kill(os.getpid(), signal.SIGKILL)
    return torch.rand(3, generator=ctx.generator(key)).tolist()


def killing_sweep(marker: Path) -> registry.Experiment:
    def run(cfg, ctx):
        values = ctx.points([(f"p{i}", functools.partial(value_or_die, str(marker), f"p{i}", ctx))
                             for i in range(cfg.points)])
        return {"claims": [], "metrics": {"values": values}}

    return registry.Experiment(id="test.killed", paper="gilmer", title="a worker dies",
                               config=FourPoints, run=run, plot=lambda results: {})


def test_a_worker_killed_mid_point_is_retried_and_the_run_completes(tmp_path, by_value):
    by_value(__name__)
    marker = tmp_path / "killed-once"
    results, run = execute(killing_sweep(marker), FourPoints(), tmp_path / "ray", ray_executor())
    assert marker.exists()  # the worker did die (its pid is in the file)
    assert run.read("run")["status"] == "done"
    assert sorted(run.points()) == ["p0", "p1", "p2", "p3"]
    # The same numbers as in process (where the marker exists already, so nothing dies).
    local, _ = execute(killing_sweep(marker), FourPoints(), tmp_path / "local", LocalExecutor())
    assert results["metrics"] == local["metrics"]


def shared_sum(data: torch.Tensor, key: str, ctx) -> float:
    """A point that reads a large captured tensor (a training set, say)."""
    return float(data.sum()) + torch.rand(1, generator=ctx.generator(key)).item()


def sharing_sweep(data: torch.Tensor) -> registry.Experiment:
    def run(cfg, ctx):
        values = ctx.points([(f"p{i}", functools.partial(shared_sum, data, f"p{i}", ctx))
                             for i in range(cfg.points)])
        return {"claims": [], "metrics": {"values": values}}

    return registry.Experiment(id="test.shared", paper="gilmer", title="captured data",
                               config=FourPoints, run=run, plot=lambda results: {})


def test_captured_data_travels_once_through_the_object_store(tmp_path, by_value):
    by_value(__name__)
    data = torch.arange(2**19, dtype=torch.float32)  # 2 MiB, captured by every point
    shared = SharedTensors()
    blob, used = shared.dumps(functools.partial(shared_sum, data, "p0", None))
    assert len(blob) < 10_000 and used == [0]  # the tensor is a slot, not 2 MiB of bytes
    assert shared.dumps(functools.partial(shared_sum, data, "p1", None))[1] == [0]
    assert len(shared.put()) == 1  # one copy in the object store for both closures
    on_ray, _ = execute(sharing_sweep(data), FourPoints(), tmp_path / "ray", ray_executor())
    local, _ = execute(sharing_sweep(data), FourPoints(), tmp_path / "local", LocalExecutor())
    assert on_ray["metrics"] == local["metrics"]


def value_or_hold(ready: str, release: str, key: str, ctx) -> list[float]:
    """Point ``p2`` writes its worker's pid to ``ready`` and waits until ``release`` exists."""
    if key == "p2" and not Path(release).exists():
        Path(ready).write_text(str(os.getpid()), encoding="utf-8")
        while not Path(release).exists():
            time.sleep(0.05)  # a task to cancel: polls the release file, nothing else
    return torch.rand(3, generator=ctx.generator(key)).tolist()


def holding_sweep(ready: Path, release: Path) -> registry.Experiment:
    def run(cfg, ctx):
        values = ctx.points([
            (f"p{i}", functools.partial(value_or_hold, str(ready), str(release), f"p{i}", ctx))
            for i in range(cfg.points)
        ])
        return {"claims": [], "metrics": {"values": values}}

    return registry.Experiment(id="test.held", paper="gilmer", title="Ctrl-C mid-sweep",
                               config=FourPoints, run=run, plot=lambda results: {})


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.05)


def test_ctrl_c_cancels_the_tasks_marks_the_run_interrupted_and_resume_completes(
    tmp_path, by_value
):
    by_value(__name__)
    ready, release = tmp_path / "p2-running", tmp_path / "release"
    exp, cfg = holding_sweep(ready, release), FourPoints(points=3)
    executor = ray_executor()

    def ctrl_c():  # the user presses Ctrl-C while p2 is being computed
        wait_until(ready.exists, "p2 starting")
        raise KeyboardInterrupt

    executor.on_point = ctrl_c
    with pytest.raises(KeyboardInterrupt):
        execute(exp, cfg, tmp_path / "ray", executor, scale="default")
    (run,) = (RunDir(p) for p in (tmp_path / "ray").iterdir() if p.is_dir())
    assert run.read("run")["status"] == "interrupted"
    assert not run.results_path.exists() and "p2" not in run.points()
    held = int(ready.read_text(encoding="utf-8"))
    wait_until(lambda: not _alive(held), "the cancelled task's worker ending")

    release.touch()
    resumed, _ = execute(exp, cfg, tmp_path / "ray", ray_executor(), run=run, scale="default")
    assert run.read("run")["status"] == "done"
    local, _ = execute(exp, cfg, tmp_path / "local", LocalExecutor(), scale="default")
    assert resumed["metrics"] == local["metrics"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_more_gpus_per_task_than_the_cluster_has_is_refused_not_a_hang(ray_session):
    with pytest.raises(InputError, match=r"--gpus-per-task 2: the Ray cluster has 0 GPUs"):
        ray_executor(gpus=2).__enter__()
    with pytest.raises(InputError, match=r"--cpus-per-task 64: the Ray cluster has 2 CPUs"):
        ray_executor(cpus=64).__enter__()
