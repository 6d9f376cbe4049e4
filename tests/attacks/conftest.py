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
