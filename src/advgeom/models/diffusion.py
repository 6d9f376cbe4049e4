"""A denoising diffusion model (DDPM, Ho et al. 2020) with an MLP denoiser (Badger, Sec. 5).

- :class:`DDPMSchedule`: T = 1000 steps, betas linear from 1e-4 to 0.02; ``q_sample`` noises
  clean images, ``sample`` runs the reverse process.
- :class:`MLPDenoiser`: predicts the noise of ``x_t``; the time step enters as one extra input,
  ``t / T`` (Badger: "a continuous value from one input element rather than a positional
  encoding"). As in the authors' script the hidden widths are palindromic, each hidden GELU is
  followed by a LayerNorm, and the second half adds the pre-activation of the mirrored layer of
  the first half (a U-Net-like skip). Their widths: 10000-5000-2500-5000-10000.
- :class:`TimeConditioned`: the denoiser at fixed time steps as a one-argument model, for
  measurements that perturb ``x_t`` only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from advgeom.errors import InputError, check_int, check_positive
from advgeom.models.funnel import check_widths

PAPER_HIDDEN = (10000, 5000, 2500, 5000, 10000)


class DDPMSchedule(nn.Module):
    """The forward (noising) process and the reverse sampler of a DDPM.

    Args:
        timesteps: T.
        beta_start, beta_end: the linear schedule's ends.

    Buffers (each ``(T,)``): ``betas``, ``alphas_cumprod``.
    """

    def __init__(
        self, *, timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
    ) -> None:
        super().__init__()
        self.timesteps = check_int("timesteps", timesteps, minimum=1)
        if not 0 < check_positive("beta_start", beta_start) <= beta_end < 1:
            raise InputError(f"need 0 < beta_start <= beta_end < 1 (got {beta_start}, {beta_end})")
        betas = torch.linspace(beta_start, beta_end, self.timesteps, dtype=torch.float64)
        self.register_buffer("betas", betas.float())
        self.register_buffer("alphas_cumprod", torch.cumprod(1 - betas, 0).float())

    def _at(self, values: Tensor, t: Tensor, like: Tensor) -> Tensor:
        return values[t].to(like.dtype).view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``; t: (batch,) int in [0, T)."""
        abar = self._at(self.alphas_cumprod, t, x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    @torch.no_grad()
    def sample(
        self, denoiser: nn.Module, shape: Sequence[int], *, generator: torch.Generator | None = None
    ) -> Tensor:
        """Ancestral sampling (Ho et al., Alg. 2) from pure noise; returns (batch, *shape[1:])."""
        device = self.betas.device
        x = torch.randn(tuple(shape), generator=generator, device=device)
        for step in reversed(range(self.timesteps)):
            t = torch.full((x.shape[0],), step, dtype=torch.long, device=device)
            beta, abar = self._at(self.betas, t, x), self._at(self.alphas_cumprod, t, x)
            mean = (x - beta / (1 - abar).sqrt() * denoiser(x, t)) / (1 - beta).sqrt()
            if step == 0:
                return mean
            abar_prev = self._at(self.alphas_cumprod, t - 1, x)
            var = beta * (1 - abar_prev) / (1 - abar)
            noise = torch.randn(x.shape, generator=generator, device=device)
            x = mean + var.sqrt() * noise
        return x


class MLPDenoiser(nn.Module):
    """Fully connected noise predictor ``eps(x_t, t)`` with the time as one extra input.

    Args:
        in_features: flattened image size.
        hidden: palindromic hidden widths (the authors' 10000-5000-2500-5000-10000).
        timesteps: T; the extra input is ``t / T``.

    Shapes:
        ``x``: (batch, *shape) with ``prod(shape) == in_features``; ``t``: (batch,) ints or one
        int -> (batch, *shape).
    """

    def __init__(
        self,
        *,
        in_features: int = 784,
        hidden: Sequence[int] = PAPER_HIDDEN,
        timesteps: int = 1000,
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.timesteps = check_int("timesteps", timesteps, minimum=1)
        self.hidden = check_widths("hidden", hidden)
        if self.hidden != self.hidden[::-1]:
            raise InputError(f"hidden must read the same both ways (got {self.hidden})")
        widths = (self.in_features + 1, *self.hidden)
        pairs = zip(widths, widths[1:], strict=False)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
        self.norms = nn.ModuleList(nn.LayerNorm(h) for h in self.hidden)
        self.act = nn.GELU()
        self.out = nn.Linear(self.hidden[-1], self.in_features)

    def forward(self, x: Tensor, t: Tensor | int) -> Tensor:
        t = torch.as_tensor(t, device=x.device).expand(x.shape[0])
        h = torch.cat((x.flatten(1), (t.to(x.dtype) / self.timesteps).unsqueeze(1)), dim=1)
        n, pre = len(self.hidden), []
        for k, (layer, norm) in enumerate(zip(self.layers, self.norms, strict=True)):
            p = layer(h)
            pre.append(p)
            h = norm(self.act(p))
            if k >= n - 1 - k:  # second half: add the mirrored layer's pre-activation
                h = h + pre[n - 1 - k]
        return self.out(h).view_as(x)


class TimeConditioned(nn.Module):
    """``x -> denoiser(x, t)`` at fixed time steps ``t`` (one per example, or one for all)."""

    def __init__(self, denoiser: nn.Module, t: Tensor | int) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.register_buffer("t", torch.as_tensor(t, dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        return self.denoiser(x, self.t)
