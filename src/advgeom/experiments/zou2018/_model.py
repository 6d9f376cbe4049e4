"""The small digits classifiers the ``softmax.*`` experiments train (no settings in the paper).

A ReLU MLP without batch-norm on flattened 8x8 digits; its last hidden layer (after the ReLU) is
the feature map g of the paper and its final ``nn.Linear`` the softmax layer. ``parallel=True``
replaces that layer with a :class:`~advgeom.geometry.softmax_parallel.ChainHead`. Training is a
short Adam loop on one CPU thread (batches of 64 gain nothing from more).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advgeom import data
from advgeom.devices import single_thread_on_cpu
from advgeom.geometry.softmax_parallel import ChainHead
from advgeom.models.mlp import ReLUMLP, initialise

CLASSES = 10


def load_digits(device: torch.device) -> dict[str, Tensor]:
    """Flattened digits ``(N, 64)`` in [0, 1] and labels, both splits, on ``device``."""
    out = {}
    for split in ("train", "test"):
        x, y = data.load("digits", split=split)
        out[f"x_{split}"], out[f"y_{split}"] = data.flatten(x).to(device), y.to(device)
    return out


def build(hidden: int, depth: int, *, parallel: bool, generator: torch.Generator) -> ReLUMLP:
    """``ReLUMLP(64 -> hidden x depth -> 10)``, initialised from ``generator`` alone."""
    model = ReLUMLP(
        in_features=64, hidden=hidden, depth=depth, out_features=CLASSES, batch_norm=False
    )
    initialise(model, generator)  # PyTorch's default Linear init, drawn from the generator
    if parallel:
        model[-1] = ChainHead(hidden, CLASSES, generator=generator)
    return model


def features(model: nn.Sequential, x: Tensor) -> Tensor:
    """g(x): the output of the last hidden layer (after its ReLU), ``(batch, hidden)``."""
    for layer in list(model)[:-1]:  # slicing a ReLUMLP would call its keyword-only constructor
        x = layer(x)
    return x


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    model.eval()
    return float((model(x).argmax(dim=1) == y).float().mean())


def train(
    model: nn.Module,
    digits: dict[str, Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
) -> dict:
    """Adam on cross-entropy for ``epochs`` passes; returns train/test accuracy."""
    x, y = digits["x_train"], digits["y_train"]
    model.to(x.device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with single_thread_on_cpu(x.device):
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=generator).to(x.device)
            for start in range(0, len(x), batch_size):
                idx = order[start : start + batch_size]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    model.eval()
    return {
        "train_accuracy": accuracy(model, x, y),
        "test_accuracy": accuracy(model, digits["x_test"], digits["y_test"]),
    }


def numpy_rng(generator: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded from a torch one (for numpy-side sampling)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
