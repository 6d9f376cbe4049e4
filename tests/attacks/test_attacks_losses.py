"""Losses per example and the default notion of success."""

from __future__ import annotations

import torch

from advgeom.attacks import (
    binary_cross_entropy,
    cross_entropy,
    default_is_adversarial,
    mse,
    predictions,
)


def test_losses_are_per_example():
    logits = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    y = torch.tensor([0, 0])
    ce = cross_entropy(logits, y)
    assert ce.shape == (2,) and ce[1] > ce[0]
    z = torch.tensor([[2.0], [-1.0]])
    bce = binary_cross_entropy(z, torch.tensor([1, 1]))
    assert torch.allclose(bce, torch.nn.functional.softplus(-z[:, 0]))
    # One logit z is the two-logit model [0, z]: both cross-entropies agree.
    two = torch.cat([torch.zeros_like(z), z], dim=1)
    assert torch.allclose(cross_entropy(two, torch.tensor([1, 1])), bce)
    assert torch.allclose(mse(torch.ones(2, 3), torch.zeros(2, 3)), torch.ones(2))


def test_success_for_classifiers_and_one_logit_models():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0]])
    assert torch.equal(predictions(logits), torch.tensor([0, 1]))
    assert torch.equal(
        default_is_adversarial(logits, torch.tensor([0, 0])), torch.tensor([False, True])
    )
    hit = default_is_adversarial(logits, torch.tensor([0, 0]), targeted=True)
    assert torch.equal(hit, torch.tensor([True, False]))
    z = torch.tensor([[0.5], [-0.5], [0.0]])
    assert torch.equal(predictions(z), torch.tensor([1, 0, 0]))
    assert torch.equal(
        default_is_adversarial(z, torch.tensor([1, 1, 1])), torch.tensor([False, True, True])
    )
    assert torch.equal(
        default_is_adversarial(z[:, 0], torch.tensor([0, 0, 0])), torch.tensor([True, False, False])
    )
