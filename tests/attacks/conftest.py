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
