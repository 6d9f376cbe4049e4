"""Running every registered experiment at one scale, and the summary of what reproduced.

One failing experiment does not stop the others: its run is marked failed, the summary says so,
and the rest still run. (The full HTML report builds on this summary.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from advgeom.errors import AdvgeomError
from advgeom.experiments import claims as claims_mod
from advgeom.experiments import config as config_mod
from advgeom.experiments import runner
from advgeom.experiments.registry import PAPERS, Experiment
from advgeom.store.atomic import atomic_write_json, atomic_write_text
from advgeom.store.rundir import now_iso


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


def reproduce(
    experiments: list[Experiment],
    *,
    scale: str,
    root: Path,
    seed: int = 0,
    device: torch.device | None = None,
    data_dir: Path | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run each experiment at ``scale`` into ``root``; return one outcome per experiment."""
    outcomes = []
    for exp in experiments:
        began = time.perf_counter()
        cfg = config_mod.resolve(exp.config, scale_overrides=exp.overrides(scale))
        request = runner.RunRequest(experiment=exp, config=cfg, scale=scale, seed=seed,
                                    device=device or torch.device("cpu"), root=root,
                                    data_dir=data_dir)
        run = runner.start(request)
        try:
            results = runner.execute(request, run)
            outcome = Outcome(exp.id, exp.paper, "done", 0.0, run.id, results["claims"])
        except AdvgeomError as err:  # failed runs are recorded; the others still run
            outcome = Outcome(exp.id, exp.paper, "failed", 0.0, run.id, error=str(err))
        outcome.seconds = time.perf_counter() - began
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes


def write_summary(root: Path, outcomes: list[Outcome], *, scale: str) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``summary.md`` under ``root`` (atomically); return their paths."""
    all_claims = [c for o in outcomes for c in o.claims]
    data = {
        "scale": scale,
        "written": now_iso(),
        "counts": claims_mod.count(all_claims),
        "experiments": [asdict(o) for o in outcomes],
    }
    json_path = atomic_write_json(root / "summary.json", data)
    md_path = atomic_write_text(root / "summary.md", summary_markdown(outcomes, scale=scale))
    return md_path, json_path


def summary_markdown(outcomes: list[Outcome], *, scale: str) -> str:
    """A readable summary: per experiment its status, time and claims, paper value beside ours."""
    counts = claims_mod.count([c for o in outcomes for c in o.claims])
    lines = [
        f"# advgeom reproduction — scale `{scale}`",
        "",
        f"{counts['claims_agree']} claims reproduced, {counts['claims_disagree']} differ, "
        f"{counts['claims_unmeasured']} not measurable at this scale "
        f"({len(outcomes)} experiments, {sum(o.status == 'failed' for o in outcomes)} failed).",
        "",
    ]
    for o in outcomes:
        paper = PAPERS[o.paper]
        lines += [f"## {o.experiment} — {paper.title}", "",
                  f"Run `{o.run_id}`: {o.status} in {o.seconds:.1f} s.", ""]
        if o.error:
            lines += [f"Error: {o.error}", ""]
        if o.claims:
            lines += ["| claim | paper | ours | verdict | note |", "|---|---|---|---|---|"]
            lines += [
                f"| {c['id']} | {_cell(c['paper_value'])} | {_cell(c['measured'])} | "
                f"{claims_mod.verdict(c['agrees'])} | {_cell(c['note'])} |"
                for c in o.claims
            ]
            lines.append("")
    return "\n".join(lines)


def _cell(value: object) -> str:
    return claims_mod.format_value(value).replace("|", "\\|").replace("\n", " ")
