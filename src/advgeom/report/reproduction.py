"""The report of a reproduction, read from the saved run folders.

Everything comes from what the runs wrote (``results.json``, ``config.json``,
``environment.json``, ``figures/``); the registry supplies only the papers' names, the
experiments' titles and their Config defaults (the paper's settings), against which each run's
config is compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from advgeom.errors import AdvgeomError
from advgeom.report.model import Block, Figure, Report, Section, Setting, figure_files
from advgeom.runs import config as config_mod
from advgeom.runs import registry
from advgeom.store.rundir import RunDir, now_iso

SCALE_WORDS = {
    "smoke": "smoke: seconds per experiment, too small for most effects (claims say so)",
    "default": "default: minutes on a laptop CPU; each experiment lists the settings it reduces",
    "paper": "paper: the authors' settings",
}
_MISSING = object()


def reproduction_report(
    root: Path,
    outcomes: Sequence[Mapping[str, Any]],
    *,
    scale: str,
    seed: int,
    papers: Sequence[str] = (),
) -> Report:
    """Build the report of a reproduction.

    Args:
        root: the runs root holding the run folders.
        outcomes: one mapping per experiment with ``experiment``, ``paper``, ``status``,
            ``seconds``, ``run_id`` and ``error`` (as in ``summary.json``).
        scale, seed: what the reproduction ran with.
        papers: the paper keys to give a section (all of :data:`registry.PAPERS` when empty).
    """
    root = Path(root)
    blocks = [(o["paper"], experiment_block(root, o)) for o in outcomes]
    sections = []
    for key, paper in registry.PAPERS.items():
        if papers and key not in papers:
            continue
        sections.append(
            Section(
                key=key,
                heading=paper.title,
                byline=paper.authors,
                blocks=[b for p, b in blocks if p == key],
                empty_note="No experiment of this paper is registered in this version of advgeom.",
            )
        )
    runs = [RunDir(root / o["run_id"]) for o in outcomes if o.get("run_id")]
    facts = [
        ("scale", SCALE_WORDS.get(scale, scale)),
        ("seed", str(seed)),
        (
            "experiments",
            f"{_count(len(outcomes), 'experiment')} of "
            f"{_count(sum(bool(s.blocks) for s in sections), 'paper')}",
        ),
    ]
    env = merge_environments([r.read("environment", default={}) for r in runs if r.exists()])
    return Report(
        title=f"advgeom reproduction ({scale} scale)",
        facts=facts,
        sections=sections,
        environment=env,
        generated=now_iso(),
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def experiment_block(root: Path, outcome: Mapping[str, Any]) -> Block:
    """One experiment's block: its run's claims, figures and settings, or why it has none."""
    exp_id = outcome["experiment"]
    exp = _registered(exp_id)
    title = exp.title if exp else exp_id
    run = RunDir(root / outcome["run_id"]) if outcome.get("run_id") else None
    results = saved = None
    if run is not None and run.exists():
        results = run.read("results", default=None)
        saved = run.read("config", default=None)
    used = (results or {}).get("config") or (saved or {}).get("config")
    settings, note = config_differences(exp, used)
    status, error = outcome["status"], outcome.get("error")
    if status == "done" and results is None:
        status, error = "missing", "the run folder or its results.json is missing"
    return Block(
        id=exp_id,
        title=title,
        status=status,
        claims=list((results or {}).get("claims") or outcome.get("claims") or []),
        figures=figures_of(run, results, title) if results else [],
        settings=settings,
        seconds=outcome.get("seconds"),
        run_id=outcome.get("run_id"),
        scale=(results or saved or {}).get("scale"),
        error=error,
        note=note,
    )


def _registered(exp_id: str) -> registry.Experiment | None:
    try:
        return registry.get(exp_id)
    except AdvgeomError:
        return None


def figures_of(run: RunDir, results: Mapping[str, Any], title: str) -> list[Figure]:
    """The run's saved figures, one per name with its formats, captioned by the experiment."""
    by_name = figure_files(run.path, results.get("figures") or [])
    several = len(by_name) > 1
    return [
        Figure(name, files, f"{title} ({name})" if several else title)
        for name, files in by_name.items()
    ]


def config_differences(
    exp: registry.Experiment | None, used: Mapping[str, Any] | None
) -> tuple[list[Setting], str | None]:
    """The fields of ``used`` that differ from the Config defaults (the paper's settings)."""
    if used is None:
        return [], "no config was saved for this run"
    if exp is None:
        return (
            [],
            "the experiment is not registered in this version: its paper settings are unknown",
        )
    try:
        paper = config_mod.to_dict(exp.config())
    except (AdvgeomError, TypeError) as err:
        return [], f"the paper's settings could not be built ({err})"
    diffs = [Setting(k, paper.get(k), v) for k, v in used.items() if paper.get(k, _MISSING) != v]
    diffs += [Setting(k, v, None) for k, v in paper.items() if k not in used]
    return diffs, None if diffs else "Settings: the paper's (no field differs)."


def merge_environments(envs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One environment for many runs: a value shared by all, or the distinct values listed."""
    envs = [e for e in envs if e]
    if not envs:
        return {}
    merged: dict[str, Any] = {}
    for key in dict.fromkeys(k for e in envs for k in e):
        if key in ("started", "ended"):
            continue
        if key == "packages":
            names = dict.fromkeys(n for e in envs for n in e.get("packages") or {})
            merged["packages"] = {
                n: _one(e.get("packages", {}).get(n) for e in envs) for n in names
            }
            continue
        merged[key] = _one(e.get(key) for e in envs)
    started = [e["started"] for e in envs if e.get("started")]
    ended = [e["ended"] for e in envs if e.get("ended")]
    if started:
        merged["first run started"] = min(started)
    if ended:
        merged["last run ended"] = max(ended)
    return merged


def _one(values) -> Any:
    distinct = list(dict.fromkeys(json.dumps(v, sort_keys=True) for v in values))
    if len(distinct) == 1:
        return json.loads(distinct[0])
    return "; ".join(str(json.loads(v)) for v in distinct) + " (differs between runs)"
