"""Shapes and structure of Badger's models: funnel classifier, autoencoders, GAN, DDPM."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.models.autoencoder import FUNNELS, autoencoder, autoencoder_widths
from advgeom.models.diffusion import DDPMSchedule, MLPDenoiser, TimeConditioned
from advgeom.models.funnel import FunnelClassifier
from advgeom.models.gan import Discriminator, Generator


def widths(model: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


def test_classifier_has_the_papers_widths_and_takes_images():
    model = FunnelClassifier()
    assert widths(model) == [(784, 1000), (1000, 500), (500, 250), (250, 125), (125, 100)]
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 100)
    small = FunnelClassifier(in_features=64, hidden=(16, 8), out_features=10, dropout=0.2)
    assert small(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert sum(isinstance(m, nn.Dropout) for m in small.modules()) == 2


def test_autoencoders_follow_the_appendix():
    assert autoencoder_widths("8x", in_features=784) == (2000, 1000, 500, 250, 500, 1000, 2000)
    assert autoencoder_widths("16x", in_features=784) == FUNNELS["16x"]
    assert autoencoder_widths("none", in_features=784) == (784,) * 6
    for kind, ratio in (("none", 1.0), ("8x", 784 / 250), ("16x", 784 / 125)):
        model = autoencoder(kind)
        assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 28, 28)
        assert model.compression == pytest.approx(ratio)
        assert any(isinstance(m, nn.GELU) for m in model.modules())
        assert any(isinstance(m, nn.LayerNorm) for m in model.modules()) == (kind != "none")


def test_scaled_funnels_keep_the_input_to_narrowest_ratio():
    model = autoencoder("16x", in_features=64, width_scale=64 / 784)
    assert model.compression == pytest.approx(784 / 125, rel=0.05)
    assert model(torch.zeros(5, 1, 8, 8)).shape == (5, 1, 8, 8)


def test_gan_shapes_and_ranges():
    gen, disc = Generator(), Discriminator()
    assert widths(gen) == [(100, 256), (256, 512), (512, 1024), (1024, 784)]
    assert widths(disc) == [(784, 1024), (1024, 512), (512, 256), (256, 1)]
    z = torch.randn(4, 100, generator=torch.Generator().manual_seed(0)) * 50
    images = gen(z)
    assert images.shape == (4, 784) and images.abs().max() <= 1
    p = disc(images)
    assert p.shape == (4, 1) and ((p > 0) & (p < 1)).all()
    assert torch.allclose(torch.sigmoid(disc.logit(images)), p)
    assert disc(torch.zeros(2, 1, 28, 28)).shape == (2, 1)


def test_ddpm_schedule_and_denoiser():
    sched = DDPMSchedule()
    assert sched.betas[0] == pytest.approx(1e-4) and sched.betas[-1] == pytest.approx(0.02)
    assert sched.alphas_cumprod.shape == (1000,)
    x0 = torch.ones(3, 4)
    noise = torch.zeros(3, 4)
    t = torch.tensor([0, 500, 999])
    xt = sched.q_sample(x0, t, noise)
    assert torch.allclose(xt[:, 0], sched.alphas_cumprod[t].sqrt())
    den = MLPDenoiser(in_features=4, hidden=(8, 6, 8), timesteps=1000)
    assert widths(den)[0] == (5, 8)  # the time step is one extra input
    assert den(torch.zeros(3, 1, 2, 2), t).shape == (3, 1, 2, 2)
    assert den(torch.zeros(3, 4), 7).shape == (3, 4)
    fixed = TimeConditioned(den, t)
    assert torch.equal(fixed(xt), den(xt, t))
    # The time input matters: the same x at two time steps gives two outputs.
    assert not torch.allclose(den(xt, 0), den(xt, 999))


def test_ddpm_sampling_runs_the_reverse_process():
    sched = DDPMSchedule(timesteps=20)
    den = MLPDenoiser(in_features=3, hidden=(4,), timesteps=20)
    out = sched.sample(den, (5, 3), generator=torch.Generator().manual_seed(0))
    assert out.shape == (5, 3) and torch.isfinite(out).all()


def test_bad_arguments_are_refused():
    with pytest.raises(InputError, match="hidden"):
        MLPDenoiser(in_features=4, hidden=(8, 6))
    with pytest.raises(InputError, match="dropout"):
        FunnelClassifier(dropout=1.0)
    with pytest.raises(InputError, match="kind"):
        autoencoder("4x")
    with pytest.raises(InputError, match="out_features"):
        Generator(out_features=0)
    with pytest.raises(InputError, match="beta"):
        DDPMSchedule(beta_start=0.1, beta_end=0.01)
