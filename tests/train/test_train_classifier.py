"""The generic classifier training loop: it learns, records history, is reproducible."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.models.cnn import FCNet
from advgeom.train import Method, train_classifier


def blobs(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 1, 2, 2, generator=g) * 0.5 + (2 * y - 1).view(-1, 1, 1, 1).float()
    return x, y


def model(seed: int = 0) -> nn.Module:
    return FCNet(
        input_shape=(1, 2, 2),
        hidden=16,
        depth=1,
        out_features=2,
        generator=torch.Generator().manual_seed(seed),
    )


@pytest.mark.parametrize("method,eps", [("plain", None), ("grad_l1", 0.1), ("pgd", 0.1)])
def test_training_learns_separable_blobs(method, eps):
    x, y = blobs()
    net = model()
    seen = []

    def hook(epoch, m):
        seen.append((epoch, m.training))
        with torch.no_grad():
            return {"clean_accuracy": float((m(x).argmax(1) == y).float().mean())}

    history = train_classifier(
        net,
        x,
        y,
        method=method,
        eps=eps,
        epochs=5,
        batch_size=32,
        lr=0.05,
        generator=torch.Generator().manual_seed(1),
        on_epoch=hook,
    )
    assert [h["epoch"] for h in history] == list(range(6))
    assert seen == [(e, False) for e in range(6)]  # the hook runs in eval mode
    assert net.training  # and training mode is back afterwards
    assert history[-1]["clean_accuracy"] > 0.95
    assert history[-1]["loss"] < history[1]["loss"]
    assert 0 <= history[-1]["accuracy"] <= 1 and "objective" in history[-1]


def test_training_is_reproducible_from_the_generator():
    x, y = blobs()
    nets = [model(), model()]
    for net in nets:
        train_classifier(
            net,
            x,
            y,
            method=Method("pgd", eps=0.2),
            epochs=2,
            batch_size=50,
            generator=torch.Generator().manual_seed(7),
        )
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.equal(a, b)


def test_zero_epochs_only_measures():
    x, y = blobs(20)
    net = model()
    before = [p.clone() for p in net.parameters()]
    history = train_classifier(
        net, x, y, epochs=0, generator=torch.Generator(), on_epoch=lambda e, m: {"e": e}
    )
    assert history == [{"epoch": 0, "e": 0}]
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(epochs=-1),
        dict(batch_size=0),
        dict(lr=0.0),
        dict(method=Method("pgd", eps=0.1), eps=0.1),
        dict(method="nope"),
    ],
)
def test_bad_arguments_are_input_errors(kwargs):
    x, y = blobs(10)
    with pytest.raises(InputError):
        train_classifier(model(), x, y, **{"epochs": 1, **kwargs}, generator=torch.Generator())


def test_labels_must_match_inputs():
    x, y = blobs(10)
    with pytest.raises(InputError):
        train_classifier(model(), x, y[:5], epochs=1, generator=torch.Generator())
