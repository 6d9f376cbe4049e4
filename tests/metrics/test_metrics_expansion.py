"""Expansion e_a, e_n and r (Badger, Eq. 4-6) on maps whose values are known in closed form."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.metrics import expansion


def linear(weight: torch.Tensor) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=True)
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.fill_(0.3)
    return layer


def test_scaled_identity_has_r_one_and_e_a_its_scale():
    """An isotropic Jacobian c*I: every direction expands by exactly c, so e_a = e_n = c, r = 1."""
    model = linear(2.5 * torch.eye(6))
    x = torch.randn(10, 6, generator=torch.Generator().manual_seed(0))
    res = expansion(
        model,
        x,
        x,
        loss="mse",
        dtype="float64",
        draws=3,
        etas=(1.0, 1e-3, 1e-7),
        generator=torch.Generator().manual_seed(1),
    )
    assert torch.allclose(res.e_a, torch.full_like(res.e_a, 2.5), rtol=1e-8)
    assert torch.allclose(res.e_n, torch.full_like(res.e_n, 2.5), rtol=1e-8)
    assert torch.allclose(res.r, torch.ones_like(res.r), rtol=1e-8)
    s = res.summary()
    assert s["r"] == pytest.approx([1.0] * 3) and s["r_pooled"] == pytest.approx([1.0] * 3)


def test_orthogonal_map_e_a_in_closed_form():
    """For an orthogonal Q (isotropic in L2, not in L1) e_a is ||Q s||_1 / ||s||_1 exactly,
    s = sign of the loss gradient, whatever eta."""
    q, _ = torch.linalg.qr(
        torch.randn(5, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    )
    q = q.float().double()  # the weights the float32 layer holds, exactly
    model = linear(q.float())
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(3))
    y = torch.tensor([0, 1, 2, 3])
    res = expansion(model, x, y, loss="cross_entropy", dtype="float64", draws=2, etas=(1e-2, 1e-5))
    xd = x.double().requires_grad_(True)
    loss = nn.functional.cross_entropy(xd @ q.T + 0.3, y, reduction="sum")
    (g,) = torch.autograd.grad(loss, xd)
    s = g.sign()
    expected = (s @ q.T).abs().sum(1) / s.abs().sum(1)
    for k in range(2):
        assert torch.allclose(res.e_a[:, k], expected, rtol=1e-9)


def test_linear_map_e_a_and_e_n_closed_form_for_summed_output():
    """f(x) = W x: x_a = x + eta sign(W^T 1), so e_a = ||W sign(W^T 1)||_1 / n for every eta."""
    w = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    model = linear(w)
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(5)
    etas = (1.0, 1e-2, 1e-6)
    res = expansion(
        model, x, direction="summed_output", dtype="float64", draws=2, etas=etas, generator=gen
    )
    s = (w.sum(0)).sign().double()
    e_a = float((w.double() @ s).abs().sum() / s.abs().sum())
    assert torch.allclose(res.e_a, torch.full_like(res.e_a, e_a), rtol=1e-9)
    # e_n = ||W z||_1 / ||z||_1 for the same draws (drawn in float32, then cast).
    z = torch.randn((2, 7, 3), generator=torch.Generator().manual_seed(5)).double()
    e_n = (z @ w.double().T).abs().sum(-1) / z.abs().sum(-1)  # (draws, batch)
    for k in range(len(etas)):
        assert torch.allclose(res.e_n[:, k, :], e_n.T, rtol=1e-7)


def test_float32_rounding_shows_at_tiny_steps_and_float64_does_not():
    """A step of 1e-7 on inputs near 1 is below float32's spacing (~6e-8 at 1): the stored
    perturbation is not eta * sign(g). float64 keeps it exactly enough."""
    model = linear(torch.eye(4))
    x = torch.full((3, 4), 0.9)
    r32 = expansion(model, x, x, loss="mse", dtype="float32", etas=(1e-7,), draws=1)
    r64 = expansion(model, x, x, loss="mse", dtype="float64", etas=(1e-7,), draws=1)
    assert r64.adv_input_l1[:, 0].tolist() == pytest.approx([4e-7] * 3, rel=1e-6)
    nominal = torch.full((3,), 4e-7, dtype=torch.float64)
    assert not torch.allclose(r32.adv_input_l1[:, 0].double(), nominal, rtol=1e-3)
    assert torch.allclose(r64.e_a, torch.ones_like(r64.e_a), rtol=1e-6)


def test_signed_permutation_is_an_l1_isometry_so_r_is_one():
    """A scaled signed permutation has an isotropic Jacobian in L1 too: every direction
    expands by the same factor, so r = 1 at every eta."""
    perm = torch.tensor([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])
    model = linear(0.75 * perm)  # exact in float32
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(8))
    res = expansion(
        model,
        x,
        torch.tensor([0, 1, 2, 0, 1]),
        loss="cross_entropy",
        dtype="float64",
        etas=(1.0, 1e-4),
        draws=3,
    )
    assert torch.allclose(res.r, torch.ones_like(res.r), rtol=1e-9)
    assert torch.allclose(res.e_a, torch.full_like(res.e_a, 0.75), rtol=1e-9)


def test_unchanged_outputs_are_counted_not_divided():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.fill_(-100.0)  # every unit dead: the output never moves
    x = torch.zeros(3, 2)
    res = expansion(model, x, direction="summed_output", etas=(1.0, 1e-3), draws=2)
    assert res.adv_unchanged.all() and res.noise_unchanged.all()
    s = res.summary()
    assert s["unchanged_adv"] == [1.0, 1.0] and s["r"] == [None, None]


def test_dropout_left_on_makes_e_a_grow_like_one_over_eta():
    torch.manual_seed(0)  # dropout draws from the global generator
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))
    model.train()
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(6))
    res = expansion(
        model,
        x,
        direction="summed_output",
        etas=(1e-2, 1e-5),
        draws=2,
        keep_mode=True,
        dtype="float64",
    )
    e_a = res.summary()["e_a"]
    assert e_a[1] / e_a[0] > 100  # a discontinuity: the output jumps whatever the step
    assert model.training
    off = expansion(
        model, x, direction="summed_output", etas=(1e-2, 1e-5), draws=2, dtype="float64"
    ).summary()["e_a"]
    assert off[1] / off[0] == pytest.approx(1.0, rel=0.2)  # eval mode: smooth
    assert model.training  # eval mode was only for the measurement


def test_float64_measurement_leaves_the_model_alone():
    model = linear(torch.eye(3))
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(7))
    res = expansion(model, x, x, loss="mse", dtype="float64", etas=(0.1,))
    assert res.e_a.dtype == torch.float64 and model.weight.dtype == torch.float32


def test_bad_arguments_are_refused():
    model = linear(torch.eye(2))
    x = torch.zeros(2, 2)
    with pytest.raises(InputError, match="direction"):
        expansion(model, x, direction="up")
    with pytest.raises(InputError, match="dtype"):
        expansion(model, x, dtype="float16")
    with pytest.raises(InputError, match="etas"):
        expansion(model, x, etas=())
    with pytest.raises(InputError, match="etas"):
        expansion(model, x, etas=(0.0,))
    with pytest.raises(InputError, match="draws"):
        expansion(model, x, draws=0)
    assert math.isfinite(
        float(expansion(model, x, direction="summed_output", etas=(1.0,)).e_a.mean())
    )


def test_reconstruction_target_is_held_fixed_as_in_eq3_unless_asked():
    """f(x) = W x with MSE against the input: Eq. 3 differentiates through the output only,
    grad = 2 W^T (W x - x) / n; the authors' script also through the target, 2 (W - I)^T (W x -
    x) / n. The two steps differ for this W (not just in sign, which L1 would not see), and
    each run steps along its own."""
    w = torch.tensor([[0.5, 1.0], [0.0, 2.0]])
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(w)
    x = torch.tensor([[1.0, 1.0]])
    resid = x @ w.T - x  # (1, 2)
    fixed = (resid @ w).sign()  # W^T resid, as a row: [1, 1]
    through = (resid @ (w - torch.eye(2))).sign()  # [-1, 1]
    assert not torch.equal(fixed, through) and not torch.equal(fixed, -through)
    measured = {}
    for target_grad, sign in ((False, fixed), (True, through)):
        res = expansion(
            model, x, None, loss="mse", dtype="float64", etas=(1e-3,), draws=1,
            target_grad=target_grad,
        )
        expected = (sign.double() @ w.double().T).abs().sum(1) / sign.abs().sum(1)
        assert torch.allclose(res.e_a[:, 0], expected, rtol=1e-9)
        measured[target_grad] = float(res.e_a[0, 0])
    assert measured[False] == pytest.approx(1.75) and measured[True] == pytest.approx(1.25)
