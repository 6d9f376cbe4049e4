"""FAB and FAB-T: closed forms on affine models, properties, targets, restarts, bad input, and
torchattacks' FAB."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.attacks._fab_projection import hyperplane_step
from advgeom.attacks._shared import classifier_problem
from advgeom.attacks.fab import fab, fab_run
from advgeom.attacks.losses import margin
from advgeom.errors import InputError

NORMS = [("l2", 2), ("linf", 1)]  # the attack norm and the p of its dual
NEAR_ONE = 1 + 1e-6  # an eta this close to 1 lands on the linear boundary itself


def _three_class(seed: int = 5, n: int = 10, batch: int = 40, box: bool = False):
    """An affine 3-class model and the closed form min_{j != y} (z_y - z_j) / ||W_y - W_j||_q."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(n, 3).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(3, n, generator=g, dtype=torch.float64))
        model.bias.copy_(torch.randn(3, generator=g, dtype=torch.float64))
    x = torch.rand(batch, n, generator=g, dtype=torch.float64)
    x = x if box else 4 * x - 2
    with torch.no_grad():
        z = model(x)
    y = z.argmax(1)
    gaps = z.gather(1, y[:, None]) - z
    rows = model.weight.detach()[y][:, None, :] - model.weight.detach()[None]

    def true(q: int) -> torch.Tensor:
        return (gaps / rows.norm(p=q, dim=2)).scatter(1, y[:, None], torch.inf).amin(1)

    return model, x, y, true


def _mlp_case(mlp_factory, batch: int = 48, seed: int = 0):
    # Model seed 2: on [0, 1] inputs most of mlp_factory's nets predict one class everywhere.
    model = mlp_factory(d=8, classes=4, seed=2).eval()
    x = torch.rand(batch, 8, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        y = model(x).argmax(1)
    return model, x, y


@pytest.mark.parametrize("norm,q", NORMS)
def test_binary_affine_reaches_margin_over_dual_norm(affine_case, norm, q):
    model, x, y, w, gap = affine_case(3)
    true = gap / w.norm(p=q)
    res = fab(model, x, y, norm=norm, steps=3, eta=NEAR_ONE)
    assert res.success.all()
    assert torch.allclose(res.distance, true, rtol=1e-4, atol=0)
    assert (res.distance >= true * (1 - 1e-12)).all()
    # The default eta = 1.05 overshoots: FAB's iterates settle at 1.0052 times the distance.
    default = fab(model, x, y, norm=norm, steps=10)
    assert ((default.distance / true - 1.0052).abs() < 1e-3).all()


@pytest.mark.parametrize("norm,q", NORMS)
def test_three_class_affine_reaches_the_closest_boundary(norm, q):
    model, x, y, true = _three_class()
    res = fab(model, x, y, norm=norm, steps=3, eta=NEAR_ONE)
    assert res.success.all()
    assert torch.allclose(res.distance, true(q), rtol=1e-4, atol=0)
    with torch.no_grad():
        assert (model(res.x_adv).argmax(1) != y).all()


@pytest.mark.parametrize("norm,q", NORMS)
def test_box_only_lengthens_the_distance(norm, q):
    model, x, y, true = _three_class(box=True)
    res = fab(model, x, y, norm=norm, steps=20, bounds=(0.0, 1.0))
    ok = res.success
    assert ok.float().mean() > 0.9
    assert (res.distance[ok] >= true(q)[ok] * (1 - 1e-12)).all()
    assert (res.distance[ok] > true(q)[ok] * 1.06).any()  # the box binds for some examples
    assert res.x_adv.min() >= 0.0 and res.x_adv.max() <= 1.0
    with torch.no_grad():
        assert (model(res.x_adv[ok]).argmax(1) != y[ok]).all()


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_projection_without_box_is_the_closed_form(norm):
    g = torch.Generator().manual_seed(0)
    t, w = torch.randn(30, 7, generator=g, dtype=torch.float64), torch.randn(30, 7, generator=g,
                                                                          dtype=torch.float64)
    w[:5, :3] = 0.0  # zero weights must not move
    c = torch.randn(30, generator=g, dtype=torch.float64)
    d = hyperplane_step(t, w, c, norm, None)
    if norm == "l2":
        expected = -(c / w.square().sum(1))[:, None] * w
    else:
        expected = -(c / w.abs().sum(1))[:, None] * w.sign()
    assert torch.allclose(d, expected, rtol=1e-12, atol=1e-14)
    assert torch.equal(d[:5, :3], torch.zeros(5, 3, dtype=torch.float64))


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_projection_in_box_meets_the_plane_inside_the_box(norm):
    g = torch.Generator().manual_seed(1)
    t, w = torch.rand(200, 6, generator=g), torch.randn(200, 6, generator=g)
    c = 1.5 * torch.randn(200, generator=g)
    d = hyperplane_step(t, w, c, norm, (0.0, 1.0))
    assert (t + d).min() >= 0.0 and (t + d).max() <= 1.0
    # The most the box lets w.z fall (c > 0) or rise (c < 0): moving to the far corner.
    reach = c.abs() <= torch.where(w * c[:, None] > 0, t, 1 - t).mul(w.abs()).sum(1)
    assert 0.8 < reach.float().mean() < 1  # most planes meet the box, some do not
    assert torch.allclose((c + (w * d).sum(1))[reach], torch.zeros(int(reach.sum())), atol=1e-5)
    # Where the plane misses the box, the step goes to the corner that comes closest.
    corner = torch.where(w * c[:, None] > 0, -t, 1 - t)
    assert torch.allclose(d[~reach], corner[~reach])
    # The box only lengthens the step.
    free = hyperplane_step(t, w, c, norm, None)
    p = 2 if norm == "l2" else float("inf")
    assert (d[reach].norm(p=p, dim=1) >= free[reach].norm(p=p, dim=1) * (1 - 1e-5)).all()


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("boxed", [False, True])
@pytest.mark.parametrize("targeted", [False, True])
def test_results_adversarial_and_in_box(mlp_factory, vector_norm, norm, boxed, targeted):
    model, x, y = _mlp_case(mlp_factory, batch=24)
    bounds = (0.0, 1.0) if boxed else None
    res = fab(model, x, y, norm=norm, steps=10, bounds=bounds, targeted=targeted,
              target_classes=2)
    ok = res.success
    assert ok.float().mean() > 0.9
    with torch.no_grad():
        assert (model(res.x_adv[ok]).argmax(1) != y[ok]).all()
    assert torch.allclose(res.distance[ok], vector_norm(res.x_adv - x, norm)[ok])
    assert (res.steps_to_success[ok] >= 1).all() and (res.steps_to_success[~ok] == -1).all()
    assert torch.equal(res.x_adv[~ok], x[~ok]) and torch.isinf(res.distance[~ok]).all()
    if boxed:
        assert res.x_adv.min() >= 0.0 and res.x_adv.max() <= 1.0


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_more_steps_never_lengthen(mlp_factory, norm):
    model, x, y = _mlp_case(mlp_factory)
    few = fab(model, x, y, norm=norm, steps=4, bounds=(0.0, 1.0))
    many = fab(model, x, y, norm=norm, steps=30, bounds=(0.0, 1.0))
    # The first 4 iterates of the longer run are those of the shorter one.
    assert (many.success >= few.success).all()
    assert (many.distance <= few.distance).all()
    assert many.distance.median() < few.distance.median()


def _single_targets(model, x, y, ranks: int, norm: str, steps: int):
    """The distance of one FAB-T run per target rank (inf where it found nothing)."""
    problem, _ = classifier_problem(model, x, y, loss=margin, targeted=False, attack="fab")
    with torch.no_grad():
        order = model(x).scatter(1, y[:, None], -torch.inf).argsort(1, descending=True)
    rule = dict(alpha_max=0.1, eta=1.05, beta=0.9)
    return torch.stack([fab_run(problem, x, y, x, order[:, r], norm=norm, steps=steps,
                                bounds=(0.0, 1.0), **rule)[1] for r in range(ranks)])


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_fab_t_is_the_min_over_its_targets(peer_case, norm):
    model, x, y = peer_case(64)  # its 4 classes are closer together than mlp_factory's
    runs = _single_targets(model, x, y, 3, norm, steps=15)
    res = fab(model, x, y, norm=norm, steps=15, targeted=True, target_classes=3,
              bounds=(0.0, 1.0))
    assert torch.allclose(res.distance, runs.amin(0))
    assert (res.distance <= runs).all()
    assert (runs[1:] < runs[0]).any()  # the other targets matter for some examples
    top = fab(model, x, y, norm=norm, steps=15, targeted=True, target_classes=1,
              bounds=(0.0, 1.0))
    assert torch.allclose(top.distance, runs[0])
    capped = fab(model, x, y, norm=norm, steps=15, targeted=True, target_classes=9,
                 bounds=(0.0, 1.0))  # 4 classes: at most 3 targets
    assert torch.equal(capped.distance, res.distance)


def test_restarts_only_improve_and_follow_the_generator(mlp_factory):
    model, x, y = _mlp_case(mlp_factory, batch=32)
    kw = dict(norm="linf", steps=8, bounds=(0.0, 1.0), eps=0.3)
    one = fab(model, x, y, **kw)
    three = fab(model, x, y, restarts=3, generator=torch.Generator().manual_seed(0), **kw)
    again = fab(model, x, y, restarts=3, generator=torch.Generator().manual_seed(0), **kw)
    assert (three.distance <= one.distance).all() and (three.distance < one.distance).any()
    assert torch.equal(three.distance, again.distance)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_median_distance_matches_torchattacks(peer_case, norm):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = peer_case(200)
    steps = 20
    # A huge eps makes torchattacks keep every adversarial point it finds (it drops those > eps).
    peer = torchattacks.FAB(model, norm={"linf": "Linf", "l2": "L2"}[norm], eps=1e9,
                            steps=steps, n_restarts=1, n_classes=4)
    x_peer = peer(x, y)
    with torch.no_grad():
        broken = model(x_peer).argmax(1) != y
    p = float("inf") if norm == "linf" else 2
    theirs = torch.where(broken, (x_peer - x).flatten(1).norm(p=p, dim=1), torch.inf)
    ours = fab(model, x, y, norm=norm, steps=steps, restarts=1, bounds=(0.0, 1.0))
    assert ours.success.float().mean() >= broken.float().mean()
    assert ours.distance.median() <= theirs.median() * 1.01


class _NanGrad(nn.Module):
    """Finite logits whose input gradient is NaN at x = 0 (0 * d sqrt(|x|)/dx = 0 * inf)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) + 0.0 * x.abs().sqrt().sum(1, keepdim=True)


@pytest.mark.parametrize("kwargs,field", [
    (dict(steps=0), "steps"),
    (dict(restarts=0), "restarts"),
    (dict(restarts=2), "eps"),
    (dict(eps=0.0, restarts=2), "eps"),
    (dict(norm="l1"), "norm"),
    (dict(alpha_max=0.0), "alpha_max"),
    (dict(alpha_max=1.5), "alpha_max"),
    (dict(eta=0.99), "eta"),
    (dict(beta=0.0), "beta"),
    (dict(beta=1.2), "beta"),
    (dict(target_classes=0), "target_classes"),
    (dict(bounds=(0.2, 1.0)), "bounds"),
])
def test_bad_input_names_the_field(mlp_factory, kwargs, field):
    model, x, y = _mlp_case(mlp_factory, batch=4)
    with pytest.raises(InputError, match=field):
        fab(model, x, y, **kwargs)


def test_nan_gradient_raises():
    x = torch.zeros(3, 4)
    with pytest.raises(InputError, match="NaN"):
        fab(_NanGrad(), x, torch.tensor([0, 1, 2]), steps=2)
