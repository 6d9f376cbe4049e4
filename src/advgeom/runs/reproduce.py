"""Running every registered experiment (or the chosen papers') at one scale, resumably.

One failing experiment does not stop the others: its run is marked failed, the summary says so,
and the rest still run.

A reproduction keeps a manifest, ``<root>/reproduce.json`` (:mod:`advgeom.runs.manifest`).
``--resume`` reads it back: an experiment already done is reused as it is, an unfinished one
continues its own run (the runner keeps every finished point, see ``advgeom run --resume``), and
the rest start. Everything ``--resume`` needs is checked before anything is written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from advgeom.errors import AdvgeomError, InputError
from advgeom.runs import claims as claims_mod
from advgeom.runs import config as config_mod
from advgeom.runs import runner
from advgeom.runs.data_check import check_data
from advgeom.runs.executors import Executor
from advgeom.runs.manifest import Manifest, check_not_running, read_manifest
from advgeom.runs.registry import PAPERS, Experiment, check_scale
from advgeom.store.atomic import atomic_write_json
from advgeom.store.rundir import RunDir, now_iso

SUMMARY_NAME = "summary.json"


@dataclass
class Outcome:
    """What happened to one experiment of a reproduction."""

    experiment: str
    paper: str
    status: str
    seconds: float
    run_id: str | None = None
    claims: list[dict] = field(default_factory=list)
    error: str | None = None
    reused: bool = False  # done by an earlier attempt (``--resume``), not run again


@dataclass(frozen=True)
class Plan:
    """A checked reproduction: which experiments, at which scale and seed, resuming what."""

    experiments: tuple[Experiment, ...]
    scale: str
    seed: int
    only: tuple[str, ...]
    resume: bool = False
    earlier: dict[str, dict] = field(default_factory=dict)  # manifest entries, by experiment


def paper_keys(only: Sequence[str]) -> tuple[str, ...]:
    """``--only`` values (repeatable, comma-separated) as paper keys; unknown ones are refused."""
    keys = tuple(dict.fromkeys(k.strip() for item in only for k in item.split(",") if k.strip()))
    unknown = [k for k in keys if k not in PAPERS]
    if unknown:
        raise InputError(
            f"--only: unknown paper {', '.join(map(repr, unknown))}; "
            f"valid keys: {', '.join(PAPERS)}"
        )
    return keys


def select(experiments: Sequence[Experiment], keys: Sequence[str]) -> list[Experiment]:
    """The experiments of the papers ``keys`` (all of them when empty)."""
    chosen = [e for e in experiments if e.paper in keys] if keys else list(experiments)
    if not chosen:
        what = f"for {', '.join(keys)} " if keys else ""
        raise InputError(
            f"--only: no experiments are registered {what}in this version (see 'advgeom list')"
        )
    return chosen


def plan(
    experiments: Sequence[Experiment],
    *,
    root: Path,
    scale: str | None,
    seed: int | None,
    only: Sequence[str] = (),
    resume: bool = False,
) -> Plan:
    """Check a reproduction request and decide what to run; writes nothing.

    Without ``resume``: ``scale`` (default ``default``) and ``seed`` (default 0) as given. With
    it: the earlier reproduction's scale, seed and selection (``--only`` may change the
    selection; a different scale or seed is refused, as mixing them would mix two reproductions).
    """
    keys = paper_keys(only)
    check_root(root)
    if not resume:
        scale = scale or "default"
        check_scale(scale)
        return Plan(tuple(select(experiments, keys)), scale, seed or 0, keys)
    manifest = read_manifest(root)
    if scale not in (None, manifest["scale"]) or seed not in (None, manifest["seed"]):
        raise InputError(
            f"--resume continues the reproduction under {root} at scale "
            f"{manifest['scale']}, seed {manifest['seed']}; drop --scale and --seed "
            "(or start a new one without --resume)"
        )
    keys = keys or tuple(manifest.get("only") or ())
    chosen = select(experiments, keys)
    earlier = dict(manifest["experiments"])
    check_not_running(root, [earlier[e.id] for e in chosen if e.id in earlier])
    return Plan(tuple(chosen), manifest["scale"], manifest["seed"], keys, True, earlier)


def check_root(root: Path) -> None:
    """``--out`` must be a folder, or creatable as one, and writable."""
    root = Path(root)
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise InputError(f"--out {root}: {existing} is a file, not a folder; name a folder")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--out {root}: {existing} is not writable; name a writable folder")


def reproduce(
    plan: Plan,
    *,
    root: Path,
    device: torch.device | None = None,
    data_dir: Path | None = None,
    on_done: Callable[[Outcome], None] | None = None,
    executor: Executor | None = None,
) -> list[Outcome]:
    """Run (or reuse) each experiment of ``plan`` into ``root``; one outcome per experiment.

    The experiments run one after another in this process; each one's points go to
    ``executor`` (in process when None, see :mod:`advgeom.runs.executors`).

    A KeyboardInterrupt marks the current experiment interrupted in its run and in the manifest,
    then propagates; ``--resume`` continues from there. Before anything is written, the data files
    of every experiment still to run are checked: one DataError names every missing data set.
    """
    check_plan_data(plan, data_dir)
    manifest = Manifest(
        root,
        scale=plan.scale,
        seed=plan.seed,
        only=plan.only,
        selection=[e.id for e in plan.experiments],
        resume=plan.resume,
    )
    outcomes = []
    for exp in plan.experiments:
        entry = plan.earlier.get(exp.id, {})
        outcome = _reused(root, exp, entry) or _run(
            exp,
            plan,
            entry,
            manifest,
            root=root,
            device=device or torch.device("cpu"),
            data_dir=data_dir,
            executor=executor,
        )
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes


def check_plan_data(plan: Plan, data_dir: Path | None) -> None:
    """The data files of every experiment of ``plan`` still to run are there, or one DataError
    names every missing data set (see :mod:`advgeom.runs.data_check`)."""
    check_data(
        ((exp.id, config_mod.resolve(exp.config, scale_overrides=exp.overrides(plan.scale)))
         for exp in plan.experiments if plan.earlier.get(exp.id, {}).get("status") != "done"),
        data_dir,
    )


def _reused(root: Path, exp: Experiment, entry: dict) -> Outcome | None:
    """The outcome of an earlier attempt's finished run of ``exp``, if it is intact."""
    if entry.get("status") != "done" or not entry.get("run_id"):
        return None
    results = RunDir(root / entry["run_id"]).read("results", default=None)
    if results is None or results.get("experiment") != exp.id:
        return None
    return Outcome(
        exp.id,
        exp.paper,
        "done",
        float(entry.get("seconds") or 0.0),
        entry["run_id"],
        results["claims"],
        reused=True,
    )


def _run(
    exp: Experiment,
    plan: Plan,
    entry: dict,
    manifest: Manifest,
    *,
    root: Path,
    device: torch.device,
    data_dir: Path | None,
    executor: Executor | None,
) -> Outcome:
    before = float(entry.get("seconds") or 0.0) if entry.get("status") != "done" else 0.0
    began = time.perf_counter()
    run_id = None
    try:
        request, run = _start_or_continue(
            exp, plan, entry, root=root, device=device, data_dir=data_dir, executor=executor
        )
        run_id = run.id
        manifest.record(
            exp.id, paper=exp.paper, run_id=run_id, status="running", seconds=before, error=None
        )
        results = runner.execute(request, run)
        outcome = Outcome(exp.id, exp.paper, "done", 0.0, run_id, results["claims"])
    except AdvgeomError as err:  # failed runs are recorded; the others still run
        outcome = Outcome(exp.id, exp.paper, "failed", 0.0, run_id, error=str(err))
    except KeyboardInterrupt:
        if run_id is not None:
            manifest.record(
                exp.id, status="interrupted", seconds=before + time.perf_counter() - began
            )
        raise
    outcome.seconds = before + time.perf_counter() - began
    manifest.record(
        exp.id,
        paper=exp.paper,
        run_id=run_id,
        status=outcome.status,
        seconds=outcome.seconds,
        error=outcome.error,
    )
    return outcome


def _start_or_continue(
    exp: Experiment,
    plan: Plan,
    entry: dict,
    *,
    root: Path,
    device: torch.device,
    data_dir: Path | None,
    executor: Executor | None,
) -> tuple[runner.RunRequest, RunDir]:
    """The earlier attempt's unfinished run of ``exp`` with its saved config, or a new run."""
    run_id = entry.get("run_id")
    if run_id and entry.get("status") != "done" and RunDir(root / run_id).exists():
        run, saved = runner.reopen(root, run_id, exp)
        request = runner.resumed_request(exp, saved, device=device, root=root,
                                         data_dir=data_dir, executor=executor)
        return request, run
    cfg = config_mod.resolve(exp.config, scale_overrides=exp.overrides(plan.scale))
    request = runner.RunRequest(
        experiment=exp,
        config=cfg,
        scale=plan.scale,
        seed=plan.seed,
        device=device,
        root=root,
        data_dir=data_dir,
        executor=executor,
    )
    return request, runner.start(request)


def write_summary(root: Path, outcomes: list[Outcome], *, plan: Plan) -> Path:
    """Write ``summary.json`` under ``root`` (atomically): counts of the reproduction claims
    overall, per paper and per run, and how many claims there are of each kind."""
    by_paper = {}
    for key in dict.fromkeys(o.paper for o in outcomes):
        mine = [o for o in outcomes if o.paper == key]
        by_paper[key] = {
            **claims_mod.count([c for o in mine for c in o.claims]),
            "experiments": len(mine),
            "failed": sum(o.status != "done" for o in mine),
        }
    data = {
        "scale": plan.scale,
        "seed": plan.seed,
        "only": list(plan.only),
        "written": now_iso(),
        "counts": claims_mod.count([c for o in outcomes for c in o.claims]),
        # Claims of each kind; only reproductions are in "counts" (the others are listed apart).
        "kinds": claims_mod.count_kinds([c for o in outcomes for c in o.claims]),
        "failed": sum(o.status != "done" for o in outcomes),
        "papers": by_paper,
        "experiments": [asdict(o) for o in outcomes],
    }
    return atomic_write_json(Path(root) / SUMMARY_NAME, data)


def outcomes_from_manifest(root: Path) -> tuple[dict, list[Outcome]]:
    """The manifest of the reproduction under ``root`` and the outcomes of its selection, read
    back from the run folders (``advgeom report`` rebuilds the report from these)."""
    manifest = read_manifest(root)
    outcomes = []
    for exp_id in manifest.get("selection") or list(manifest["experiments"]):
        entry = manifest["experiments"].get(exp_id, {})
        run = RunDir(Path(root) / entry["run_id"]) if entry.get("run_id") else None
        results = run.read("results", default=None) if run and run.exists() else None
        status = (
            run.read("run")["status"] if run and run.exists() else entry.get("status", "missing")
        )
        outcomes.append(
            Outcome(
                exp_id,
                entry.get("paper", ""),
                status,
                float(entry.get("seconds") or 0.0),
                entry.get("run_id"),
                (results or {}).get("claims") or [],
                entry.get("error"),
            )
        )
    return manifest, outcomes
