"""``discontinuity.expansion``: the expansion ratio r(eta) of classifiers and autoencoders.

Paper: Badger, "Adversarial Examples from Dimensional Invariance" (Fig. 1, 2, S2; Sec. 4). For an
FGSM step x_a = x + eta sign(grad L) and a Gaussian step x' = x + eta z, e_a and e_n are the L1
output change per L1 input change (Eq. 4, 5) and r = e_a / e_n (Eq. 6), averaged over inputs for
eta = 1 ... 1e-7. The paper reads: r grows as eta -> 0 for a trained classifier (Fig. 2), more than
for an untrained one (Fig. S2), without bound when dropout is left on ("a true discontinuity"),
and for autoencoders the more the narrower their bottleneck, staying flat without one (Fig. 1);
the one without bottleneck denoises and is not the identity (Fig. S1, :mod:`._denoising`).

Measured here in float32 (the paper's arithmetic) and float64 (to tell geometry from rounding),
for r and for e_a: the authors' autoencoder script plots e_a (its noise terms cancel), and their
classifier script steps along the summed logits rather than the loss (both measured). Growth is
q(1e-5) / q(1e-1), the paper's pertinent range; the step from eta = 1 (where the authors' grid
starts and every pixel moves by 1) to 1e-1 is reported apart. FGSM follows Eq. 3: the classifier's
cross-entropy at the true label, the autoencoder's MSE with its target (the input) held fixed.

Widths are the paper's for 784 inputs; the funnels' are scaled by in_features / 784 so the
input-to-narrowest ratios (3.1 and 6.3) hold on other image sizes. The paper scale runs on
Fashion-MNIST (the data set the text names for its generative comparison, that the authors'
autoencoder script loads and their classifier weights are named after), read from --data-dir;
smoke and default run on the bundled digits.
Run: ``advgeom run discontinuity.expansion [--scale smoke|default|paper]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from advgeom import data
from advgeom.errors import InputError, check_choice, check_fields, check_positive_fields
from advgeom.experiments.badger2023 import _curves as cv
from advgeom.experiments.badger2023 import _denoising
from advgeom.experiments.badger2023 import _expansion_claims as _claims
from advgeom.experiments.badger2023._train import (
    accuracy,
    steps_for,
    train_autoencoder,
    train_classifier,
)
from advgeom.metrics.expansion import DEFAULT_ETAS, PAPER_RANGE
from advgeom.models.autoencoder import KINDS, autoencoder
from advgeom.models.funnel import PAPER_HIDDEN, PAPER_OUT, FunnelClassifier
from advgeom.models.mlp import initialise
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10", "cifar100")


@dataclass(frozen=True)
class Config:
    """Paper settings (the authors' scripts): Fashion-MNIST, one batch of 512 inputs, 10 draws."""

    dataset: str = "fashion-mnist"
    hidden: tuple[int, ...] = PAPER_HIDDEN
    out_features: int = PAPER_OUT
    classifier_epochs: float = 50.0
    ae_epochs: float = 100.0
    batch_size: int = 512
    lr: float = 1e-4
    ae_lr: float = 1e-4
    dropout: float = 0.1  # not given by the paper; the authors' (unused) GAN dropout is 0.1
    width_scale: float = 1.0  # on top of in_features / 784, for the autoencoder funnels
    inputs: int = 512
    draws: int = 10
    etas: tuple[float, ...] = DEFAULT_ETAS
    growth_from: float = PAPER_RANGE[0]  # Sec. 4's pertinent range, 1e-1 ...
    growth_to: float = PAPER_RANGE[1]  # ... to 1e-5
    grows_factor: float = 2.0
    # Fig. S1 (the authors' script): x_noisy = noise_mix x + (1 - noise_mix) N(mean, std)
    noise_mix: float = 0.5
    noise_mean: float = 0.7
    noise_std: float = 0.2
    denoise_images: int = 6

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        check_fields(self, ("out_features", "batch_size", "inputs", "draws", "denoise_images"))
        check_positive_fields(self, ("noise_std",))
        if not 0 <= self.noise_mix < 1:
            raise InputError(f"noise_mix must be in [0, 1) (got {self.noise_mix})")
        if not self.hidden or min(self.hidden) < 1:
            raise InputError(f"hidden must be positive widths (got {self.hidden})")
        check_positive_fields(
            self, ("classifier_epochs", "ae_epochs", "lr", "ae_lr", "width_scale")
        )
        if not 0 < self.dropout < 1:
            raise InputError(f"dropout must be in (0, 1) (got {self.dropout})")
        cv.check_settings(self)


def _setup(cfg: Config, ctx: RunContext) -> tuple:
    x, y = data.load(cfg.dataset, root=ctx.data_dir, split="train")
    x, y = x.to(ctx.device), y.to(ctx.device)
    return x, y, int(np.prod(x.shape[1:]))


def classifier_point(cfg: Config, ctx: RunContext, variant: str) -> dict:
    """Train (or not) one classifier and measure its curves; ``variant`` is "trained" (also
    measured along the summed logits, the authors' FGSM direction), "untrained" (the same
    initial weights) or "dropout" (trained with dropout and measured with it on)."""
    x, y, n_in = _setup(cfg, ctx)
    dropout = cfg.dropout if variant == "dropout" else 0.0
    model = FunnelClassifier(
        in_features=n_in,
        hidden=cfg.hidden,
        dropout=dropout,
        out_features=max(cfg.out_features, int(y.max()) + 1),
    )
    initialise(model, ctx.generator("init", "classifier", variant == "dropout")).to(ctx.device)
    trace = []
    if variant != "untrained":
        trace = train_classifier(
            model,
            x,
            y,
            generator=ctx.generator("train", variant),
            steps=steps_for(cfg.classifier_epochs, len(x), cfg.batch_size),
            batch_size=cfg.batch_size,
            lr=cfg.lr,
        )
    acc = accuracy(model, x, y)
    if variant == "dropout":
        model.train()  # dropout left on while measuring
    xs, ys = x[: cfg.inputs], y[: cfg.inputs]
    out = {"train_accuracy": acc, "loss_trace": trace}
    directions = ("loss", "summed_output") if variant == "trained" else ("loss",)
    for direction in directions:
        out["curve" if direction == "loss" else "curve_summed"] = cv.measure(
            model,
            xs,
            ys,
            etas=cfg.etas,
            draws=cfg.draws,
            loss="cross_entropy",
            direction=direction,
            keep_mode=variant == "dropout",
            generator=lambda: ctx.generator("draws", "classifier", variant),
        )
    return out


def autoencoder_point(cfg: Config, ctx: RunContext, kind: str) -> dict:
    """Train one autoencoder (MSE) and measure its curves along the reconstruction loss."""
    x, _, n_in = _setup(cfg, ctx)
    model = autoencoder(kind, in_features=n_in, width_scale=cfg.width_scale * n_in / 784)
    initialise(model, ctx.generator("init", "autoencoder", kind)).to(ctx.device)
    trace = train_autoencoder(
        model,
        x,
        generator=ctx.generator("train", "autoencoder", kind),
        steps=steps_for(cfg.ae_epochs, len(x), cfg.batch_size),
        batch_size=cfg.batch_size,
        lr=cfg.ae_lr,
    )
    curve = cv.measure(
        model,
        x[: cfg.inputs],
        None,
        etas=cfg.etas,
        draws=cfg.draws,
        loss="mse",
        generator=lambda: ctx.generator("draws", "autoencoder", kind),
    )
    out = {
        "curve": curve,
        "hidden": list(model.hidden),
        "compression": model.compression,
        "loss_trace": trace,
    }
    if kind == "none":  # Fig. S1: the overcomplete autoencoder of Fig. 1 denoises
        out["denoising"] = _denoising.measure(
            model,
            x[: cfg.inputs],
            mix=cfg.noise_mix,
            mean=cfg.noise_mean,
            std=cfg.noise_std,
            images=cfg.denoise_images,
            generator=ctx.generator("denoise", kind),
        )
    return out


CLASSIFIERS = ("trained", "untrained", "dropout")
SMOKE = "smoke scale: the pipeline runs, the effect needs the default or paper scale"


def run(cfg: Config, ctx: RunContext) -> dict:
    """One point per model (``--resume`` skips those already measured)."""
    names = [f"classifier_{v}" for v in CLASSIFIERS] + [f"autoencoder_{k}" for k in KINDS]
    values = ctx.points(
        [(f"classifier={v}", lambda v=v: classifier_point(cfg, ctx, v)) for v in CLASSIFIERS]
        + [(f"autoencoder={k}", lambda k=k: autoencoder_point(cfg, ctx, k)) for k in KINDS]
    )
    found = dict(zip(names, values, strict=True))
    models = {f"classifier_{v}": found[f"classifier_{v}"] for v in CLASSIFIERS}
    trained = models["classifier_trained"]
    models["classifier_summed"] = {
        "curve": trained.pop("curve_summed"),
        "train_accuracy": trained["train_accuracy"],
    }
    models |= {f"autoencoder_{k}": found[f"autoencoder_{k}"] for k in KINDS}
    metrics = {"dataset": cfg.dataset, "models": models}
    return {"claims": claims(cfg, metrics, ctx.scale != "smoke"), "metrics": metrics}


def claims(cfg: Config, m: dict, measurable: bool) -> list[dict]:
    """Fig. 1, 2, S2 and the limit (:mod:`._expansion_claims`), Fig. S1 (:mod:`._denoising`)."""
    out = _claims.claims(cfg, m, measurable)
    den = m["models"]["autoencoder_none"].get("denoising")
    if den is not None:  # absent from points measured before Fig. S1 was
        scale = "" if measurable else f"{SMOKE}; "
        out += _denoising.claims(den, dataset=m["dataset"], measurable=measurable, scale=scale)
    return out


def plot(results: dict) -> dict:
    """Fig. 1/2/S2: log-log r(eta) and e_a(eta), float64 solid, float32 dashed; Fig. S1: the
    autoencoder without bottleneck on clean and noisy images."""
    models = results["metrics"]["models"]
    figs = {}
    for key, title in (
        ("classifier", "Classifiers (Fig. 2, S2)"),
        ("autoencoder", "Autoencoders (Fig. 1)"),
    ):
        curves = {
            name.split("_", 1)[1]: p["curve"] for name, p in models.items() if name.startswith(key)
        }
        figs[f"expansion_{key}"], _ = cv.plot_curves(curves, title=title)
    den = models["autoencoder_none"].get("denoising")
    if den is not None:
        figs["denoising"] = _denoising.figure(den, results["metrics"]["dataset"])
    return figs


EXPERIMENT = register(
    Experiment(
        id="discontinuity.expansion",
        paper="badger",
        title="Fig. 1, 2, S1, S2: expansion ratio r(eta) and e_a(eta) of classifiers (trained, "
        "untrained, dropout) and autoencoders (no bottleneck, 8x, 16x); denoising",
        config=Config,
        run=run,
        plot=plot,
        scales={
            "smoke": {
                "dataset": "digits",
                "hidden": (64, 32),
                "classifier_epochs": 5.0,
                "ae_epochs": 5.0,
                "ae_lr": 1e-3,
                "inputs": 32,
                "draws": 1,
                "etas": (1.0, 1e-1, 1e-3, 1e-5, 1e-7),
            },
            # digits, 128 inputs x 2 draws, ~400 classifier steps at the paper's lr and ~1000
            # autoencoder steps at lr 1e-3 (the paper: 100 epochs of MNIST-sized data at 1e-4).
            "default": {
                "dataset": "digits",
                "classifier_epochs": 130.0,
                "ae_epochs": 330.0,
                "ae_lr": 1e-3,
                "inputs": 128,
                "draws": 2,
            },
        },
    )
)
