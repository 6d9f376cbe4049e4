"""``discontinuity.injectivity``: a trained classifier separates every pair of its inputs (d_m > 0).

Paper: Badger, "Adversarial Examples from Dimensional Invariance" (Table 1 and Sec. 4). The
classifier 784-1000-500-250-125-100 (ReLU; Adam 1e-4, batch 512, 50 epochs) is trained per data
set, and the minimum pairwise L1 distance between its outputs over the training set, d_m (Eq. 1),
is computed before and after training. Table 1: Fashion-MNIST 5.35, MNIST 0.92, CIFAR-10 0.85,
CIFAR-100 0.016 (duplicated inputs removed); Sec. 4: d_m = 3.0e-2 before training, "increased a
hundred-fold during training". d_m of the inputs themselves is given beside it, and exact
duplicate inputs are counted and left out.

d_m is judged against the rounding error of the float32 outputs it is computed from, and Table 1
only on a whole training split trained for the paper's 50 epochs (see
:mod:`._injectivity_claims`).

The paper scale runs Table 1's four data sets from ``--data-dir`` and refuses to skip any. The
default scale runs on the bundled ``digits`` (no paper value; inputs 8x8) and on every data set of
Table 1 whose files are found (not downloaded; 400 steps, first 10,000 images: Table 1 is then
reported but not judged); ``--set datasets="('mnist',)"`` picks them explicitly.
Run: ``advgeom run discontinuity.injectivity [--scale smoke|default|paper]``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from advgeom import data
from advgeom.errors import DataError, InputError, check_choice, check_fields, check_positive_fields
from advgeom.experiments.badger2023 import _injectivity_claims as _claims
from advgeom.experiments.badger2023._injectivity_claims import TABLE1
from advgeom.experiments.badger2023._train import accuracy, steps_for, train_classifier
from advgeom.metrics.expansion import as_dtype
from advgeom.metrics.injectivity import DEFAULT_CHUNK, min_input_distance, min_output_distance
from advgeom.models.funnel import PAPER_HIDDEN, PAPER_OUT, FunnelClassifier
from advgeom.models.mlp import initialise
from advgeom.plotting import new_figure
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10", "cifar100")


@dataclass(frozen=True)
class Config:
    """Paper settings: Table 1's four data sets, the authors' classifier and training."""

    datasets: tuple[str, ...] = ("fashion-mnist", "mnist", "cifar10", "cifar100")
    hidden: tuple[int, ...] = PAPER_HIDDEN
    out_features: int = PAPER_OUT
    epochs: float = 50.0
    batch_size: int = 512
    lr: float = 1e-4
    max_examples: int = 0  # 0: the whole training split (the paper scans all of it)
    max_steps: int = 0  # 0: no cap on the Adam steps of epochs x N / batch_size
    skip_missing: bool = False  # skip (not download) missing data sets; never at paper scale
    input_distance: bool = True  # also d_m of the inputs (costly for 60,000 x 784 on a CPU)
    chunk: int = DEFAULT_CHUNK
    tolerance: float = 3.0  # Table 1 and the untrained d_m: agree within this factor

    def __post_init__(self) -> None:
        if not self.datasets or len(set(self.datasets)) != len(self.datasets):
            raise InputError(f"datasets must be distinct names (got {self.datasets})")
        for name in self.datasets:
            check_choice("datasets", name, DATASETS)
        check_fields(self, ("out_features", "batch_size", "chunk"))
        if not self.hidden or min(self.hidden) < 1:
            raise InputError(f"hidden must be positive widths (got {self.hidden})")
        check_fields(self, ("max_examples", "max_steps"), minimum=0)
        check_positive_fields(self, ("epochs", "lr"))
        if not self.tolerance > 1:
            raise InputError(f"tolerance must be > 1 (got {self.tolerance})")


def _load(name: str, split: str, cfg: Config, ctx: RunContext) -> tuple:
    opts = {"download": False} if cfg.skip_missing and name != "digits" else {}
    x, y = data.load(name, root=ctx.data_dir, split=split, **opts)
    n_full = len(x)
    if cfg.max_examples and split == "train":
        x, y = x[: cfg.max_examples], y[: cfg.max_examples]
    return x.to(ctx.device), y.to(ctx.device), n_full


def present(name: str, ctx: RunContext) -> bool:
    """Whether the files of ``name`` are found without downloading (digits always are)."""
    if name == "digits":
        return True
    try:
        for split in ("train", "test"):
            data.load(name, root=ctx.data_dir, split=split, download=False)
    except DataError:
        return False
    return True


@torch.no_grad()
def rounding_error(model: nn.Module, x: Tensor, *, batch_size: int = 1024) -> float:
    """The largest L1 difference between an output computed in float32 and in float64.

    x: (N, *input_shape). Two outputs closer than twice this are not told apart by the float32
    arithmetic d_m is computed in, so it is the scale d_m must be compared with.
    """
    wide = as_dtype(model, torch.float64)
    model.eval()
    wide.eval()
    worst = 0.0
    for k in range(0, len(x), batch_size):
        xb = x[k : k + batch_size]
        diff = model(xb).flatten(1).double() - wide(xb.double()).flatten(1)
        worst = max(worst, float(diff.abs().sum(1).max()))
    return worst


def measure_dataset(name: str, cfg: Config, ctx: RunContext) -> dict:
    """Train one classifier on ``name``; d_m of its outputs before and after, and of the inputs."""
    x, y, n_full = _load(name, "train", cfg, ctx)
    x_test, y_test, _ = _load(name, "test", cfg, ctx)
    in_features = int(np.prod(x.shape[1:]))
    model = FunnelClassifier(
        in_features=in_features,
        hidden=cfg.hidden,
        out_features=max(cfg.out_features, int(y.max()) + 1),
    )
    initialise(model, ctx.generator("init", name)).to(ctx.device)
    start = time.perf_counter()
    before = min_output_distance(model, x, chunk=cfg.chunk)
    steps = steps_for(cfg.epochs, len(x), cfg.batch_size)
    steps = min(steps, cfg.max_steps) if cfg.max_steps else steps
    trace = train_classifier(
        model,
        x,
        y,
        steps=steps,
        generator=ctx.generator("train", name),
        batch_size=cfg.batch_size,
        lr=cfg.lr,
    )
    after = min_output_distance(model, x, chunk=cfg.chunk)
    rounding = rounding_error(model, x)
    inputs = min_input_distance(x, chunk=cfg.chunk) if cfg.input_distance else None
    ctx.log(f"{name}: d_m {before.distance:.4g} -> {after.distance:.4g} in {steps} steps")
    return {
        "dataset": name,
        "n": len(x),
        "n_full": n_full,
        "in_features": in_features,
        "steps": steps,
        "before": before.to_dict(),
        "after": after.to_dict(),
        "rounding_l1": rounding,
        "inputs": inputs.to_dict() if inputs else None,
        "train_accuracy": accuracy(model, x, y),
        "test_accuracy": accuracy(model, x_test, y_test),
        "loss_trace": trace,
        "seconds": time.perf_counter() - start,
    }


def run(cfg: Config, ctx: RunContext) -> dict:
    """One point per data set (``--resume`` skips those already measured).

    At the paper scale every data set of ``datasets`` is run: skipping one would leave Table 1
    silently short, so ``skip_missing`` is refused there.
    """
    if ctx.scale == "paper" and cfg.skip_missing:
        raise InputError(
            "skip_missing must be False at the paper scale (Table 1 needs every data set): "
            "put the files in --data-dir, or use --scale default"
        )
    names = [n for n in cfg.datasets if not cfg.skip_missing or present(n, ctx)]
    skipped = [n for n in cfg.datasets if n not in names]
    for name in skipped:
        ctx.log(f"{name}: files not found, skipped (--data-dir DIR to include it)")
    per = ctx.points(
        [(f"dataset={name}", lambda name=name: measure_dataset(name, cfg, ctx)) for name in names]
    )
    metrics = {"datasets": per, "table1": TABLE1, "skipped": skipped}
    return {"claims": claims(cfg, metrics, ctx.scale), "metrics": metrics}


claims = _claims.claims


def plot(results: dict) -> dict:
    """d_m before and after training per data set, beside Table 1 and d_m of the inputs."""
    per = results["metrics"]["datasets"]
    names = [d["dataset"] for d in per]
    fig, axes = new_figure(1, width=max(5.0, 1.6 * len(names) + 2))
    ax = axes[0, 0]
    pos = np.arange(len(names))
    series = [
        ("untrained", [d["before"]["distance"] for d in per]),
        ("trained", [d["after"]["distance"] for d in per]),
        ("paper (Table 1)", [TABLE1.get(n, np.nan) for n in names]),
        ("inputs", [d["inputs"]["distance"] if d["inputs"] else np.nan for d in per]),
    ]
    width = 0.2
    for k, (label, values) in enumerate(series):
        ax.bar(pos + (k - 1.5) * width, values, width, label=label)
    ax.set(
        xticks=pos,
        xticklabels=names,
        yscale="log",
        ylabel="d_m (min pairwise L1)",
        title="Injectivity over the training set (Table 1)",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return {"injectivity": fig}


EXPERIMENT = register(
    Experiment(
        id="discontinuity.injectivity",
        paper="badger",
        title="Table 1 / Sec. 4: min pairwise output distance d_m of a classifier, before and "
        "after training",
        config=Config,
        run=run,
        plot=plot,
        scales={
            "smoke": {
                "datasets": ("digits",),
                "hidden": (64, 32),
                "epochs": 5.0,
                "max_examples": 400,
            },
            # Every data set whose files are found (digits always; the others from --data-dir,
            # never downloaded), the paper's widths, 130 epochs capped at 400 Adam steps (digits:
            # 342 steps, as an epoch of digits is 3 steps against MNIST's 118) and the first
            # 10,000 training images of the larger sets.
            "default": {
                "datasets": DATASETS,
                "skip_missing": True,
                "epochs": 130.0,
                "max_steps": 400,
                "max_examples": 10_000,
            },
        },
    )
)
