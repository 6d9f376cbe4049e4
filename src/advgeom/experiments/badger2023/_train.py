"""Training loops of Badger's models, every random draw from one ``torch.Generator``.

- classifier: cross-entropy, Adam 1e-4, batch 512 (the authors' script);
- autoencoder: MSE reconstruction, Adam 1e-4, batch 512;
- GAN: binary cross-entropy, Adam 2e-4 with betas (0.5, 0.999) for both nets, batch 256 (the
  authors' minibatch); the generator is trained to make the discriminator say "real";
- DDPM: noise-prediction MSE at a uniformly drawn time step, Adam 1e-4, batch 512.

Loops count optimiser steps (not epochs) so a budget is explicit; batches are drawn by
shuffling the training set anew at each pass. Dropout and other global-RNG users are seeded from
the generator inside :func:`seeded_global_rng`, so a run follows its seed alone.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advgeom.devices import single_thread_on_cpu
from advgeom.models.diffusion import DDPMSchedule
from advgeom.models.gan import Discriminator, Generator
from advgeom.progress import track


@contextlib.contextmanager
def seeded_global_rng(generator: torch.Generator, device: torch.device) -> Iterator[None]:
    """Seed torch's global generators (dropout draws from them) from ``generator``, restoring
    their state afterwards."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        yield


def _batches(n: int, batch_size: int, steps: int, generator: torch.Generator) -> Iterator[Tensor]:
    """``steps`` index batches, reshuffling the n examples at each pass."""
    order = torch.randperm(n, generator=generator)
    pos = 0
    for _ in range(steps):
        if pos + batch_size > n:
            order, pos = torch.randperm(n, generator=generator), 0
        yield order[pos : pos + min(batch_size, n)]
        pos += batch_size


def steps_for(epochs: float, n: int, batch_size: int) -> int:
    """Optimiser steps for ``epochs`` passes over ``n`` examples in batches (at least one)."""
    return max(1, math.ceil(epochs * n / batch_size))


def _fit(
    model: nn.Module,
    x: Tensor,
    loss_of: Callable[[Tensor], Tensor],
    steps: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    *,
    description: str,
) -> list[float]:
    """Adam on ``model``'s parameters for ``loss_of(index_batch)``, batches of indices into
    ``x`` (N, ...) on x's device; returns the loss every tenth of the run."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    trace: list[float] = []
    every = max(1, steps // 10)
    with single_thread_on_cpu(x.device), seeded_global_rng(generator, x.device):
        batches = _batches(len(x), batch_size, steps, generator)
        for step, idx in enumerate(track(batches, total=steps, description=description)):
            loss = loss_of(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % every == 0 or step == steps - 1:
                trace.append(float(loss.detach()))
    model.eval()
    return trace


def train_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    steps: int,
    generator: torch.Generator,
    batch_size: int = 512,
    lr: float = 1e-4,
) -> list[float]:
    """Cross-entropy training in place; x, y on the model's device. Returns the loss trace."""

    def loss_of(i: Tensor) -> Tensor:
        return F.cross_entropy(model(x[i]), y[i])

    return _fit(model, x, loss_of, steps, batch_size, lr, generator, description="classifier")


def train_autoencoder(
    model: nn.Module,
    x: Tensor,
    *,
    steps: int,
    generator: torch.Generator,
    batch_size: int = 512,
    lr: float = 1e-4,
) -> list[float]:
    """MSE reconstruction training in place. Returns the loss trace."""

    def loss_of(i: Tensor) -> Tensor:
        return F.mse_loss(model(x[i]), x[i])

    return _fit(model, x, loss_of, steps, batch_size, lr, generator, description="autoencoder")


def train_ddpm(
    denoiser: nn.Module,
    schedule: DDPMSchedule,
    x: Tensor,
    *,
    steps: int,
    generator: torch.Generator,
    batch_size: int = 512,
    lr: float = 1e-4,
) -> list[float]:
    """Noise-prediction MSE (Ho et al., Alg. 1) in place; x in [-1, 1]. Returns the loss trace."""

    def loss_of(i: Tensor) -> Tensor:
        x0 = x[i]
        t = torch.randint(0, schedule.timesteps, (len(i),), generator=generator).to(x.device)
        noise = torch.randn(x0.shape, generator=generator).to(x.device)
        return F.mse_loss(denoiser(schedule.q_sample(x0, t, noise), t), noise)

    return _fit(denoiser, x, loss_of, steps, batch_size, lr, generator, description="diffusion")


def train_gan(
    gen: Generator,
    disc: Discriminator,
    x: Tensor,
    *,
    steps: int,
    generator: torch.Generator,
    batch_size: int = 256,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
) -> dict[str, list[float]]:
    """Alternate one discriminator and one generator step per batch (the authors' loop).

    x: (N, out_features) real images in [-1, 1]. Returns both loss traces.
    """
    d_opt = torch.optim.Adam(disc.parameters(), lr=lr, betas=betas)
    g_opt = torch.optim.Adam(gen.parameters(), lr=lr, betas=betas)
    gen.train()
    disc.train()
    trace: dict[str, list[float]] = {"discriminator": [], "generator": []}
    every = max(1, steps // 10)
    with single_thread_on_cpu(x.device), seeded_global_rng(generator, x.device):
        batches = _batches(len(x), batch_size, steps, generator)
        for step, idx in enumerate(track(batches, total=steps, description="GAN")):
            real = x[idx]
            z = torch.randn(len(idx), gen.latent_features, generator=generator).to(x.device)
            fake = gen(z)
            logits = disc.logit(torch.cat((real, fake.detach())))
            labels = torch.cat((torch.ones(len(real)), torch.zeros(len(fake)))).to(x.device)
            d_loss = F.binary_cross_entropy_with_logits(logits.squeeze(1), labels)
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
            fooled = disc.logit(fake).squeeze(1)
            g_loss = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            if step % every == 0 or step == steps - 1:
                trace["discriminator"].append(float(d_loss.detach()))
                trace["generator"].append(float(g_loss.detach()))
    gen.eval()
    disc.eval()
    return trace


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int = 2048) -> float:
    """Share of correct argmax predictions, in eval mode."""
    model.eval()
    correct = sum(
        int((model(x[k : k + batch_size]).argmax(1) == y[k : k + batch_size]).sum())
        for k in range(0, len(x), batch_size)
    )
    return correct / max(1, len(x))
