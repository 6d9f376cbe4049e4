"""The runner: done / interrupted / failed runs, what each leaves on disk, and resuming."""

from __future__ import annotations

import pytest

from advgeom.errors import InputError
from advgeom.runs import config as config_mod
from advgeom.runs import runner
from advgeom.runs.claims import CLAIM_KEYS
from advgeom.store.catalog import Catalog
from advgeom.store.rundir import RunDir


def request_for(sweep, root, *, seed=0, scale="default", assignments=()):
    exp = sweep.experiment
    cfg = config_mod.resolve(exp.config, scale_overrides=exp.overrides(scale),
                             assignments=assignments)
    return runner.RunRequest(experiment=exp, config=cfg, scale=scale, seed=seed, root=root)


def catalog_row(root, run_id):
    return Catalog(root / runner.CATALOG_NAME).get(run_id)


def test_complete_run(tmp_path, register_sweep):
    sweep = register_sweep()
    request = request_for(sweep, tmp_path, seed=3)
    run = runner.start(request)
    assert run.read("run")["status"] == "running"
    assert catalog_row(tmp_path, run.id).status == "running"
    assert not run.results_path.exists()

    results = runner.execute(request, run)
    assert sweep.calls == [f"p{i}" for i in range(6)]
    assert run.read("results") == results
    assert results["experiment"] == "test.sweep" and results["run_id"] == run.id
    assert results["seed"] == 3 and results["config"] == {"points": 6, "size": 3}
    assert [tuple(c) for c in results["claims"]] == [CLAIM_KEYS]
    status = run.read("run")
    assert status["status"] == "done" and status["ended"] and status["error"] is None
    row = catalog_row(tmp_path, run.id)
    assert (row.status, row.claims_total, row.claims_unmeasured) == ("done", 1, 1)
    assert row.config_hash == config_mod.config_hash(request.config)
    assert run.read("environment")["ended"] == status["ended"]
    assert set(run.read("config")) >= {"experiment", "scale", "seed", "device", "config"}


def test_keyboard_interrupt_marks_run_interrupted(tmp_path, register_sweep):
    sweep = register_sweep()
    sweep.fail["p3"] = KeyboardInterrupt()
    request = request_for(sweep, tmp_path)
    run = runner.start(request)
    with pytest.raises(KeyboardInterrupt):
        runner.execute(request, run)

    status = run.read("run")
    assert status["status"] == "interrupted"
    assert status["ended"] and status["error"]
    row = catalog_row(tmp_path, run.id)
    assert row.status == "interrupted" and row.ended
    assert sorted(RunDir(run.path).points()) == ["p0", "p1", "p2"]  # kept what was measured
    assert not run.results_path.exists()
    assert run.read("environment")["ended"]
    assert "interrupted" in run.log_path.read_text(encoding="utf-8")


def test_generic_exception_marks_run_failed_with_traceback(tmp_path, register_sweep):
    sweep = register_sweep()
    sweep.fail["p2"] = ZeroDivisionError("division by zero in point p2")
    request = request_for(sweep, tmp_path)
    run = runner.start(request)
    with pytest.raises(runner.RunFailed) as info:
        runner.execute(request, run)

    err = info.value
    assert err.run_id == run.id and err.log_path == run.log_path
    assert str(run.log_path) in str(err) and "ZeroDivisionError" in str(err)
    assert isinstance(err.__cause__, ZeroDivisionError)
    status = run.read("run")
    assert status["status"] == "failed"
    assert "ZeroDivisionError: division by zero in point p2" in status["error"]
    log = run.log_path.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log and "in compute" in log
    row = catalog_row(tmp_path, run.id)
    assert row.status == "failed" and "ZeroDivisionError" in row.error
    assert sorted(run.points()) == ["p0", "p1"]
    assert not run.results_path.exists()


def test_input_error_marks_run_failed_and_is_reraised(tmp_path, register_sweep):
    sweep = register_sweep()
    sweep.fail["p1"] = InputError("eps must be > 0 (got -1)")
    request = request_for(sweep, tmp_path)
    run = runner.start(request)
    with pytest.raises(InputError, match="eps must be > 0") as info:
        runner.execute(request, run)
    assert not isinstance(info.value, runner.RunFailed)
    assert run.read("run")["status"] == "failed"
    assert run.read("run")["error"] == "eps must be > 0 (got -1)"
    assert catalog_row(tmp_path, run.id).status == "failed"
    assert not run.results_path.exists()


def test_failing_plot_leaves_no_results(tmp_path, register_sweep):
    """results.json is written last: a run whose figures fail is failed, not complete."""
    from dataclasses import replace

    sweep = register_sweep()

    def bad_plot(results):
        raise RuntimeError("plot broke")

    request = request_for(sweep, tmp_path)
    request = replace(request, experiment=replace(request.experiment, plot=bad_plot))
    run = runner.start(request)
    with pytest.raises(runner.RunFailed):
        runner.execute(request, run)
    assert run.read("run")["status"] == "failed"
    assert not run.results_path.exists()


def test_figures_are_saved(tmp_path, register_sweep):
    from dataclasses import replace

    from advgeom.plotting import new_figure

    def plot(results):
        fig, axes = new_figure()
        axes[0, 0].plot([0, 1], [0, 1])
        return {"line": fig}

    sweep = register_sweep()
    request = request_for(sweep, tmp_path)
    request = replace(request, experiment=replace(request.experiment, plot=plot))
    run = runner.start(request)
    results = runner.execute(request, run)
    assert results["figures"] == ["figures/line.png", "figures/line.svg"]
    for rel in results["figures"]:
        assert (run.path / rel).stat().st_size > 0


# -- resume -------------------------------------------------------------------------------------
def uninterrupted_values(tmp_path, register_sweep, seed, experiment_id="test.fresh"):
    fresh = register_sweep(experiment_id)
    request = request_for(fresh, tmp_path / "fresh", seed=seed)
    return runner.execute(request, runner.start(request))["metrics"]["values"]


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), RuntimeError("crash")])
def test_resume_recomputes_no_finished_point(tmp_path, register_sweep, failure):
    sweep = register_sweep()
    sweep.fail["p4"] = failure
    request = request_for(sweep, tmp_path, seed=11)
    run = runner.start(request)
    with pytest.raises((KeyboardInterrupt, runner.RunFailed)):
        runner.execute(request, run)
    assert sweep.calls == ["p0", "p1", "p2", "p3", "p4"]
    finished = run.points()
    assert sorted(finished) == ["p0", "p1", "p2", "p3"]

    sweep.calls.clear()
    reopened, saved = runner.reopen(tmp_path, run.id, sweep.experiment)
    assert reopened.path == run.path and saved["seed"] == 11
    resumed = runner.RunRequest(
        experiment=sweep.experiment,
        config=config_mod.from_dict(sweep.experiment.config, saved["config"]),
        scale=saved["scale"], seed=saved["seed"], root=tmp_path)
    results = runner.execute(resumed, reopened)

    assert sweep.calls == ["p4", "p5"]  # none of the four finished points again
    values = results["metrics"]["values"]
    assert {k: values[k] for k in finished} == finished
    assert values == uninterrupted_values(tmp_path, register_sweep, seed=11)
    assert reopened.read("run")["status"] == "done"
    rows = Catalog(tmp_path / runner.CATALOG_NAME).list()
    assert [(r.id, r.status, r.error) for r in rows] == [(run.id, "done", None)]


def test_values_depend_on_the_seed(tmp_path, register_sweep):
    """Control for the resume test: equal values are not trivially equal."""
    a = uninterrupted_values(tmp_path / "a", register_sweep, seed=11, experiment_id="test.a")
    b = uninterrupted_values(tmp_path / "b", register_sweep, seed=12, experiment_id="test.b")
    assert a != b


def test_reopen_errors(tmp_path, register_sweep):
    sweep, other = register_sweep("test.sweep"), register_sweep("test.other")
    request = request_for(sweep, tmp_path)
    run = runner.start(request)
    with pytest.raises(InputError, match="no run 'nope'"):
        runner.reopen(tmp_path, "nope", sweep.experiment)
    with pytest.raises(InputError, match="of experiment 'test.sweep', not 'test.other'"):
        runner.reopen(tmp_path, run.id, other.experiment)
    runner.execute(request, run)
    with pytest.raises(InputError, match="already complete"):
        runner.reopen(tmp_path, run.id, sweep.experiment)


def test_run_ids_are_unique_and_readable(register_sweep):
    ids = {runner.new_run_id("spheres.sampling") for _ in range(200)}
    assert len(ids) == 200
    assert all(i.startswith("spheres.sampling-") for i in ids)


def test_resume_refuses_a_run_still_running_in_a_live_process(tmp_path, register_sweep):
    sweep = register_sweep("test.live")
    request = request_for(sweep, tmp_path)
    run = runner.start(request)  # status running, pid = this (live) process
    with pytest.raises(InputError, match="still running"):
        runner.reopen(tmp_path, run.id, sweep.experiment)


def test_stale_runs_are_marked_in_run_json_too(tmp_path, register_sweep):
    sweep = register_sweep("test.stale")
    run = runner.start(request_for(sweep, tmp_path))
    catalog = Catalog(tmp_path / runner.CATALOG_NAME)
    catalog.update(run.id, pid=2**22 + 12345)  # beyond pid_max on Linux: no such process
    assert runner.mark_stale_runs(tmp_path, catalog) == [run.id]
    assert catalog_row(tmp_path, run.id).status == "interrupted"
    assert RunDir(tmp_path / run.id).read("run")["status"] == "interrupted"
    runner.reopen(tmp_path, run.id, sweep.experiment)  # now resumable
