"""Helpers shared by the ``firstorder.*`` experiments: data, models, measurements, slopes."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from advgeom import data
from advgeom.attacks import pgd, predictions
from advgeom.attacks.losses import cross_entropy
from advgeom.devices import single_thread_on_cpu
from advgeom.errors import InputError
from advgeom.metrics import gradient_norms
from advgeom.models.cnn import AvgPoolCNN, FCNet, StridedCNN
from advgeom.train import Method, train_classifier
from advgeom.train.classifier import EpochHook

T = TypeVar("T")

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")
ARCHS = ("fc", "strided", "avgpool")
PAPER_ATTACK_STEPS = 10  # the authors' code: vulnerability by PGD-10, step eps / 7.5
CHUNK = 500  # examples per measurement batch at most
CHUNK_VALUES = 2**21  # ... and at most this many input values per batch (256 px CIFAR: 10 images)


def check_factors(factors: Sequence[int], *, at_least: int = 1) -> None:
    """Raise InputError unless ``factors`` holds ``at_least`` or more distinct up-sampling factors,
    each an integer >= 1."""
    if len(factors) < at_least or len(set(factors)) != len(factors) or min(factors) < 1:
        count = f">= {at_least} " if at_least > 1 else ""
        raise InputError(f"factors must be {count}distinct integers >= 1 (got {factors})")


def load_split(
    dataset: str, root, split: str, limit: int | None, factor: int = 1
) -> tuple[Tensor, Tensor]:
    """Images (N, C, H, W) in [0, 1] and labels: the first ``limit``, up-sampled by copying."""
    x, y = data.load(dataset, root=root, split=split)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return data.upsample(x, factor), y


def standardise(x: Tensor, reference: Tensor) -> Tensor:
    """(x - mean) / std with one mean and std per channel of ``reference`` (N, C, H, W).

    Pixel copying does not change these statistics, so the same normalisation fits every
    resolution. Used at initialisation, where blank (exactly 0) image regions would otherwise give
    pre-activations of exactly 0, whose ReLU derivative is 0: the paper's assumption H1 (a ReLU
    kills half of its inputs) would fail there. The paper's data were normalised too (Sec. 4).
    """
    mean = reference.mean(dim=(0, 2, 3), keepdim=True)
    std = reference.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-12)
    return (x - mean) / std


def build_model(
    arch: str,
    input_shape: Sequence[int],
    *,
    classes: int,
    hidden: int,
    depth: int,
    channels: int,
    batch_norm: bool,
    generator: torch.Generator,
    input_norm: bool = False,
) -> nn.Module:
    """A He-initialised ``fc``, ``strided`` (Sec. 4.1) or ``avgpool`` (App. B) network.

    ``input_norm`` (CNNs only): a batch-norm on the input channels first, as in the authors' code
    when it trains on raw pixels."""
    if arch == "fc":
        return FCNet(
            input_shape=input_shape,
            hidden=hidden,
            depth=depth,
            out_features=classes,
            batch_norm=batch_norm,
            generator=generator,
        )
    cls = {"strided": StridedCNN, "avgpool": AvgPoolCNN}.get(arch)
    if cls is None:
        raise InputError(f"arch must be one of {', '.join(ARCHS)} (got {arch!r})")
    return cls(
        input_shape=input_shape,
        channels=channels,
        out_features=classes,
        batch_norm=batch_norm,
        input_norm=input_norm,
        generator=generator,
    )


def trainable_model(cfg, x: Tensor, y: Tensor, *, generator: torch.Generator, device) -> nn.Module:
    """The network a training experiment's ``cfg`` names, on ``device``, ready to train.

    ``cfg.arch``, ``cfg.hidden``, ``cfg.depth`` and ``cfg.channels`` pick it; ``x`` (N, C, H, W)
    gives the input shape and ``y`` the classes. Batch-norm and, for CNNs, an input batch-norm are
    on, as in the authors' training code.
    """
    model = build_model(
        cfg.arch,
        x.shape[1:],
        classes=classes_of(y),
        hidden=cfg.hidden,
        depth=cfg.depth,
        channels=cfg.channels,
        batch_norm=True,
        input_norm=True,
        generator=generator,
    )
    return model.to(device)


def fit(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    cfg,
    *,
    generator: torch.Generator,
    description: str,
    method: Method | str = "plain",
    momentum: float = 0.9,
    on_epoch: EpochHook | None = None,
) -> list[dict]:
    """Train ``model`` in place on (x, y) by SGD with ``cfg.epochs``, ``cfg.batch_size`` and
    ``cfg.lr``; return :func:`~advgeom.train.train_classifier`'s history (one record per epoch)."""
    return train_classifier(
        model,
        x,
        y,
        method=method,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        momentum=momentum,
        generator=generator,
        on_epoch=on_epoch,
        description=description,
    )


def sweep(cfg, ctx, point: Callable[[int, float], dict]) -> list[dict]:
    """``point(factor, eps)`` for every ``eps`` of ``cfg.eps`` and, inside, every ``factor`` of
    ``cfg.factors``; each result is the point ``"eps=<eps>-x<factor>"``, all of them one batch
    (on one CPU thread each: many small batches)."""
    return ctx.points([
        (f"eps={eps:g}-x{f}", one_thread(ctx, functools.partial(point, f, eps)))
        for eps in cfg.eps
        for f in cfg.factors
    ])


def one_thread(ctx, compute: Callable[[], T]) -> Callable[[], T]:
    """``compute`` on one torch thread when the run is on the CPU, wherever the point runs (in
    process or in a Ray task), so its numbers do not depend on the executor."""
    return functools.partial(_on_one_thread, ctx.device, compute)


def _on_one_thread(device: torch.device, compute: Callable[[], T]) -> T:
    with single_thread_on_cpu(device):
        return compute()


def _chunks(x: Tensor):
    size = max(1, min(CHUNK, CHUNK_VALUES // x[0].numel()))
    for start in range(0, x.shape[0], size):
        yield slice(start, min(x.shape[0], start + size))


def gradient_summary(model: nn.Module, x: Tensor, y: Tensor) -> dict:
    """E||grad_x L||_1 and _2 over (x, y) (eval mode), with medians; x on the model's device."""
    norms = {"l1": [], "l2": []}
    for s in _chunks(x):
        out = gradient_norms(model, x[s], y[s], norms=("l1", "l2"))
        for q in norms:
            norms[q].append(out[q].double().cpu())
    l1, l2 = torch.cat(norms["l1"]), torch.cat(norms["l2"])
    return {
        "grad_l1": float(l1.mean()),
        "grad_l2": float(l2.mean()),
        "grad_l1_median": float(l1.median()),
        "grad_l2_median": float(l2.median()),
    }


def evaluate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    attack_eps: float,
    attack_steps: int = PAPER_ATTACK_STEPS,
    generator: torch.Generator | None = None,
) -> dict:
    """Accuracy, cross-entropy, gradient norms and PGD vulnerability on (x, y), the way the
    authors' code did.

    Vulnerability (Definition 1): the share of examples whose prediction changes under PGD l_inf
    of radius ``attack_eps`` per pixel: ``attack_steps`` steps of eps / (0.75 steps) from a
    random start uniform in the ball (Sec. 4.2's "PGD-attacks with random start"; foolbox's
    RandomPGD in the authors' ``vulnerability.py``), no clipping. Damage: mean loss increase per
    unit eps (Lemma 2's eps ||g||_1 / eps). Loss: the mean clean cross-entropy (App. G's Fig. 8
    sets it beside the error).

    Args:
        x: (N, C, H, W) on the model's device; y: (N,) labels.
        generator: the random starts' source (a CPU generator from the run, e.g.
            ``ctx.generator("attack", ...)``), so a measurement is reproducible; required when
            ``attack_eps > 0``.
    """
    if attack_eps > 0 and generator is None:
        raise InputError("evaluate: the PGD random start needs a generator (ctx.generator(...))")
    model.eval()
    correct = changed = adv_correct = damage = loss = 0.0
    for s in _chunks(x):
        xb, yb = x[s], y[s]
        with torch.no_grad():
            out = model(xb)
        pred = predictions(out)
        correct += float((pred == yb).sum())
        loss += float(cross_entropy(out, yb).sum())
        if attack_eps > 0:
            res = pgd(
                model,
                xb,
                yb,
                eps=attack_eps,
                norm="linf",
                steps=attack_steps,
                step_size=attack_eps / (0.75 * attack_steps),
                random_start=True,
                generator=generator,
            )
            with torch.no_grad():
                adv_pred = predictions(model(res.x_adv))
            changed += float((adv_pred != pred).sum())
            adv_correct += float((adv_pred == yb).sum())
            damage += float((res.loss - cross_entropy(out, yb)).sum()) / attack_eps
    n = x.shape[0]
    return {
        "accuracy": correct / n,
        "loss": loss / n,
        "vulnerability": changed / n,
        "adversarial_accuracy": adv_correct / n if attack_eps > 0 else correct / n,
        "damage_per_eps": damage / n,
        **gradient_summary(model, x, y),
    }


def loglog_slope(d: Sequence[float], values: Sequence[float]) -> dict:
    """Least-squares slope of log(values) on log(d) with a 95% interval from its standard error
    (t distribution, n - 2 degrees of freedom); ``low``/``high`` are None with two points."""
    ld, lv = np.log(np.asarray(d, float)), np.log(np.asarray(values, float))
    if len(ld) < 2:
        raise InputError(f"a slope needs at least two points (got {len(ld)})")
    fit = stats.linregress(ld, lv)
    out = {"slope": float(fit.slope), "intercept": float(fit.intercept), "low": None, "high": None}
    if len(ld) > 2:
        half = float(stats.t.ppf(0.975, len(ld) - 2) * fit.stderr)
        out["low"], out["high"] = float(fit.slope - half), float(fit.slope + half)
    return out


def mean_interval(values: Sequence[float]) -> dict:
    """Mean of per-seed values with a 95% t interval (``low``/``high`` None with one value)."""
    v = np.asarray(values, float)
    mean = float(v.mean())
    if len(v) < 2:
        return {"mean": mean, "low": None, "high": None}
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return {"mean": mean, "low": mean - half, "high": mean + half}


def interval_text(fit: dict, key: str = "slope") -> str:
    """``0.512 [0.480, 0.544]``, or the value alone when there is no interval."""
    value = fit[key] if key in fit else fit["mean"]
    if fit["low"] is None:
        return f"{value:.3f} (no interval)"
    return f"{value:.3f} [{fit['low']:.3f}, {fit['high']:.3f}]"


def points_at(points: list[dict], eps: float) -> list[dict]:
    """The points trained at strength ``eps``, by increasing d."""
    return sorted((p for p in points if p["eps"] == eps), key=lambda p: p["d"])


def classes_of(y: Tensor) -> int:
    """Number of classes (the largest label + 1)."""
    return int(y.max()) + 1


def finite(value: float | None) -> float | None:
    """None for NaN/inf (JSON-friendly claim values)."""
    return None if value is None or not math.isfinite(value) else float(value)
