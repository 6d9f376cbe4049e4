"""PGD behaviour: early stop and compaction, restarts, targets, losses, modes, precision."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.attacks import pgd, predictions
from advgeom.errors import InputError


class RowCounter(nn.Module):
    """Counts the rows the wrapped model is asked to evaluate (the attack's cost)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.rows = model, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += x.shape[0]
        return self.model(x)


def _clean_labels(model, x):
    with torch.no_grad():
        return model.eval()(x).argmax(1)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_early_stop_matches_full_run_and_costs_less(mlp, data, norm):
    x, _ = data
    y = _clean_labels(mlp, x)
    kw = dict(eps=1.0, norm=norm, steps=30, step_size=0.05, bounds=(0.0, 1.0))
    counter = RowCounter(mlp)
    early = pgd(counter, x, y, early_stop=True, **kw)
    early_rows, counter.rows = counter.rows, 0
    full = pgd(counter, x, y, **kw)
    assert early.success.any() and early_rows < counter.rows
    assert (early.steps_to_success[early.success] >= 0).all()
    assert (early.steps_to_success[~early.success] == -1).all()
    # Same trajectory until the stop: the first adversarial step agrees with the full run's.
    both = early.success & (full.steps_to_success >= 0)
    assert torch.equal(early.steps_to_success[both], full.steps_to_success[both])
    assert (predictions(mlp(early.x_adv[early.success])) != y[early.success]).all()
    # x_adv of an early-stopped example is the iterate of its step.
    i = int(early.success.nonzero()[0])
    t = int(early.steps_to_success[i])
    if t > 0:
        replay = pgd(mlp, x[i : i + 1], y[i : i + 1], **{**kw, "steps": t})
        assert torch.allclose(replay.x_adv[0], early.x_adv[i])


def test_restarts_keep_the_best_run(mlp, data):
    x, y = data
    kw = dict(eps=0.3, norm="l2", steps=5, step_size=0.1, random_start=True)
    one = pgd(mlp, x, y, generator=torch.Generator().manual_seed(0), **kw)
    five = pgd(mlp, x, y, restarts=5, generator=torch.Generator().manual_seed(0), **kw)
    assert (five.success >= one.success).all()
    same = five.success == one.success
    assert (five.loss[same] >= one.loss[same] - 1e-6).all()
    assert (five.loss > one.loss + 1e-6).any() or (five.success > one.success).any()
    early = pgd(
        mlp, x, y, restarts=3, early_stop=True, generator=torch.Generator().manual_seed(0), **kw
    )
    assert early.success.sum() >= one.success.sum()


def test_targeted_reaches_the_target(mlp, data):
    x, _ = data
    with torch.no_grad():
        target = mlp.eval()(x).topk(2, dim=1).indices[:, 1]  # the runner-up class
    res = pgd(
        mlp, x, target, eps=2.0, norm="l2", steps=40, step_size=0.1, targeted=True, early_stop=True
    )
    assert res.success.float().mean() > 0.5
    clean = torch.nn.functional.cross_entropy(mlp(x), target, reduction="none")
    assert (res.loss < clean).all()  # targeted: the target's loss goes down
    assert torch.equal(predictions(mlp(res.x_adv))[res.success], target[res.success])


def test_binary_one_logit_model_and_custom_criterion():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
    x = torch.randn(20, 5)
    y = (model(x)[:, 0] > 0).long()
    res = pgd(model, x, y, eps=3.0, norm="l2", steps=50, step_size=0.2, early_stop=True)
    assert res.success.all()
    assert torch.equal((model(res.x_adv)[:, 0] > 0).long(), 1 - y)
    # Custom success: the logit must cross 0.5 in the wrong direction.
    crit = lambda out, yy: torch.where(yy == 1, out[:, 0] < -0.5, out[:, 0] > 0.5)  # noqa: E731
    res = pgd(
        model,
        x,
        y,
        eps=3.0,
        norm="l2",
        steps=50,
        step_size=0.2,
        early_stop=True,
        is_adversarial=crit,
    )
    out = model(res.x_adv)[:, 0]
    assert crit(model(res.x_adv), y)[res.success].all() and out.abs()[res.success].min() > 0.5


def test_mse_autoencoder_raises_reconstruction_error():
    torch.manual_seed(0)
    ae = nn.Sequential(nn.Linear(6, 3), nn.GELU(), nn.Linear(3, 6))
    x = torch.rand(10, 6)
    res = pgd(ae, x, x, eps=0.1, norm="linf", steps=10, step_size=0.02, loss="mse")
    clean = ((ae(x) - x) ** 2).mean(1)
    assert (res.loss > clean).all() and not res.success.any()
    with pytest.raises(InputError, match="is_adversarial"):
        pgd(ae, x, x, eps=0.1, steps=3, step_size=0.02, loss="mse", early_stop=True)


def test_eval_mode_during_attack_and_modes_restored(data):
    x, y = data
    seen = []
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Dropout(0.5), nn.Linear(16, 3))
    model.train()
    model[2].eval()  # a mixed state must come back exactly
    model.register_forward_pre_hook(lambda m, inp: seen.append(m[1].training))
    pgd(model, x, y, eps=0.1, steps=2, step_size=0.05)
    assert seen and not any(seen)
    assert model.training and model[1].training and not model[2].training
    assert all(p.grad is None for p in model.parameters())


def test_per_example_eps_and_step_size(mlp, data):
    x, y = data
    eps = torch.linspace(0.0, 0.5, x.shape[0])
    res = pgd(mlp, x, y, eps=eps, norm="linf", steps=5, step_size=eps / 2 + 1e-3)
    assert ((res.x_adv - x).abs().amax(1) <= eps + 1e-6).all()
    assert torch.equal(res.x_adv[0], x[0])


def test_generator_makes_runs_reproducible(mlp, data):
    x, y = data
    kw = dict(eps=0.2, norm="l2", steps=2, step_size=0.05, random_start=True)
    a = pgd(mlp, x, y, generator=torch.Generator().manual_seed(5), **kw)
    b = pgd(mlp, x, y, generator=torch.Generator().manual_seed(5), **kw)
    c = pgd(mlp, x, y, generator=torch.Generator().manual_seed(6), **kw)
    assert torch.equal(a.x_adv, b.x_adv) and not torch.equal(a.x_adv, c.x_adv)


def test_bf16_steps_are_rechecked_in_fp32(mlp, data):
    x, _ = data
    y = _clean_labels(mlp, x)
    for early_stop in (False, True):
        res = pgd(
            mlp,
            x,
            y,
            eps=1.0,
            norm="l2",
            steps=20,
            step_size=0.1,
            precision="bf16",
            early_stop=early_stop,
        )
        with torch.no_grad():
            fp32 = predictions(mlp(res.x_adv)) != y
        assert res.x_adv.dtype == torch.float32
        assert torch.equal(res.success, fp32)
        assert (res.steps_to_success[~res.success] == -1).all() or not early_stop


def test_works_inside_no_grad_and_cuda_graph_flag_is_ignored_on_cpu(mlp, data):
    x, y = data
    kw = dict(eps=0.2, norm="linf", steps=3, step_size=0.05)
    with torch.no_grad():
        a = pgd(mlp, x, y, **kw)
    b = pgd(mlp, x, y, cuda_graph=True, **kw)
    assert torch.equal(a.x_adv, b.x_adv) and not torch.equal(a.x_adv, x)
