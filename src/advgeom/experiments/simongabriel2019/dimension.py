"""``firstorder.dimension``: vulnerability and gradient norms against input dimension after
(PGD-)training on up-sampled images (Fig. 2 (a)-(d), its caption, Fig. 7e).

Paper: Simon-Gabriel et al. (2019), Sec. 4.2 and Fig. 2. The same images are up-sampled by pixel
copying to several resolutions (CIFAR-10 at 32, 64, 128 and 256 pixels per edge, factors 1 to 8:
the paper scale; the smoke and default scales use the bundled 8x8 digits at 8 to 32 pixels) and
one network is PGD-trained per resolution and strength eps
(eps = 0: plain training). On the test set: E||grad_x L||_1 and adversarial vulnerability grow
like sqrt(d) without regularisation (Fig. 2a, b), accuracy does not depend on d (Fig. 2c), and
stronger PGD regularisation flattens the dependence (Fig. 2b), so that accuracy-vulnerability
trade-offs become independent of d (Fig. 2d); accuracy is unharmed at first and starts getting
damaged where the dependence is nearly broken (Fig. 2's caption), and the ratio E||g||_1 /
E||g||_2 depends on d (Fig. 7e). The claims are in ``_figure2_claims`` and
``_figure2_caption``. The paper summarises the last 20 epochs (medians,
10-90% quantiles); we measure the final network, averaged over ``last_epochs`` measurements.

The strided CNN gets one stride-2 layer more per doubling of the image edge, so the read-out sees
the same feature map at every resolution (the paper's nets used dilated convolutions instead,
App. G.1). Inputs are raw pixels in [0, 1] with a batch-norm on the input channels (the authors'
code); the PGD threshold and the attack size are per pixel, the same at every resolution. The
attack is PGD-10 with a random start (Sec. 4.2), drawn from the run's generator.

At paper scale the up-sampled training split is held in memory (CIFAR-10 at 256 pixels: 39 GB
of float32), one resolution at a time.

Run: ``advgeom run firstorder.dimension --scale paper --data-dir DIR`` (or ``--scale default``:
digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from advgeom.errors import InputError, check_fields
from advgeom.experiments.simongabriel2019 import _common as c
from advgeom.experiments.simongabriel2019._figure2 import plot
from advgeom.experiments.simongabriel2019._figure2 import points_at as _at
from advgeom.experiments.simongabriel2019._figure2_claims import FLATTEN_MIN, claims
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register
from advgeom.train import Method

__all__ = ["FLATTEN_MIN", "KEYS", "Config", "claims", "measure_point", "run", "slopes",
           "train_point"]

KEYS = ("grad_l1", "grad_l2", "vulnerability", "accuracy")


@dataclass(frozen=True)
class Config:
    """Paper settings (Sec. 4.2): CIFAR-10 up-sampled x1..x8 (32 to 256 pixels per edge), strided
    CNN, 64 channels, PGD-7 training, 200 epochs, vulnerability at eps_inf = 0.08% of the pixel
    range (PGD-10 with random start), medians over the last 20 epochs. The paper does not list
    its eps grid; ours (per pixel of [0, 1]) steps 1-2-5 from 0.00002 to 0.005, around the
    caption's onset of accuracy damage (eps ~ .0005 in the paper's normalised units, sigma ~ .2:
    0.0001 per pixel), so that the plateau before it and the damage after it are both measured."""

    dataset: Literal["digits", "mnist", "fashion-mnist", "cifar10"] = "cifar10"
    factors: tuple[int, ...] = (1, 2, 4, 8)
    arch: Literal["fc", "strided"] = "strided"
    channels: int = 64
    hidden: int = 256
    depth: int = 2
    eps: tuple[float, ...] = (  # PGD strengths (0: plain)
        0.0, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005
    )
    epochs: int = 200
    last_epochs: int = 20  # measurements averaged at the end of training (the paper's last 20)
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    attack_eps: float = 0.0008
    attack_steps: int = 10
    train_examples: int | None = None
    test_examples: int | None = None
    slope_tol: float = 0.15  # E||g||_1 slope compared with 1/2 after training
    accuracy_tol: float = 0.03  # largest accuracy spread across d at one eps

    def __post_init__(self) -> None:
        c.check_factors(self.factors, at_least=2)
        if not self.eps or min(self.eps) < 0 or len(set(self.eps)) != len(self.eps):
            raise InputError(f"eps must be distinct values >= 0 (got {self.eps})")
        check_fields(
            self,
            ("channels", "hidden", "depth", "epochs", "last_epochs", "batch_size", "attack_steps"),
        )
        if self.last_epochs > self.epochs:
            raise InputError(f"last_epochs must be <= epochs ({self.epochs})")
        check_fields(self, ("train_examples", "test_examples"), optional=True)
        if not (
            self.lr > 0
            and 0 <= self.momentum < 1
            and self.attack_eps > 0
            and self.slope_tol > 0
            and self.accuracy_tol > 0
        ):
            raise InputError(
                "need lr > 0, 0 <= momentum < 1, attack_eps, slope_tol, accuracy_tol > 0"
            )


def train_point(cfg: Config, ctx: RunContext, factor: int, eps: float) -> dict:
    """PGD-train one network at one resolution; measure it over the last epochs."""
    x, y = c.load_split(cfg.dataset, ctx.data_dir, "train", cfg.train_examples, factor)
    xt, yt = c.load_split(cfg.dataset, ctx.data_dir, "test", cfg.test_examples, factor)
    return measure_point(cfg, ctx, (x, y, xt, yt), factor, eps)


def measure_point(cfg, ctx: RunContext, splits, factor: int, eps: float) -> dict:
    """PGD-train one network on ``splits`` = (x, y, x_test, y_test), images (N, C, H, W) at one
    resolution; its test accuracy, gradient norms and vulnerability over the last epochs
    (median, 10% and 90% quantiles). ``cfg`` needs :class:`Config`'s model, training and
    attack fields, which ``firstorder.miniimagenet``'s config shares."""
    x, y, xt, yt = splits
    xt, yt = xt.to(ctx.device), yt.to(ctx.device)
    model = c.trainable_model(cfg, x, y, generator=ctx.generator("init", factor), device=ctx.device)
    first = cfg.epochs - cfg.last_epochs + 1

    def hook(epoch: int, net) -> dict | None:
        if epoch < first:
            return None
        return c.evaluate(
            net,
            xt,
            yt,
            attack_eps=cfg.attack_eps,
            attack_steps=cfg.attack_steps,
            generator=ctx.generator("attack", factor, eps, epoch),
        )

    history = c.fit(
        model,
        x,
        y,
        cfg,
        method=Method("pgd", eps=eps),
        momentum=cfg.momentum,
        generator=ctx.generator("train", factor),
        on_epoch=hook,
        description=f"x{factor}, PGD eps={eps:g}",
    )
    last = [h for h in history if h["epoch"] >= first]
    out = {"factor": factor, "d": int(x[0].numel()), "eps": eps}
    for key in KEYS:
        values = [h[key] for h in last]
        out[key] = float(np.median(values))
        out[f"{key}_q10"], out[f"{key}_q90"] = (float(v) for v in np.quantile(values, [0.1, 0.9]))
    return out


def slopes(points: list[dict], eps) -> dict:
    """str(eps) -> {"grad_l1" | "vulnerability": log-log slope fit against d}, for every eps."""
    return {
        str(e): {
            k: c.loglog_slope(
                [p["d"] for p in _at(points, e)], [max(p[k], 1e-12) for p in _at(points, e)]
            )
            for k in ("grad_l1", "vulnerability")
        }
        for e in eps
    }


def run(cfg: Config, ctx: RunContext) -> dict:
    """One point per (eps, resolution)."""
    points = c.sweep(cfg, ctx, lambda f, e: train_point(cfg, ctx, f, e))
    metrics = {"dataset": cfg.dataset, "points": points, "slopes": slopes(points, cfg.eps)}
    return {"claims": claims(cfg, metrics, measurable=ctx.scale != "smoke"), "metrics": metrics}


EXPERIMENT = register(
    Experiment(
        id="firstorder.dimension",
        paper="simon-gabriel",
        title="Fig. 2 (a)-(d): vulnerability and gradient norms vs d after PGD training",
        config=Config,
        run=run,
        plot=plot,
        scales={
            "smoke": {
                "dataset": "digits",
                "factors": (1, 2),
                "arch": "fc",
                "hidden": 32,
                "eps": (0.0, 0.05),
                "epochs": 1,
                "last_epochs": 1,
                "train_examples": 256,
                "test_examples": 64,
                "attack_eps": 0.05,
            },
            # Reduced to about a minute: digits at 8, 16, 32 pixels, a strided CNN of 8 channels
            # trained 15 epochs on 600 images at lr 0.05 (short training needs the larger rate),
            # plain and PGD eps = 0.03, vulnerability at 0.02 per pixel (digits need a larger
            # eps than CIFAR-10's 0.0008), medians of the last 3 epochs.
            "default": {
                "dataset": "digits",
                "factors": (1, 2, 4),
                "channels": 8,
                "eps": (0.0, 0.03),
                "epochs": 15,
                "last_epochs": 3,
                "train_examples": 600,
                "lr": 0.05,
                "attack_eps": 0.02,
            },
        },
    )
)
