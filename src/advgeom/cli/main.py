"""``advgeom``: list, run, inspect and reproduce the experiments; audit a user's model.

Every error a user can cause (an unknown experiment, a bad ``--set``, a missing data folder) ends
in one ``error: ...`` line on stderr and exit code 2, without a traceback. A bug in an experiment
ends its run as failed, with the trace in the run's log, and exit code 1 (so does an audit
instrument that fails on the user's model, writing nothing). Ctrl-C marks the run interrupted
(exit 130); ``--resume RUN_ID`` continues it (``reproduce --resume`` a whole reproduction).

``run`` and ``reproduce`` take ``--executor local|ray`` (with ``--address``, ``--gpus-per-task``,
``--cpus-per-task`` for Ray): where the points of the sweeps are computed
(:mod:`advgeom.runs.executors`); Ray starts, or the cluster is joined, before anything is written.

The commands live in modules of their own: ``reproduce``/``report`` in :mod:`.reproduce`,
``audit`` in :mod:`.audit`; shared options and consoles in :mod:`.common`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from advgeom import __version__, progress
from advgeom.audit import AuditFailed
from advgeom.cli import render
from advgeom.cli.audit import audit_command
from advgeom.cli.common import (
    data_dir_option,
    device_option,
    err_console,
    executor_options,
    out_console,
    out_option,
    say,
    scale_option,
    seed_option,
    state,
)
from advgeom.cli.prepare import check_data_dir, prepare_run, resolve_new_run
from advgeom.cli.reproduce import report_command, reproduce_command
from advgeom.devices import resolve_device
from advgeom.errors import AdvgeomError
from advgeom.runs import executors, runner
from advgeom.runs.registry import all_experiments, get
from advgeom.store.atomic import to_json
from advgeom.store.catalog import Catalog
from advgeom.store.rundir import RunDir


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="advgeom")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars and fewer messages.")
def cli(quiet: bool) -> None:
    """Measure and reproduce the geometry of adversarial examples.

    Start with 'advgeom list', run one experiment with 'advgeom run NAME', or all of them with
    'advgeom reproduce' (then open runs/report/index.html). 'advgeom audit' measures your own
    model.
    """
    progress.set_enabled(not quiet)
    state["quiet"] = quiet


@cli.command("list")
def list_experiments() -> None:
    """List the registered experiments, grouped by paper, with their scales."""
    render.print_all(out_console, render.experiments_table(all_experiments()))


@cli.command()
@click.argument("name")
@scale_option
@seed_option
@device_option
@out_option
@data_dir_option
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config field (repeatable; the value is a Python literal).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the results JSON on stdout (and nothing else on stdout).",
)
@click.option(
    "--resume",
    metavar="RUN_ID",
    default=None,
    help="Continue an interrupted or failed run of NAME, reusing its finished points.",
)
@executor_options
def run(name, scale, seed, device, out, data_dir, assignments, as_json, resume, executor_name,
        address, gpus_per_task, cpus_per_task) -> None:
    """Run the experiment NAME (e.g. spheres.sampling); write results, figures and a catalog row.

    With --executor ray the points of its sweeps are Ray tasks (see 'advgeom reproduce --help').
    """
    exp, device = get(name), resolve_device(device)
    executor = executors.create(executor_name, address=address, cpus_per_task=cpus_per_task,
                                gpus_per_task=gpus_per_task, device=device)
    if resume is None:  # a bad --set or missing data fails at once, not after Ray has started
        resolve_new_run(exp, scale=scale, assignments=assignments,
                        data_dir=check_data_dir(data_dir))
    # Ray starts (or the cluster is joined) before the run folder exists: a bad --address
    # leaves no run behind.
    with executor:
        _run(exp, executor, scale=scale, seed=seed, device=device, out=out, data_dir=data_dir,
             assignments=assignments, as_json=as_json, resume=resume)


def _run(exp, executor, *, scale, seed, device, out, data_dir, assignments, as_json,
         resume) -> None:
    request, run_dir = prepare_run(
        exp,
        scale=scale,
        seed=seed,
        device=device,
        root=out,
        data_dir=check_data_dir(data_dir),
        assignments=assignments,
        resume=resume,
        executor=executor,
    )
    say(
        f"{'resuming' if resume else 'running'} {exp.id} at scale {request.scale} "
        f"on {request.device}{' (points as Ray tasks)' if executor.name == 'ray' else ''} "
        f"-> {run_dir.path}"
    )
    try:
        with progress.task(f"{exp.id} points", total=None) as bar:
            executor.on_point = bar.advance
            results = runner.execute(request, run_dir)
    except KeyboardInterrupt:
        err_console.print(
            f"interrupted: run {run_dir.id} kept its finished points; continue with "
            f"'advgeom run {exp.id} --out {out} --resume {run_dir.id}'",
            highlight=False,
        )
        raise click.exceptions.Exit(130) from None
    if as_json:
        sys.stdout.write(to_json(results))
        return
    out_console.print(render.claims_table(results["claims"], title=f"{exp.id} ({request.scale})"))
    out_console.print(f"results: {run_dir.results_path}", highlight=False)


@cli.command()
@out_option
def runs(out: Path) -> None:
    """Show the catalog of runs under the runs root."""
    path = out / runner.CATALOG_NAME
    if not path.is_file():
        out_console.print(f"no runs under {out} yet (run 'advgeom run NAME --out {out}')")
        return
    catalog = Catalog(path)
    runner.mark_stale_runs(out, catalog)
    out_console.print(render.runs_table(catalog.list()))


@cli.command()
@click.argument("run_id")
@out_option
@click.option("--json", "as_json", is_flag=True, help="Print the run's results JSON.")
def show(run_id: str, out: Path, as_json: bool) -> None:
    """Show one run: its config, claims and metrics."""
    run_dir = RunDir(out / run_id)
    if not run_dir.exists():
        raise AdvgeomError(f"no run {run_id!r} under {out} (see 'advgeom runs --out {out}')")
    results = run_dir.read("results", default=None)
    if as_json:
        sys.stdout.write(to_json(results if results is not None else run_dir.read("run")))
        return
    render.print_all(out_console, render.run_details(run_dir, results))


cli.add_command(reproduce_command)
cli.add_command(report_command)
cli.add_command(audit_command)


def _error(message: str) -> None:
    # click.echo, not rich: an error is one line whatever the terminal width.
    click.echo(f"error: {message}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map errors to exit codes (2: the user's input; 1: a failure)."""
    try:
        code = cli.main(args=argv, prog_name="advgeom", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as err:
        click.echo(err.ctx.get_help() if err.ctx else "")
        return 0
    except click.UsageError as err:
        command = err.ctx.command_path if err.ctx else "advgeom"
        _error(f"{err.format_message()} (see '{command} --help')")
        return 2
    except (runner.RunFailed, AuditFailed) as err:
        _error(str(err))
        return 1
    except AdvgeomError as err:
        _error(str(err))
        return 2
    except click.exceptions.Abort:
        _error("interrupted")
        return 130
    except click.exceptions.Exit as err:
        return err.exit_code
    # Without standalone mode click returns a command's Exit code instead of raising it.
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
