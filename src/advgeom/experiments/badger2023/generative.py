"""``discontinuity.generative``: GAN generator and discriminator against a diffusion denoiser.

Paper: Badger, "Adversarial Examples from Dimensional Invariance" (Sec. 5, Fig. 3). A fully
connected GAN (generator 100-256-512-1024-784, tanh; discriminator 784-1024-512-256-1, sigmoid;
BCE, Adam 2e-4 with betas (0.5, 0.999)) and a DDPM (T = 1000, linear betas 1e-4..0.02) with an MLP
denoiser taking t / T as one extra input are trained on Fashion-MNIST. The paper reads: both GAN
nets show a large growth of r as eta -> 0, the denoiser very little, and the generator very
little before training ("the GAN training protocol itself is responsible"). The generator has
about the compression (largest / smallest width) of the 8x autoencoder of Fig. 1, yet "the
dramatic difference in approximate continuity between these models" is read as the trained
generator's r growing far more: the 8x autoencoder is measured here too, with
``discontinuity.expansion``'s code, seeds and settings (its default scale gives the same curve).

FGSM directions (Eq. 3: each net's training loss at its training target): the generator's own
loss, BCE(D(G(z)), real) ("loss"), and the summed outputs as in the authors' generator script
("summed"); the discriminator's BCE on real images labelled real (the authors' script: labelled
fake, the opposite sign); the denoiser's noise-prediction MSE at x_t for a random t per input
(the authors' script took L1 against the clean input). In the authors' GAN and diffusion scripts
the noise terms of Eq. 6 cancel, so their curves are e_a: both r and e_a are reported, in float32
and float64. Growth is q(1e-5) / q(1e-1), the paper's range, as in ``discontinuity.expansion``.
The paper scale trains on Fashion-MNIST (Sec. 5), read from --data-dir; smoke and default run on
the bundled digits.

Widths are given for 784 pixels and scaled by in_features / 784 (latent size included, so the
generator still maps a small space into a larger one), times ``gan_width_scale`` /
``denoiser_width_scale``. Images are mapped to [-1, 1] (tanh range; DDPM convention).
Run: ``advgeom run discontinuity.generative [--scale smoke|default|paper]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from advgeom import data
from advgeom.errors import InputError, check_choice, check_fields, check_positive_fields
from advgeom.experiments.badger2023 import _compression
from advgeom.experiments.badger2023 import _curves as cv
from advgeom.experiments.badger2023 import _generative_claims as _claims
from advgeom.experiments.badger2023._train import steps_for, train_ddpm, train_gan
from advgeom.metrics.expansion import DEFAULT_ETAS, PAPER_RANGE, as_dtype
from advgeom.models.diffusion import PAPER_HIDDEN, DDPMSchedule, MLPDenoiser, TimeConditioned
from advgeom.models.gan import DISCRIMINATOR_HIDDEN, GENERATOR_HIDDEN, Discriminator, Generator
from advgeom.models.mlp import initialise
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10", "cifar100")


@dataclass(frozen=True)
class Config:
    """Paper settings (the authors' scripts): Fashion-MNIST, 50 epochs each, 512 inputs."""

    dataset: str = "fashion-mnist"
    latent_features: int = 100
    gan_epochs: float = 50.0
    gan_batch_size: int = 256
    gan_lr: float = 2e-4
    gan_width_scale: float = 1.0
    ddpm_epochs: float = 50.0
    ddpm_batch_size: int = 512
    ddpm_lr: float = 1e-4
    timesteps: int = 1000
    denoiser_hidden: tuple[int, ...] = PAPER_HIDDEN
    denoiser_width_scale: float = 1.0
    inputs: int = 512
    draws: int = 10
    etas: tuple[float, ...] = DEFAULT_ETAS
    growth_from: float = PAPER_RANGE[0]  # Sec. 4's pertinent range, 1e-1 ...
    growth_to: float = PAPER_RANGE[1]  # ... to 1e-5
    grows_factor: float = 2.0
    # Sec. 5 sets the generator beside the 8x autoencoder of discontinuity.expansion (Fig. 1),
    # trained here with that experiment's settings (the authors' script: 100 epochs, Adam 1e-4).
    ae_epochs: float = 100.0
    ae_batch_size: int = 512
    ae_lr: float = 1e-4

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        check_fields(
            self,
            (
                "latent_features",
                "gan_batch_size",
                "ddpm_batch_size",
                "ae_batch_size",
                "timesteps",
                "inputs",
                "draws",
            ),
        )
        check_positive_fields(
            self,
            (
                "gan_epochs",
                "gan_lr",
                "gan_width_scale",
                "ddpm_epochs",
                "ddpm_lr",
                "denoiser_width_scale",
                "ae_epochs",
                "ae_lr",
            ),
        )
        hid = self.denoiser_hidden
        if not hid or min(hid) < 1 or tuple(hid) != tuple(hid)[::-1]:
            raise InputError(f"denoiser_hidden must be palindromic positive widths (got {hid})")
        cv.check_settings(self)


def _scaled(widths, factor: float) -> tuple[int, ...]:
    return tuple(max(1, round(w * factor)) for w in widths)


def _images(cfg: Config, ctx: RunContext) -> torch.Tensor:
    x, _ = data.load(cfg.dataset, root=ctx.data_dir, split="train")
    return (x.flatten(1) * 2 - 1).to(ctx.device)


def _gan(cfg: Config, n_in: int, ctx: RunContext) -> tuple[Generator, Discriminator]:
    s = n_in / 784
    gen = Generator(
        latent_features=max(1, round(cfg.latent_features * s)),
        out_features=n_in,
        hidden=_scaled(GENERATOR_HIDDEN, s * cfg.gan_width_scale),
    )
    disc = Discriminator(
        in_features=n_in, hidden=_scaled(DISCRIMINATOR_HIDDEN, s * cfg.gan_width_scale)
    )
    initialise(gen, ctx.generator("init", "generator"))
    initialise(disc, ctx.generator("init", "discriminator"))
    return gen.to(ctx.device), disc.to(ctx.device)


def _bce(p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(p.reshape(-1), target.reshape(-1), reduction="none")


def gan_point(cfg: Config, ctx: RunContext, trained: bool) -> dict:
    """Curves of the generator (two directions) and the discriminator, trained or not."""
    x = _images(cfg, ctx)
    gen, disc = _gan(cfg, x.shape[1], ctx)
    trace = {}
    if trained:
        trace = train_gan(
            gen,
            disc,
            x,
            steps=steps_for(cfg.gan_epochs, len(x), cfg.gan_batch_size),
            generator=ctx.generator("train", "gan"),
            batch_size=cfg.gan_batch_size,
            lr=cfg.gan_lr,
        )
    n = min(cfg.inputs, len(x))
    z = torch.randn(n, gen.latent_features, generator=ctx.generator("latent")).to(x.device)
    # Eq. 3 steps up the loss at the training target: "real" (1) for real images and for the
    # generator's output alike (the authors' discriminator script used 0, the opposite sign).
    real = torch.ones(n, device=x.device)

    def g_loss(dtype: str):
        d = as_dtype(disc, getattr(torch, dtype)).eval()
        return lambda out, y: _bce(d(out), y)

    def draws(name: str):
        return lambda: ctx.generator("draws", name, trained)

    common = {"etas": cfg.etas, "draws": cfg.draws}
    curves = {
        "generator": cv.measure(gen, z, real, loss_for=g_loss, generator=draws("g"), **common),
        "generator_summed": cv.measure(
            gen, z, None, direction="summed_output", generator=draws("g"), **common
        ),
        "discriminator": cv.measure(disc, x[:n], real, loss=_bce, generator=draws("d"), **common),
    }
    with torch.no_grad():
        d_real = float(disc(x[:n]).mean())
        d_fake = float(disc(gen(z)).mean())
    return {
        "curves": curves,
        "loss_trace": trace,
        "d_real": d_real,
        "d_fake": d_fake,
        "latent_features": gen.latent_features,
        "generator_hidden": list(gen.hidden),
        "image_features": x.shape[1],
    }


def diffusion_point(cfg: Config, ctx: RunContext, trained: bool) -> dict:
    """Curves of the denoiser at x_t (a random t per input), trained or not."""
    x = _images(cfg, ctx)
    n_in = x.shape[1]
    hidden = _scaled(cfg.denoiser_hidden, n_in / 784 * cfg.denoiser_width_scale)
    den = MLPDenoiser(in_features=n_in, hidden=hidden, timesteps=cfg.timesteps)
    initialise(den, ctx.generator("init", "denoiser")).to(ctx.device)
    schedule = DDPMSchedule(timesteps=cfg.timesteps).to(ctx.device)
    trace = []
    if trained:
        trace = train_ddpm(
            den,
            schedule,
            x,
            steps=steps_for(cfg.ddpm_epochs, len(x), cfg.ddpm_batch_size),
            generator=ctx.generator("train", "ddpm"),
            batch_size=cfg.ddpm_batch_size,
            lr=cfg.ddpm_lr,
        )
    n = min(cfg.inputs, len(x))
    gen = ctx.generator("noising")
    t = torch.randint(0, cfg.timesteps, (n,), generator=gen).to(x.device)
    eps = torch.randn(n, n_in, generator=gen).to(x.device)
    x_t = schedule.q_sample(x[:n], t, eps)
    curve = cv.measure(
        TimeConditioned(den, t),
        x_t,
        eps,
        loss="mse",
        etas=cfg.etas,
        draws=cfg.draws,
        generator=lambda: ctx.generator("draws", "den", trained),
    )
    return {"curve": curve, "loss_trace": trace, "hidden": list(hidden)}


def run(cfg: Config, ctx: RunContext) -> dict:
    """Four points: GAN and DDPM, trained and untrained; and the 8x autoencoder (Sec. 5)."""
    models: dict[str, dict] = {}
    tags = {True: "trained", False: "untrained"}
    *nets, ae = ctx.points(
        [(f"{kind}={tags[t]}", lambda t=t, p=point: p(cfg, ctx, t))
         for t in tags for kind, point in (("gan", gan_point), ("ddpm", diffusion_point))]
        + [("autoencoder=8x", lambda: _compression.autoencoder_8x_point(cfg, ctx))]
    )
    for trained, g, d in ((True, *nets[:2]), (False, *nets[2:])):
        tag = tags[trained]
        for name, curve in g["curves"].items():
            models[f"{name}_{tag}"] = curve
        models[f"denoiser_{tag}"] = d["curve"]
        if trained:
            info = {
                "gan_loss_trace": g["loss_trace"],
                "ddpm_loss_trace": d["loss_trace"],
                "d_real": g["d_real"],
                "d_fake": g["d_fake"],
                "latent_features": g["latent_features"],
                "generator_hidden": g["generator_hidden"],
                "denoiser_hidden": d["hidden"],
                "image_features": g["image_features"],
            }
    models["autoencoder_8x_trained"] = ae["curve"]
    info |= {
        "autoencoder_8x_hidden": ae["hidden"],
        "autoencoder_8x_loss": ae["loss_trace"][-1],
    }
    metrics = {"dataset": cfg.dataset, "curves": models, "training": info}
    return {"claims": claims(cfg, metrics, ctx.scale != "smoke"), "metrics": metrics}


claims = _claims.claims


def plot(results: dict) -> dict:
    """Fig. 3: log-log r(eta) and e_a(eta) of the GAN nets and the denoiser (trained: beside
    the 8x autoencoder, Sec. 5)."""
    curves = results["metrics"]["curves"]
    figs = {}
    for tag in ("trained", "untrained"):
        named = {k.rsplit("_", 1)[0]: v for k, v in curves.items() if k.endswith(f"_{tag}")}
        extra = "; 8x AE: Sec. 5" if "autoencoder_8x" in named else ""
        title = f"{tag.capitalize()} (Fig. 3{extra})"
        figs[f"generative_{tag}"], _ = cv.plot_curves(named, title=title)
    return figs


EXPERIMENT = register(
    Experiment(
        id="discontinuity.generative",
        paper="badger",
        title="Fig. 3: expansion r(eta) and e_a(eta) of a GAN generator and discriminator vs a "
        "diffusion denoiser, trained and untrained, and vs the 8x autoencoder",
        config=Config,
        run=run,
        plot=plot,
        scales={
            "smoke": {
                "dataset": "digits",
                "gan_epochs": 3.0,
                "ddpm_epochs": 3.0,
                "inputs": 32,
                "draws": 1,
                "denoiser_width_scale": 0.1,
                "timesteps": 100,
                "etas": (1.0, 1e-1, 1e-3, 1e-5, 1e-7),
                "ae_epochs": 5.0,  # as discontinuity.expansion's smoke scale
                "ae_lr": 1e-3,
            },
            # digits; GAN ~600 steps; DDPM ~600 steps at lr 1e-3 with half the scaled widths;
            # 128 inputs x 2 draws (the paper: 50 epochs of Fashion-MNIST, 512 x 10); the 8x
            # autoencoder as discontinuity.expansion's default scale trains it.
            "default": {
                "dataset": "digits",
                "gan_epochs": 115.0,
                "ddpm_epochs": 230.0,
                "ddpm_lr": 1e-3,
                "denoiser_width_scale": 0.5,
                "inputs": 128,
                "draws": 2,
                "ae_epochs": 330.0,
                "ae_lr": 1e-3,
            },
        },
    )
)
