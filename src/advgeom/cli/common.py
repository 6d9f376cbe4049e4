"""What the commands share: the consoles, ``--quiet``, and the common options."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console

from advgeom.runs.config import SCALES
from advgeom.runs.executors import EXECUTORS

# Piped output (files, CI logs) gets a wide fixed width instead of rich's 80 columns, so tables
# are not squeezed into ellipses.
out_console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
state = {"quiet": False}

PATH = click.Path(path_type=Path, file_okay=False)
out_option = click.option(
    "--out",
    type=PATH,
    default=Path("runs"),
    show_default=True,
    help="Runs root: each run goes to DIR/<run-id>/, the catalog is DIR/catalog.sqlite.",
)
scale_option = click.option(
    "--scale",
    type=click.Choice(SCALES),
    default=None,
    help="smoke (seconds), default (minutes on a laptop CPU) or paper "
    "(the authors' settings, for a GPU).  [default: default]",
)
seed_option = click.option(
    "--seed", type=int, default=None, help="Seed all randomness derives from.  [default: 0]"
)
device_option = click.option(
    "--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:K."
)
data_dir_option = click.option(
    "--data-dir",
    type=PATH,
    default=None,
    help="Folder holding MNIST, CIFAR or Mini-ImageNet files (else $ADVGEOM_DATA, then the "
    "download cache).",
)

_executor_options = (
    click.option(
        "--executor",
        "executor_name",
        type=click.Choice(EXECUTORS),
        default="local",
        show_default=True,
        help="Where the points of a sweep are computed: in this process, or as Ray tasks (a "
        "local Ray instance, or the cluster of --address).",
    ),
    click.option(
        "--address",
        default=None,
        metavar="HOST:PORT",
        help="The Ray cluster to join (what 'ray start --head' printed; else $RAY_ADDRESS, "
        "else a local Ray instance). Needs --executor ray.",
    ),
    click.option(
        "--gpus-per-task",
        type=click.FloatRange(min=0),
        default=None,
        metavar="G",
        help="GPUs each Ray task asks for (fractions share one).  [default: 1 with a CUDA "
        "--device, else 0]",
    ),
    click.option(
        "--cpus-per-task",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        metavar="C",
        help="CPUs each Ray task asks for.  [default: 1]",
    ),
)


def executor_options(command: Callable) -> Callable:
    """``--executor``, ``--address``, ``--gpus-per-task``, ``--cpus-per-task``."""
    for option in reversed(_executor_options):
        command = option(command)
    return command


def say(message: str) -> None:
    """A message for people on stderr (nothing with ``--quiet``).

    Plain ``print`` to ``sys.stderr``: while a progress bar is live, rich puts a proxy there that
    prints above the bar; another rich Console, or click.echo (which writes to the underlying
    binary stream), would write through the bar's line.
    """
    if not state["quiet"]:
        print(message, file=sys.stderr, flush=True)


def seconds(value: float) -> str:
    """``3.2 s`` or ``4.5 min``."""
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"
