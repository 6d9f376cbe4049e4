"""Running an experiment into the store: run folder, catalog row, results, figures, failures.

The runner owns everything an experiment should not have to think about: it creates the run
folder, records config and environment, marks the catalog row running/done/failed/interrupted,
saves figures, and writes ``results.json`` last, so a results file always means a complete run.

The experiment's points go to the request's executor (:mod:`advgeom.runs.executors`: in process
by default, or Ray tasks); whichever it is, only this driver process writes the catalog, run.json
and results.json, so the run folder may live on a shared file system (SQLite's locking is not
safe on network file systems, and only one process writes it per run).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from advgeom.errors import AdvgeomError, InputError
from advgeom.plotting import save_figures
from advgeom.runs import claims as claims_mod
from advgeom.runs import config as config_mod
from advgeom.runs.context import RunContext
from advgeom.runs.executors import Executor, LocalExecutor
from advgeom.runs.registry import PAPERS, Experiment
from advgeom.store import environment
from advgeom.store.atomic import to_json
from advgeom.store.catalog import Catalog, RunRecord
from advgeom.store.rundir import RunDir, now_iso

CATALOG_NAME = "catalog.sqlite"


class RunFailed(AdvgeomError):
    """An experiment raised an unexpected error: the run is marked failed, its log has the trace."""

    def __init__(self, run_id: str, log_path: Path, cause: BaseException) -> None:
        # Only the first line of the cause: the CLI promises one-line errors; the log has it all.
        first = (str(cause).strip().splitlines() or [""])[0]
        super().__init__(f"run {run_id} failed: {type(cause).__name__}: {first} "
                         f"(trace in {log_path})")
        self.run_id, self.log_path = run_id, log_path


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for: one experiment at one scale, with options."""

    experiment: Experiment
    config: Any
    scale: str
    seed: int = 0
    device: torch.device = torch.device("cpu")
    root: Path = Path("runs")
    data_dir: Path | None = None
    executor: Executor | None = None  # None: LocalExecutor


def new_run_id(experiment_id: str) -> str:
    """``<experiment>-<UTC time>-<random>``: sortable, readable, and unique across processes."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{experiment_id}-{stamp}-{secrets.token_hex(3)}"


def start(request: RunRequest) -> RunDir:
    """Create a new run folder and its catalog row (status running)."""
    try:
        run = RunDir(request.root / new_run_id(request.experiment.id)).create()
    except OSError as err:
        raise InputError(f"--out {request.root}: cannot create a run folder there "
                         f"({err.strerror or err}); name a writable folder") from err
    started = now_iso()
    run.write("config", _config_record(request))
    run.write("run", _status_record(run.id, request, "running", started))
    run.write("environment", {**environment.describe(device=str(request.device), seed=request.seed),
                              "started": started, "ended": None})
    Catalog(request.root / CATALOG_NAME).add(RunRecord(
        id=run.id, experiment=request.experiment.id, scale=request.scale, status="running",
        seed=request.seed, started=started, ended=None,
        config_hash=config_mod.config_hash(request.config),
    ))
    return run


def reopen(root: Path, run_id: str, experiment: Experiment) -> tuple[RunDir, dict]:
    """Open an earlier run of ``experiment`` for ``--resume``; return it and its saved config."""
    run = RunDir(root / run_id)
    if not run.exists():
        raise InputError(
            f"--resume: no run {run_id!r} under {root} (see 'advgeom runs --out {root}')"
        )
    saved = run.read("config")
    if saved["experiment"] != experiment.id:
        raise InputError(
            f"--resume: run {run_id} is of experiment {saved['experiment']!r}, "
            f"not {experiment.id!r}"
        )
    status = run.read("run")["status"]
    if status == "done":
        raise InputError(f"--resume: run {run_id} is already complete; nothing to resume")
    if status == "running":
        mark_stale_runs(root, Catalog(root / CATALOG_NAME))
        if run.read("run")["status"] == "running":
            raise InputError(f"--resume: run {run_id} is still running in another process; "
                             "wait for it or stop it first")
    return run, saved


def resumed_request(
    experiment: Experiment,
    saved: dict,
    *,
    device: torch.device,
    root: Path,
    data_dir: Path | None,
    executor: Executor | None,
) -> RunRequest:
    """The request that continues a run from its saved config (:func:`reopen`): its config,
    scale and seed as saved, its data folder unless ``data_dir`` names another."""
    saved_data = Path(saved["data_dir"]) if saved.get("data_dir") else None
    return RunRequest(
        experiment=experiment,
        config=config_mod.from_dict(experiment.config, saved["config"]),
        scale=saved["scale"],
        seed=saved["seed"],
        device=device,
        root=root,
        data_dir=data_dir or saved_data,
        executor=executor,
    )


def mark_stale_runs(root: Path, catalog: Catalog) -> list[str]:
    """Mark runs whose process died without closing them as interrupted, in the catalog and in
    their run.json (so ``runs`` and ``show`` agree)."""
    stale = catalog.mark_stale_runs()
    for run_id in stale:
        run = RunDir(root / run_id)
        if run.exists():
            record = run.read("run")
            run.write("run", {**record, "status": "interrupted",
                              "error": "process ended without closing the run"})
    return stale


def execute(request: RunRequest, run: RunDir) -> dict:
    """Run the experiment into ``run``; return the results written to results.json.

    Marks the run done, interrupted (Ctrl-C) or failed (any exception) in run.json and the catalog.
    Points already measured stay in the run folder in every case.
    """
    catalog = Catalog(request.root / CATALOG_NAME)
    started = run.read("run")["started"]
    catalog.update(run.id, status="running", pid=os.getpid(), host=socket.gethostname(),
                   ended=None, error=None)
    run.write("run", _status_record(run.id, request, "running", started))
    ctx = RunContext(run=run, device=request.device, seed=request.seed, scale=request.scale,
                     data_dir=request.data_dir, executor=request.executor)
    run.log(f"start {request.experiment.id} scale={request.scale} seed={request.seed} "
            f"device={request.device} executor={_executor(request)['name']}")
    try:
        results = _run_and_save(request, run, ctx)
    except KeyboardInterrupt:
        _finish(request, run, catalog, started, "interrupted", error="interrupted by the user")
        raise
    except AdvgeomError as err:  # the user's input (bad data folder, bad value): no trace needed
        _finish(request, run, catalog, started, "failed", error=str(err))
        raise
    except Exception as err:
        run.log("traceback:\n" + traceback.format_exc())
        _finish(request, run, catalog, started, "failed", error=f"{type(err).__name__}: {err}")
        raise RunFailed(run.id, run.log_path, err) from err
    _finish(request, run, catalog, started, "done", claims=results["claims"])
    return results


def _run_and_save(request: RunRequest, run: RunDir, ctx: RunContext) -> dict:
    exp = request.experiment
    out = exp.run(request.config, ctx)
    results = {
        "experiment": exp.id,
        "paper": exp.paper,
        "scale": request.scale,
        "config": config_mod.to_dict(request.config),
        "claims": out["claims"],
        "metrics": out.get("metrics", {}),
        "figures": [],
        "run_id": run.id,
        "seed": request.seed,
        "device": str(request.device),
    }
    # Figures read only the results (as saved to JSON), so they can be redrawn without recomputing.
    results["figures"] = replot(exp, run, _round_trip(results))
    run.write("results", results)
    return results


def replot(experiment: Experiment, run: RunDir, results: dict) -> list[str]:
    """Draw an experiment's figures from its results; return their paths relative to the run."""
    paths = save_figures(experiment.plot(results), run.figures_dir)
    return [str(p.relative_to(run.path)) for p in paths]


def _finish(request: RunRequest, run: RunDir, catalog: Catalog, started: str, status: str, *,
            claims: list[dict] | None = None, error: str | None = None) -> None:
    ended = now_iso()
    run.write("run", {**_status_record(run.id, request, status, started), "ended": ended,
                      "error": error})
    env = run.read("environment", default={})
    run.write("environment", {**env, "ended": ended})
    counts = claims_mod.count(claims) if claims is not None else {}
    catalog.update(run.id, status=status, ended=ended, error=error, **counts)
    run.log(f"{status}" + (f": {error}" if error else ""))


def _config_record(request: RunRequest) -> dict:
    return {
        "experiment": request.experiment.id,
        "paper": PAPERS[request.experiment.paper].title,
        "scale": request.scale,
        "seed": request.seed,
        "device": str(request.device),
        "data_dir": str(request.data_dir) if request.data_dir else None,
        "config": config_mod.to_dict(request.config),
    }


def _status_record(run_id: str, request: RunRequest, status: str, started: str) -> dict:
    return {"id": run_id, "experiment": request.experiment.id, "scale": request.scale,
            "status": status, "started": started, "ended": None, "error": None,
            "executor": _executor(request)}


def _executor(request: RunRequest) -> dict:
    """How this attempt computes its points (a resumed run records the executor it used)."""
    return (request.executor or LocalExecutor()).describe()


def _round_trip(results: dict) -> dict:
    return json.loads(to_json(results))
