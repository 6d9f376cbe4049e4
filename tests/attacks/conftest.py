"""Small models shared by the attack tests (tiny, so the suite stays fast on 2 CPUs)."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def make_mlp(d: int = 8, classes: int = 3, hidden: int = 16, seed: int = 0) -> nn.Module:
    """A small ReLU classifier with batch-norm (so eval/train mode matters)."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(d, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, classes)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (1.0 / p.shape[-1] ** 0.5))
    return model


class Recorder(nn.Module):
    """Wraps a model and keeps every input it is called with (the attack's iterates)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.seen = model, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return self.model(x)


def norm_of(v: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-example l2 or l_inf norm, written here rather than taken from the library under test."""
    flat = v.flatten(1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


@pytest.fixture(scope="session")
def recorder():
    """:class:`Recorder` (session scope, so hypothesis tests can use it)."""
    return Recorder


@pytest.fixture(scope="session")
def vector_norm():
    """:func:`norm_of` (session scope, so hypothesis tests can use it)."""
    return norm_of


def make_peer_case(batch: int = 500) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The net of the peer cross-checks: 24 inputs in [0, 1] shaped (batch, 1, 1, 24), as
    torchattacks wants images, 4 classes; labels are its clean predictions."""
    g = torch.Generator().manual_seed(0)
    d, classes = 24, 4
    model = nn.Sequential(nn.Flatten(), nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, classes))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
    model.eval()
    x = torch.rand(batch, 1, 1, d, generator=g)
    with torch.no_grad():
        return model, x, model(x).argmax(1)


@pytest.fixture(scope="session")
def peer_case():
    """:func:`make_peer_case`, for the cross-checks against torchattacks and Foolbox."""
    return make_peer_case


@pytest.fixture(scope="session")
def affine_case(affine_factory):
    """``make(seed, n=12, batch=40)``: a random one-logit affine model z = w.x + b in float64,
    points x, labels y (1 where z > 0), w and |z|, the numerator of the closed-form distance
    |w.x + b| / ||w||_dual."""

    def make(seed: int, n: int = 12, batch: int = 40):
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(n, generator=g, dtype=torch.float64)
        b = float(torch.randn((), generator=g, dtype=torch.float64))
        x = torch.randn(batch, n, generator=g, dtype=torch.float64)
        model = affine_factory(w, b)
        y = (model(x)[:, 0] > 0).long()
        return model, x, y, w, (x @ w + b).abs()

    return make


@pytest.fixture(scope="session")
def mlp_factory():
    """``make_mlp`` as a fixture (session scope, so hypothesis tests can use it)."""
    return make_mlp


@pytest.fixture
def mlp() -> nn.Module:
    return make_mlp()


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(32, 8, generator=g)
    y = torch.randint(0, 3, (32,), generator=g)
    return x, y
