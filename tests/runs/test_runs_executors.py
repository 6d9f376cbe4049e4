"""Points as units of work: ``RunContext.points``, the local executor, what a worker's copy of the
context does, and the executor options' checks (none of this needs Ray)."""

from __future__ import annotations

import pickle
import sys

import pytest
import torch

from advgeom.errors import InputError
from advgeom.runs import executors
from advgeom.runs.context import RunContext, worker_scope
from advgeom.runs.executors import LocalExecutor
from advgeom.store.rundir import RunDir


def context(tmp_path, **kw) -> RunContext:
    return RunContext(run=RunDir(tmp_path / "r").create(), device=torch.device("cpu"), seed=0,
                      scale="smoke", **kw)


def test_points_are_stored_in_order_and_reused_without_recomputing(tmp_path):
    executor = LocalExecutor()
    counted = []
    executor.on_point = lambda: counted.append(1)
    ctx = context(tmp_path, executor=executor)
    calls = []

    def value(key):
        calls.append(key)
        return {"key": key, "x": torch.rand(2, generator=ctx.generator(key)).tolist()}

    ctx.run.save_point("b", value("b"))  # an earlier attempt's point
    calls.clear()
    got = ctx.points([(k, lambda k=k: value(k)) for k in "abc"])
    assert [g["key"] for g in got] == ["a", "b", "c"]
    assert calls == ["a", "c"]
    assert len(counted) == 3  # the bar counts reused points too
    assert ctx.run.points() == dict(zip("abc", got, strict=True))
    log = ctx.run.log_path.read_text(encoding="utf-8")
    assert "point b: reused" in log and "point a: measured" in log
    # A single point is a batch of one; the stored value comes back as JSON data.
    assert ctx.point("d", lambda: (1, 2)) == [1, 2]


def test_a_context_pickles_without_its_executor_and_a_worker_copy_logs_to_a_buffer(tmp_path):
    ctx = context(tmp_path, executor=LocalExecutor())
    copy = pickle.loads(pickle.dumps(ctx))
    assert copy.executor is None and copy.run.path == ctx.run.path and copy.seed == ctx.seed
    assert copy.generator("k").initial_seed() == ctx.generator("k").initial_seed()
    with worker_scope(torch.device("meta")) as messages:
        worker = pickle.loads(pickle.dumps(ctx))
        worker.log("from the worker")
    assert worker.device == torch.device("meta")  # the device Ray gave the task
    assert messages == ["from the worker"]
    assert not ctx.run.log_path.exists()  # only the driver writes the run's log
    copy.log("from the driver")
    assert "from the driver" in ctx.run.log_path.read_text(encoding="utf-8")


def test_executor_options_need_the_ray_executor():
    assert isinstance(executors.create("local"), LocalExecutor)
    with pytest.raises(InputError, match=r"--address, --gpus-per-task need --executor ray"):
        executors.create("local", address="10.0.0.1:6379", gpus_per_task=1)
    with pytest.raises(InputError, match="--executor must be one of local, ray"):
        executors.create("dask")


def test_the_ray_executor_without_ray_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(InputError) as err:
        executors.create("ray")
    assert str(err.value) == "--executor ray needs Ray: pip install 'advgeom[ray]'"
