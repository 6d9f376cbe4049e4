"""Square Attack: ball and box, determinism, closed-form linear distances, budget, peers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.attacks._square_windows import p_schedule, window_side
from advgeom.attacks.square import square
from advgeom.errors import InputError

N_ID = 16  # examples of the iterate checks; coordinate 0 of example i is i / (N_ID - 1)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class _Ignore0(nn.Module):
    """The mlp on every coordinate but the first (an id the attack may move but not use)."""

    def __init__(self, mlp: nn.Module) -> None:
        super().__init__()
        self.mlp = mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(10.0 * x.flatten(1)[:, 1:])


class _Rows(nn.Module):
    """Counts the rows (examples) of every forward pass."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model, self.rows = model, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += x.shape[0]
        return self.model(x)


def _linear(d: int = 16, n: int = 200, seed: int = 0):
    """One-logit linear model z = w.x + b, inputs, labels (its predictions), logits."""
    g = _gen(seed)
    w, b = torch.randn(d, generator=g), torch.tensor(0.1)
    x = torch.randn(n, d, generator=g)
    z = x @ w + b
    return (lambda t: t.flatten(1) @ w + b), x, (z > 0).long(), z, w


def _id_case(shape: tuple[int, ...], mlp_factory):
    """Inputs in [0, 1] whose first coordinate names the example (spacing 1/15 > 2 eps)."""
    numel = torch.Size(shape).numel()
    model = _Ignore0(mlp_factory(d=numel - 1, classes=3, seed=2)).eval()
    x = torch.rand(N_ID, numel, generator=_gen(3))
    x[:, 0] = torch.linspace(0, 1, N_ID)
    x = x.reshape(N_ID, *shape)
    with torch.no_grad():
        y = model(x).argmax(1)
    return model, x, y


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("shape", [(9,), (1, 3, 3), (2, 2, 3)])
def test_iterates_and_result_stay_in_ball_and_box(norm, shape, mlp_factory, recorder, vector_norm):
    model, x, y = _id_case(shape, mlp_factory)
    eps = 0.03
    rec = recorder(model)
    r = square(rec, x, y, eps=eps, norm=norm, queries=150, bounds=(0, 1), generator=_gen())
    seen = torch.cat([t.flatten(1) for t in rec.seen])
    owner = (seen[:, 0] * (N_ID - 1)).round().long()
    assert (vector_norm(seen - x.flatten(1)[owner], norm) <= eps + 1e-6).all()
    assert seen.min() >= 0 and seen.max() <= 1
    assert seen.shape[0] > 150 * 2  # the attack did query, more than a few rows
    assert r.success.any() and not r.success.all()
    with torch.no_grad():
        adv = model(r.x_adv).argmax(1) != y
    assert torch.equal(adv, r.success)
    assert (vector_norm(r.x_adv - x, norm) <= eps + 1e-6).all()
    assert torch.allclose(r.distance, vector_norm(r.x_adv - x, norm))
    assert r.x_adv.min() >= 0 and r.x_adv.max() <= 1
    assert (r.steps_to_success[r.success] >= 1).all()
    assert (r.steps_to_success[~r.success] == -1).all()


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_per_example_eps_tensor(norm, mlp_factory, vector_norm):
    model, x, y = _id_case((9,), mlp_factory)
    eps = torch.linspace(0.005, 0.03, N_ID)
    r = square(model, x, y, eps=eps, norm=norm, queries=60, bounds=(0, 1), generator=_gen())
    assert (vector_norm(r.x_adv - x, norm) <= eps + 1e-6).all()


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_same_seed_same_result_other_seed_differs(norm, mlp_factory):
    model, x, y = _id_case((1, 3, 3), mlp_factory)
    runs = [square(model, x, y, eps=0.03, norm=norm, queries=50, generator=_gen(s))
            for s in (5, 5, 6)]
    for a, b in zip(vars(runs[0]).values(), vars(runs[1]).values(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(runs[0].x_adv, runs[2].x_adv)


def test_clean_errors_succeed_at_step_zero(mlp_factory):
    model, x, y = _id_case((9,), mlp_factory)
    wrong = torch.arange(N_ID) % 4 == 0
    y = torch.where(wrong, (y + 1) % 3, y)
    r = square(model, x, y, eps=0.03, queries=20, generator=_gen())
    assert r.success[wrong].all()
    assert (r.steps_to_success[wrong] == 0).all()
    assert torch.equal(r.x_adv[wrong], x[wrong])
    assert (r.distance[wrong] == 0).all()


@pytest.mark.parametrize(("norm", "dual", "eps", "sure", "loss"), [
    ("linf", 1, 0.3, 1.0, "margin"),
    ("linf", 1, 0.3, 1.0, "ce"),
    ("l2", 2, 1.0, 0.7, "margin"),
])
def test_linear_model_matches_closed_form(norm, dual, eps, sure, loss):
    """Exact distance |w.x + b| / ||w||_dual: none beyond eps is broken; nearly all within are."""
    model, x, y, z, w = _linear()
    dist = z.abs() / w.norm(p=dual)
    r = square(model, x, y, eps=eps, norm=norm, queries=300, loss=loss, generator=_gen(1))
    assert not r.success[dist > eps].any()
    # l_inf: the optimum is a vertex, which the search reaches; l2: it is not a window pattern.
    assert r.success[dist < sure * eps].all()
    assert r.robust_accuracy <= (dist > eps).float().mean().item() + (0.01 if norm == "linf"
                                                                      else 0.12)
    assert torch.allclose(r.loss, torch.where(y == 1, 1.0, -1.0) * model(r.x_adv))


def test_breaks_a_model_with_masked_gradients():
    """Logits of a quantised input: the gradient is 0 everywhere, the search needs none."""
    lin, x, y, z, w = _linear()
    step = 1 / 64

    def quantised(t: torch.Tensor) -> torch.Tensor:
        return lin(torch.round(t / step) * step)

    probe = x[:8].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(quantised(probe).sum(), probe)
    assert (grad == 0).all()
    y = (quantised(x) > 0).long()
    eps = 0.3
    # Rounding moves z by at most ||w||_1 step / 2, the distance by at most step / 2.
    easy = z.abs() / w.norm(p=1) < eps - step
    r = square(quantised, x, y, eps=eps, queries=300, generator=_gen(1))
    assert easy.float().mean() > 0.5
    assert r.success[easy].float().mean() >= 0.97


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_budget_counts_one_row_per_query(norm):
    """probe (1 row) + clean check + start + one row per iteration until success + final check."""
    lin, x, y, z, w = _linear(n=50)
    model = _Rows(lin)
    queries = 40
    r = square(model, x, y, eps=0.3 if norm == "linf" else 1.0, norm=norm, queries=queries,
               generator=_gen())
    steps = r.steps_to_success
    iterations = torch.where(steps >= 1, steps - 1, queries).sum().item()
    assert model.rows == 1 + 50 + 50 + iterations + 50
    assert r.success.any() and (steps <= queries + 1).all()
    assert model.rows < 50 * (queries + 3) * 0.8  # broken examples stop costing queries


def test_restarts_rerun_only_unbroken_and_count_queries_across_runs():
    lin, x, y, z, w = _linear(n=50)
    model = _Rows(lin)
    queries = 5
    once = square(lin, x, y, eps=0.3, queries=queries, generator=_gen(4))
    r = square(model, x, y, eps=0.3, queries=queries, restarts=3, generator=_gen(4))
    assert r.success.sum() >= once.success.sum()
    assert model.rows <= 1 + 50 + 3 * 50 * (queries + 2)
    later = r.success & ~once.success
    assert (r.steps_to_success[later] > queries + 1).all()
    assert torch.equal(r.x_adv[once.success], once.x_adv[once.success])


def test_targeted_reaches_the_target(mlp_factory):
    model, x, y = _id_case((9,), mlp_factory)
    target = (y + 1) % 3
    r = square(model, x, target, eps=0.03, targeted=True, queries=150, generator=_gen())
    assert r.success.any()
    with torch.no_grad():
        pred = model(r.x_adv).argmax(1)
    assert torch.equal(pred == target, r.success)
    assert (r.loss[r.success] < 0).all()


def test_schedule_and_window_side():
    assert p_schedule(0, 5000, 0.8) == 0.8
    assert p_schedule(6, 5000, 0.8) == 0.4  # 6 / 5000 = 12 / 10000
    assert p_schedule(4999, 5000, 0.8) == 0.8 / 512
    assert window_side(0.8, 32, 32, "linf") == (29, 29)
    assert window_side(0.8, 1, 24, "linf") == (1, 4)
    assert window_side(0.001, 8, 8, "l2") == (3, 3)
    assert window_side(0.3, 8, 8, "l2") == (5, 5)  # round(sqrt(19.2)) = 4, made odd


def test_not_worse_than_torchattacks(peer_case):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = peer_case(200)
    ours = square(model, x, y, eps=0.1, queries=1000, bounds=(0, 1), generator=_gen())
    peer = torchattacks.Square(model, norm="Linf", eps=0.1, n_queries=1000, n_restarts=1,
                               p_init=0.8, loss="margin", seed=0)
    with torch.no_grad():
        theirs = (model(peer(x, y)).argmax(1) == y).float().mean().item()
    assert ours.robust_accuracy <= theirs + 0.02


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"queries": 0}, "queries"),
    ({"p_init": 0.0}, "p_init"),
    ({"p_init": 1.5}, "p_init"),
    ({"loss": "dlr"}, "loss"),
    ({"norm": "l1"}, "norm"),
    ({"eps": 0.0}, "eps"),
    ({"eps": -0.1}, "eps"),
    ({"restarts": 0}, "restarts"),
    ({"bounds": (0.0, 0.5)}, "bounds"),
])
def test_bad_arguments_name_the_field(kwargs, field, mlp_factory):
    model, x, y = _id_case((9,), mlp_factory)
    opts = {"eps": 0.03, "queries": 5, **kwargs}
    with pytest.raises(InputError, match=field):
        square(model, x, y, **opts)


def test_bad_labels_and_too_few_classes_for_targeted(mlp_factory):
    model, x, y = _id_case((9,), mlp_factory)
    with pytest.raises(InputError, match="y must be class labels"):
        square(model, x, y + 3, eps=0.03, queries=5)
    lin, xl, yl, _, _ = _linear(n=10)
    with pytest.raises(InputError, match="targeted"):
        square(lin, xl, yl, eps=0.3, queries=5, targeted=True)
