"""Cross-check with the peers torchattacks and Foolbox (skipped when absent), random start off.

torchattacks' PGD and PGDL2 return the last iterate, as our PGD does without early stop, so the
robust accuracies must agree (within 1 point). torchattacks' PGDL2 reshapes norms to 4-D, so the
inputs are (batch, 1, 1, d) images in [0, 1].
"""

from __future__ import annotations

import pytest
import torch

from advgeom.attacks import pgd


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


@pytest.mark.parametrize("norm,eps", [("linf", 0.03), ("l2", 0.25)])
def test_robust_accuracy_matches_torchattacks(peer_case, norm, eps):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = peer_case()
    steps, step = 20, eps / 8
    cls = torchattacks.PGD if norm == "linf" else torchattacks.PGDL2
    theirs = _accuracy(
        model, cls(model, eps=eps, alpha=step, steps=steps, random_start=False)(x, y), y
    )
    ours = pgd(model, x, y, eps=eps, norm=norm, steps=steps, step_size=step, bounds=(0.0, 1.0))
    assert 0.05 < ours.robust_accuracy < 0.95  # the check is informative
    assert abs(ours.robust_accuracy - theirs) <= 0.01


@pytest.mark.parametrize("norm,eps", [("linf", 0.03), ("l2", 0.25)])
def test_robust_accuracy_matches_foolbox(peer_case, norm, eps):
    fb = pytest.importorskip("foolbox")
    model, x, y = peer_case()
    steps, step = 20, eps / 8
    cls = fb.attacks.LinfPGD if norm == "linf" else fb.attacks.L2PGD
    attack = cls(abs_stepsize=step, steps=steps, random_start=False)
    _, _, success = attack(fb.PyTorchModel(model, bounds=(0, 1)), x, y, epsilons=[eps])
    ours = pgd(model, x, y, eps=eps, norm=norm, steps=steps, step_size=step, bounds=(0.0, 1.0))
    assert abs(ours.robust_accuracy - (1 - success.float().mean().item())) <= 0.01
