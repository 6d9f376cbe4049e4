"""Turning the ``run`` command's options into a run request and folder (new or resumed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from advgeom.errors import InputError
from advgeom.runs import config, runner
from advgeom.runs.data_check import check_data
from advgeom.runs.executors import Executor
from advgeom.runs.registry import Experiment
from advgeom.store.rundir import RunDir


def prepare_run(
    exp: Experiment,
    *,
    scale: str | None,
    seed: int | None,
    device: torch.device,
    root: Path,
    data_dir: Path | None,
    assignments: Sequence[str],
    resume: str | None,
    executor: Executor | None = None,
) -> tuple[runner.RunRequest, RunDir]:
    """A new run (config resolved, folder and catalog row created), or the run to resume.

    A resumed run keeps its saved config, scale and seed: changing them would mix points measured
    under two configs in one result, so asking for that is an error. The data files the config
    names are checked first (:mod:`advgeom.runs.data_check`).
    """
    if resume is None:
        scale, cfg = resolve_new_run(exp, scale=scale, assignments=assignments, data_dir=data_dir)
        request = runner.RunRequest(
            experiment=exp,
            config=cfg,
            scale=scale,
            seed=seed or 0,
            device=device,
            root=root,
            data_dir=data_dir,
            executor=executor,
        )
        return request, runner.start(request)
    run_dir, saved = runner.reopen(root, resume, exp)
    changed = (
        bool(assignments)
        or scale not in (None, saved["scale"])
        or seed not in (None, saved["seed"])
    )
    if changed:
        raise InputError(
            f"--resume continues run {resume} with its saved config (scale "
            f"{saved['scale']}, seed {saved['seed']}); drop --set, --scale and --seed"
        )
    request = runner.resumed_request(exp, saved, device=device, root=root, data_dir=data_dir,
                                     executor=executor)
    check_data([(exp.id, request.config)], request.data_dir)
    return request, run_dir


def resolve_new_run(
    exp: Experiment, *, scale: str | None, assignments: Sequence[str], data_dir: Path | None
) -> tuple[str, object]:
    """The scale and config of a new run, with the data files it names checked: every error a
    user's ``--set``, ``--scale`` or data can cause, before a run folder (or Ray) exists."""
    scale = scale or "default"
    cfg = config.resolve(exp.config, scale_overrides=exp.overrides(scale), assignments=assignments)
    check_data([(exp.id, cfg)], data_dir)
    return scale, cfg


def check_data_dir(data_dir: Path | None) -> Path | None:
    """``--data-dir`` must name an existing folder."""
    if data_dir is not None and not data_dir.is_dir():
        raise InputError(
            f"--data-dir {data_dir}: no such folder; name the folder that holds the data files"
        )
    return data_dir
