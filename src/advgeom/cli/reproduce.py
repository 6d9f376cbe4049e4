"""``advgeom reproduce`` (run every experiment, then write the report) and ``advgeom report``."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click

from advgeom import progress
from advgeom.cli.common import (
    data_dir_option,
    device_option,
    executor_options,
    out_console,
    out_option,
    say,
    scale_option,
    seconds,
    seed_option,
)
from advgeom.cli.prepare import check_data_dir
from advgeom.devices import resolve_device
from advgeom.report import reproduction_report, write_report
from advgeom.runs import claims as claims_mod
from advgeom.runs import executors, reproduce
from advgeom.runs.registry import PAPERS, all_experiments

REPORT_DIR = "report"


@click.command("reproduce")
@scale_option
@out_option
@click.option(
    "--only",
    multiple=True,
    metavar="PAPER",
    help=f"Only the experiments of these papers (repeatable or comma-separated): "
    f"{', '.join(PAPERS)}.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the reproduction under --out: finished experiments are reused, an "
    "unfinished one continues from its measured points.",
)
@seed_option
@device_option
@data_dir_option
@executor_options
def reproduce_command(
    scale, out, only, resume, seed, device, data_dir, executor_name, address, gpus_per_task,
    cpus_per_task
) -> None:
    """Run every registered experiment, then write the report (DIR/report/index.html).

    Prints the time each experiment took; a failed experiment does not stop the others (exit
    code 1 at the end). Ctrl-C stops cleanly: continue with --resume (with either executor).
    The experiments run one after another; with --executor ray the points of each one's sweeps
    are Ray tasks, on this machine or on the cluster of --address (one Ray session for all).
    """
    plan = reproduce.plan(
        all_experiments(), root=out, scale=scale, seed=seed, only=only, resume=resume
    )
    device, data_dir = resolve_device(device), check_data_dir(data_dir)
    reproduce.check_plan_data(plan, data_dir)  # every missing data set named before any work
    executor = executors.create(executor_name, address=address, cpus_per_task=cpus_per_task,
                                gpus_per_task=gpus_per_task, device=device)
    with executor:
        say(
            f"{'resuming' if resume else 'reproducing'} {len(plan.experiments)} experiments at "
            f"scale {plan.scale} on {device}{_ray_note(executor)} -> {out}"
        )
        outcomes = _reproduce(plan, out, device, data_dir, executor)
    reproduce.write_summary(out, outcomes, plan=plan)
    index = _write_report(out, outcomes, scale=plan.scale, seed=plan.seed, papers=plan.only)
    _print_totals(outcomes, index)
    if any(o.status != "done" for o in outcomes):
        raise click.exceptions.Exit(1)


@click.command("report")
@out_option
def report_command(out: Path) -> None:
    """Rewrite the report of the last reproduction under --out from its saved runs."""
    manifest, outcomes = reproduce.outcomes_from_manifest(out)
    index = _write_report(
        out,
        outcomes,
        scale=manifest["scale"],
        seed=manifest["seed"],
        papers=manifest.get("only") or (),
    )
    _print_totals(outcomes, index)


def _reproduce(plan, out: Path, device, data_dir, executor) -> list[reproduce.Outcome]:
    # One bar for the whole reproduction, counting points as they finish (computed or reused).
    with progress.task(f"reproduce ({plan.scale}) points", total=None) as bar:
        executor.on_point = bar.advance
        try:
            return reproduce.reproduce(
                plan,
                root=out,
                device=device,
                data_dir=data_dir,
                on_done=lambda o: say(_outcome_line(o)),
                executor=executor,
            )
        except KeyboardInterrupt:
            print(
                "interrupted: finished experiments and measured points are kept; "
                f"continue with 'advgeom reproduce --out {out} --resume'",
                file=sys.stderr,
            )
            raise click.exceptions.Exit(130) from None


def _ray_note(executor: executors.Executor) -> str:
    return " (points as Ray tasks)" if executor.name == "ray" else ""


def _outcome_line(o: reproduce.Outcome) -> str:
    counts = claims_mod.count(o.claims)
    tally = f"{counts['claims_agree']}/{counts['claims_total']} claims reproduced"
    if o.reused:
        return (
            f"{o.experiment}: done earlier in {seconds(o.seconds)} (run {o.run_id}, reused), "
            + tally
        )
    return f"{o.experiment}: {o.status} in {seconds(o.seconds)}, {tally}" + (
        f" ({o.error})" if o.error else ""
    )


def _write_report(
    root: Path, outcomes: list[reproduce.Outcome], *, scale: str, seed: int, papers
) -> Path:
    report = reproduction_report(
        root, [asdict(o) for o in outcomes], scale=scale, seed=seed, papers=tuple(papers)
    )
    return write_report(report, Path(root) / REPORT_DIR)


def _print_totals(outcomes: list[reproduce.Outcome], index: Path) -> None:
    claims = [c for o in outcomes for c in o.claims]
    counts, kinds = claims_mod.count(claims), claims_mod.count_kinds(claims)
    failed = sum(o.status != "done" for o in outcomes)
    words = {"construction": "construction checks", "beyond": "beyond the paper"}
    apart = " and ".join(f"{kinds[k]} {words[k]}" for k in claims_mod.APART if kinds[k])
    out_console.print(
        f"{counts['claims_agree']} claims reproduced, {counts['claims_disagree']} differ, "
        f"{counts['claims_unmeasured']} not measurable at this scale"
        + (f"; {apart} listed apart" if apart else "")
        + f" ({len(outcomes)} experiments, {failed} not completed, "
        f"{seconds(sum(o.seconds for o in outcomes))})",
        highlight=False,
    )
    out_console.print(f"report: {index}", highlight=False)
