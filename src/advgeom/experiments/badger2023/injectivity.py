"""``discontinuity.injectivity``: a trained classifier separates every pair of its inputs (d_m > 0).

Paper: Badger, "Adversarial Examples from Dimensional Invariance" (Table 1 and Sec. 4). The
classifier 784-1000-500-250-125-100 (ReLU; Adam 1e-4, batch 512, 50 epochs) is trained per data
set, and the minimum pairwise L1 distance between its outputs over the training set, d_m (Eq. 1),
is computed before and after training. Table 1: Fashion-MNIST 5.35, MNIST 0.92, CIFAR-10 0.85,
CIFAR-100 0.016 (duplicated inputs removed); Sec. 4: d_m = 3.0e-2 before training, "increased a
hundred-fold during training". d_m of the inputs themselves is given beside it, and exact
duplicate inputs are counted and left out.

The default scale runs on the bundled ``digits`` (no paper value; inputs 8x8) and on every data set
of Table 1 whose files are in ``--data-dir`` (not downloaded; 400 steps, first 10,000 images);
``--scale paper`` or ``--set datasets="('mnist',)"`` picks them explicitly.
Run: ``advgeom run discontinuity.injectivity [--scale smoke|default|paper]``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from advgeom import data
from advgeom.errors import DataError, InputError, check_choice, check_fields, check_positive_fields
from advgeom.experiments.badger2023._train import accuracy, steps_for, train_classifier
from advgeom.experiments.claims import claim
from advgeom.experiments.context import RunContext
from advgeom.experiments.registry import Experiment, register
from advgeom.metrics.injectivity import DEFAULT_CHUNK, min_input_distance, min_output_distance
from advgeom.models.funnel import PAPER_HIDDEN, PAPER_OUT, FunnelClassifier
from advgeom.models.mlp import initialise
from advgeom.plotting import new_figure

TABLE1 = {"fashion-mnist": 5.35, "mnist": 0.92, "cifar10": 0.85, "cifar100": 0.016}
PAPER_UNTRAINED = 3.0e-2  # Sec. 4, data set not named (the authors' classifier script: MNIST)
PAPER_GAIN = 100.0  # "a hundred-fold"
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
    skip_missing: bool = False  # skip (not download) data sets whose files are not found
    input_distance: bool = True  # also d_m of the inputs (costly for 60,000 x 784 on a CPU)
    chunk: int = DEFAULT_CHUNK
    tolerance: float = 3.0  # a measured value within this factor of the paper's agrees

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
        "inputs": inputs.to_dict() if inputs else None,
        "train_accuracy": accuracy(model, x, y),
        "test_accuracy": accuracy(model, x_test, y_test),
        "loss_trace": trace,
        "seconds": time.perf_counter() - start,
    }


def run(cfg: Config, ctx: RunContext) -> dict:
    """One point per data set (``--resume`` skips those already measured)."""
    names = [n for n in cfg.datasets if not cfg.skip_missing or present(n, ctx)]
    skipped = [n for n in cfg.datasets if n not in names]
    for name in skipped:
        ctx.log(f"{name}: files not found, skipped (--data-dir DIR to include it)")
    per = [
        ctx.point(f"dataset={name}", lambda name=name: measure_dataset(name, cfg, ctx))
        for name in names
    ]
    metrics = {"datasets": per, "table1": TABLE1, "skipped": skipped}
    return {"claims": claims(cfg, metrics, ctx.scale), "metrics": metrics}


def _within(value: float, paper: float, factor: float) -> bool:
    return value > 0 and paper / factor <= value <= paper * factor


def claims(cfg: Config, m: dict, scale: str) -> list[dict]:
    """d_m > 0 everywhere; Table 1 per data set; the gain from training; duplicates."""
    per = {d["dataset"]: d for d in m["datasets"]}
    after = {k: d["after"]["distance"] for k, d in per.items()}
    before = {k: d["before"]["distance"] for k, d in per.items()}
    gain = {k: after[k] / before[k] if before[k] > 0 else None for k in per}
    smoke = scale == "smoke"
    acc = ", ".join(f"{k} {d['test_accuracy']:.3f}" for k, d in per.items())
    steps = ", ".join(f"{k} {d['steps']}" for k, d in per.items())
    train_note = (
        f"Adam {cfg.lr:g}, batch {cfg.batch_size}, steps: {steps}; test accuracy {acc} (the "
        "paper: 50 epochs of Adam 1e-4, batch 512)"
    )
    ratio = {
        k: after[k] / d["inputs"]["distance"]
        for k, d in per.items()
        if d["inputs"] and d["inputs"]["distance"] > 0
    }
    out = [
        claim(
            "injective_after_training",
            "A trained classifier is effectively injective over its training set: d_m > 0 on every "
            "data set (Table 1).",
            paper_value=TABLE1,
            measured=after,
            agrees=all(v > 0 for v in after.values()),
            note=f"exact minimum over all pairs of distinct training inputs (duplicates left out); "
            f"d_m(outputs) / d_m(inputs): {_fmt(ratio)}; {train_note}",
        )
    ]
    for name, paper in TABLE1.items():
        if name not in per:
            continue
        out.append(
            claim(
                f"table1_{name.replace('-', '_')}",
                f"d_m of the trained classifier on {name} is {paper:g} (Table 1).",
                paper_value=paper,
                measured=after[name],
                agrees=None if smoke else _within(after[name], paper, cfg.tolerance),
                note=f"agrees within a factor {cfg.tolerance:g}; {_subset(per[name])}; "
                f"{train_note}" + ("; smoke scale: too short to compare" if smoke else ""),
            )
        )
    gains = [g for g in gain.values() if g is not None]
    out.append(
        claim(
            "training_increases_d_m",
            "Training increases d_m about a hundred-fold (Sec. 4: 3.0e-2 before training).",
            paper_value=PAPER_GAIN,
            measured=gain,
            agrees=None
            if smoke or not gains
            else all(_within(g, PAPER_GAIN, cfg.tolerance) for g in gains),
            note=f"d_m after / before training, same initialisation; before: {_fmt(before)}; "
            f"agrees when every gain is within a factor {cfg.tolerance:g} of 100; {train_note}",
        )
    )
    out.append(_untrained_claim(before, cfg, smoke))
    out.append(_duplicates_claim(per))
    return out


def _untrained_claim(before: dict, cfg: Config, smoke: bool) -> dict:
    comparable = [k for k in ("mnist", "fashion-mnist") if k in before]
    return claim(
        "untrained_d_m",
        "Before training the classifier has d_m = 3.0e-2 (Sec. 4).",
        paper_value=PAPER_UNTRAINED,
        measured=before,
        agrees=None
        if smoke or not comparable
        else all(_within(before[k], PAPER_UNTRAINED, cfg.tolerance) for k in comparable),
        note="the paper does not name the data set (the authors' classifier script loads "
        f"MNIST); compared on {', '.join(comparable) or 'none (MNIST/Fashion-MNIST not run)'} "
        f"within a factor {cfg.tolerance:g}; PyTorch's default initialisation",
    )


def _duplicates_claim(per: dict) -> dict:
    dups = {k: d["after"]["duplicate_pairs"] for k, d in per.items()}
    groups = {k: d["after"]["duplicate_groups"][:3] for k, d in per.items() if dups[k]}
    return claim(
        "duplicates_found",
        "CIFAR-100 holds exactly duplicated training inputs, which must be removed before d_m "
        "(Table 1 footnote).",
        paper_value="CIFAR-100 has duplicates",
        measured=dups,
        agrees=dups["cifar100"] > 0 if "cifar100" in dups else None,
        note=f"pairs of exactly equal training inputs per data set; examples: {groups or 'none'}"
        + ("" if "cifar100" in dups else "; CIFAR-100 not run (--set datasets=... --data-dir)"),
    )


def _subset(d: dict) -> str:
    if d["n"] == d.get("n_full", d["n"]):
        return f"all {d['n']} training inputs"
    return (
        f"the first {d['n']} of {d['n_full']} training inputs (fewer pairs: d_m can only be "
        "larger than on the whole set)"
    )


def _fmt(values: dict) -> str:
    return (
        ", ".join(f"{k} {v:.4g}" if v is not None else f"{k} n/a" for k, v in values.items())
        or "n/a"
    )


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
