"""Training objectives of Simon-Gabriel et al.: closed forms on linear models, finite
differences."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.models.cnn import StridedCNN
from advgeom.train import (
    METHODS,
    Method,
    adversarial_augmentation_loss,
    cross_lipschitz,
    gradient_penalty,
    gradient_penalty_loss,
    gradient_step,
    objective,
    penalty_weight,
    pgd_training_loss,
    plain_loss,
)


def output_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A loss equal to the (one) logit: its input gradient is exactly w for f = w.x + b."""
    return out[:, 0]


def linear(d: int, seed: int = 0) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(d, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, d, generator=g, dtype=torch.float64))
        model.bias.fill_(0.3)
    x = torch.rand(5, d, generator=g, dtype=torch.float64)
    return model, x, torch.zeros(5, dtype=torch.long)


@pytest.mark.parametrize("q", [1, 2])
def test_penalty_of_a_linear_model_is_eps_half_w_norm(q):
    d, eps = 49, 0.03
    model, x, y = linear(d)
    w = model.weight.detach()[0]
    w_norm = w.abs().sum() if q == 1 else w.norm()
    expected = eps * d ** (1 - 1 / q) / 2 * w_norm  # (eps_p / 2) ||w||_q, eps_p = eps d^(1/p)
    pen = gradient_penalty(model, x, y, eps=eps, q=q, loss=output_loss)
    assert pen.shape == (5,)
    assert torch.allclose(pen, expected.expand(5), rtol=1e-12, atol=0)
    if q == 1:  # the paper's units: eps per pixel is the l_inf radius, dual to q = 1
        assert torch.allclose(pen, (eps / 2 * w.abs().sum()).expand(5), rtol=1e-12, atol=0)
    obj = gradient_penalty_loss(model, x, y, eps=eps, q=q, loss=output_loss)
    assert obj.total.item() == pytest.approx((model(x)[:, 0].mean() + expected).item(), rel=1e-12)
    assert penalty_weight(eps, q=q, d=d) == pytest.approx(eps * d ** (1 - 1 / q) / 2)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_augmentation_equals_the_dual_penalty_for_a_linear_loss(norm):
    """Prop. 3 is exact for a loss linear in x: (L(x) + L(x + delta)) / 2 = L + eps_p/2 ||w||_q."""
    model, x, y = linear(30, seed=1)
    aug = adversarial_augmentation_loss(model, x, y, eps=0.02, norm=norm, loss=output_loss)
    pen = gradient_penalty_loss(
        model, x, y, eps=0.02, q=1 if norm == "linf" else 2, loss=output_loss
    )
    assert aug.total.item() == pytest.approx(pen.total.item(), rel=1e-12)
    assert aug.loss.item() == pytest.approx(model(x)[:, 0].mean().item(), rel=1e-12)


def test_gradient_step_has_the_right_size():
    g = torch.tensor([[3.0, -4.0, 0.0, 0.0]])
    assert torch.equal(gradient_step(g, eps=0.1, norm="linf"), torch.tensor([[0.1, -0.1, 0, 0]]))
    step = gradient_step(g, eps=0.1, norm="l2")
    assert step.norm().item() == pytest.approx(0.1 * math.sqrt(4))  # eps_2 = eps sqrt(d)
    assert torch.allclose(step, g / 5 * 0.2)
    assert torch.equal(gradient_step(torch.zeros(2, 3), eps=1.0, norm="l2"), torch.zeros(2, 3))


def test_pgd_training_reaches_the_corner_of_the_box_for_a_linear_loss():
    """From any start in the cube, 10 steps of 0.2 eps along sign(w) reach x + eps sign(w)."""
    model, x, y = linear(12, seed=2)
    w = model.weight.detach()[0]
    gen = torch.Generator().manual_seed(0)
    obj = pgd_training_loss(model, x, y, eps=0.05, steps=10, loss=output_loss, generator=gen)
    expected = model(x)[:, 0].mean() + 0.05 * w.abs().sum()
    assert obj.total.item() == pytest.approx(expected.item(), rel=1e-10)
    # The paper's 7 steps of 0.2 eps from a random start: between the clean and the worst loss.
    obj7 = objective(model, x, y, Method("pgd", eps=0.05), loss=output_loss, generator=gen)
    assert model(x)[:, 0].mean().item() < obj7.total.item() <= expected.item() + 1e-12


def test_cross_lipschitz_of_a_linear_multiclass_model():
    torch.manual_seed(0)
    model = nn.Linear(6, 4).double()
    x = torch.rand(3, 6, dtype=torch.float64)
    value, logits = cross_lipschitz(model, x)
    w = model.weight.detach()
    expected = sum((w[i] - w[j]).square().sum() for i in range(4) for j in range(4)) / 16
    assert torch.allclose(value, expected.expand(3), rtol=1e-12)
    assert torch.allclose(logits, model(x))


def _mlp() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 3)).double()


@pytest.mark.parametrize("method", ["grad_l1", "grad_l2", "cross_lipschitz"])
def test_objective_gradient_matches_finite_differences(method):
    """Double back-propagation: d(objective)/d(params) along a direction vs central differences.

    (Not for adversarial augmentation: its delta is data, held fixed in the parameter gradient.)
    """
    model = _mlp()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 2, 4, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2])
    m = Method(method, eps=0.3)
    params = list(model.parameters())
    (objective(model, x, y, m).total).backward()
    direction = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in params]
    analytic = sum((p.grad * v).sum() for p, v in zip(params, direction, strict=True)).item()

    def value_at(t: float) -> float:
        with torch.no_grad():
            for p, v in zip(params, direction, strict=True):
                p.add_(v, alpha=t)
        out = objective(model, x, y, m).total.item()
        with torch.no_grad():
            for p, v in zip(params, direction, strict=True):
                p.sub_(v, alpha=t)
        return out

    h = 1e-6
    numeric = (value_at(h) - value_at(-h)) / (2 * h)
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_the_penalty_changes_the_parameter_gradient():
    model = _mlp()
    x = torch.randn(4, 2, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0])
    grads = []
    for eps in (0.0, 0.5):
        model.zero_grad()
        objective(model, x, y, Method("grad_l2", eps=eps)).total.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert not torch.allclose(grads[0], grads[1])


@pytest.mark.parametrize("name", METHODS)
def test_eps_zero_is_plain_training(name):
    model = _mlp()
    x = torch.randn(4, 2, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0])
    plain = plain_loss(model, x, y).total.item()
    assert objective(model, x, y, Method(name, eps=0.0)).total.item() == pytest.approx(plain)


@pytest.mark.parametrize("name", METHODS[1:])
def test_every_method_trains_a_batch_norm_cnn(name):
    """Double back-propagation through batch-norm in train mode works and gives finite values."""
    gen = torch.Generator().manual_seed(0)
    model = StridedCNN(input_shape=(1, 8, 8), channels=4, generator=gen).train()
    x = torch.rand(6, 1, 8, 8, generator=gen)
    y = torch.randint(0, 10, (6,), generator=gen)
    obj = objective(model, x, y, Method(name, eps=0.05), generator=gen)
    obj.total.backward()
    assert math.isfinite(obj.total.item()) and obj.output.shape == (6, 10)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.training  # the PGD attack restores the train mode


@pytest.mark.parametrize(
    "bad",
    [
        dict(name="fgsm"),
        dict(eps=-0.1),
        dict(pgd_steps=0),
        dict(pgd_step_fraction=0.0),
        dict(bounds=(1.0, 0.0)),
    ],
)
def test_method_rejects_bad_settings(bad):
    with pytest.raises(InputError):
        Method(**{"name": "pgd", **bad})


def test_bad_q_and_non_logit_outputs_are_input_errors():
    model, x, y = linear(4)
    with pytest.raises(InputError):
        gradient_penalty(model, x, y, eps=0.1, q=3)
    with pytest.raises(InputError, match="cross_lipschitz"):
        cross_lipschitz(model, x)
    assert Method("grad_l1", eps=0.01).label == "grad_l1 eps=0.01"
