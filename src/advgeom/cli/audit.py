"""``advgeom audit``: the toolkit's instruments on a user's own model, with a report."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from advgeom import progress
from advgeom.attacks.evaluate import PROTOCOLS
from advgeom.audit import (
    Settings,
    check_out,
    describe_audit,
    load_model,
    prepare,
    run_instruments,
    write_audit,
)
from advgeom.audit import run as audit_run
from advgeom.cli import render
from advgeom.cli.common import (
    PATH,
    data_dir_option,
    device_option,
    out_console,
    say,
    seconds,
    seed_option,
)
from advgeom.cli.prepare import check_data_dir
from advgeom.data import DATASETS
from advgeom.devices import resolve_device
from advgeom.errors import InputError


@click.command("audit")
@click.option(
    "--model",
    "model_spec",
    required=True,
    metavar="MODULE:FACTORY",
    help="A callable returning your nn.Module: a dotted module (found from the current "
    "folder too) or a .py file, e.g. mynets:build or models/net.py:make.",
)
@click.option(
    "--weights",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A .safetensors file of the model's state_dict (no pickle checkpoints).",
)
@click.option(
    "--data",
    "data_name",
    required=True,
    metavar="NAME",
    help=f"Data set whose test split is measured: {', '.join(DATASETS)}.",
)
@data_dir_option
@click.option(
    "--out",
    type=PATH,
    default=Path("audit"),
    show_default=True,
    help="Folder for results.json, figures/ and report/ (new, empty, or an earlier "
    "audit's, which is replaced).",
)
@device_option
@click.option(
    "--samples",
    type=int,
    default=256,
    show_default=True,
    help="Test examples measured (a seeded random subset).",
)
@click.option(
    "--eps",
    "eps_values",
    multiple=True,
    metavar="EPS",
    help="l_inf radius (repeatable or comma-separated); l2 radii are EPS * sqrt(d). "
    "[default: 0, .005, .01, .02, .05, .1, .2, .3 times the data's range]",
)
@click.option(
    "--protocol",
    type=click.Choice(tuple(PROTOCOLS)),
    default="standard",
    show_default=True,
    help="Robust accuracy's attack ensemble: standard (APGD-CE, APGD-T, FAB-T, Square, as "
    "AutoAttack) or fast (APGD-CE and APGD-T on 3 targets: quicker, for a first look).",
)
@click.option(
    "--steps", type=int, default=50, show_default=True, help="PGD steps of the PGD curve."
)
@seed_option
def audit_command(
    model_spec, weights, data_name, data_dir, out, device, samples, eps_values, protocol, steps,
    seed,
) -> None:
    """Measure your own model: clean and robust accuracy, minimal distances, gradient norms,
    and sanity checks of those numbers.

    Writes OUT/results.json, OUT/figures/ and OUT/report/index.html (one self-contained file)
    with report.md. Every input is checked before anything is measured; an interrupted or failed
    audit writes nothing.
    """
    settings = Settings(
        data=data_name, samples=samples, eps=parse_eps(eps_values), steps=steps, seed=seed or 0,
        protocol=protocol,
    )
    device, data_dir = resolve_device(device), check_data_dir(data_dir)
    check_out(out)
    model = load_model(model_spec, weights=weights)
    ctx = prepare(model, settings, device=device, data_dir=data_dir)
    say(
        f"auditing {model_spec} on {len(ctx.x)} {data_name} test examples (d = {ctx.d}) "
        f"on {device} -> {out}"
    )
    with progress.task("audit", total=len(audit_run.INSTRUMENTS)) as bar:

        def done(instrument, took: float) -> None:
            bar.advance()
            say(f"{instrument.id}: {seconds(took)}")

        try:
            results = run_instruments(ctx, on_done=done)
        except KeyboardInterrupt:
            print("interrupted: nothing was written", file=sys.stderr)
            raise click.exceptions.Exit(130) from None
    header = describe_audit(ctx, model=model_spec, weights=weights, device=str(device))
    index = write_audit(out, header, results)
    out_console.print(render.findings_table(results, title=f"audit of {model_spec}"))
    out_console.print(f"report: {index}", highlight=False)


def parse_eps(values: tuple[str, ...]) -> tuple[float, ...] | None:
    """``--eps`` values (repeatable, comma-separated) as floats; None when not given."""
    if not values:
        return None
    radii = []
    for text in (t.strip() for v in values for t in v.split(",")):
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            raise InputError(
                f"--eps must be numbers >= 0, e.g. --eps 0.01,0.03 (got {text!r})"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise InputError(f"--eps must be finite numbers >= 0 (got {text})")
        radii.append(value)
    if not radii:
        raise InputError("--eps needs at least one radius, e.g. --eps 0.01,0.03")
    return tuple(radii)
