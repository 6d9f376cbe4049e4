"""The CUDA-only paths, each checked against its eager or CPU counterpart.

Skipped without a GPU (CI has none); on a GPU machine run ``pytest tests/test_cuda.py``. What runs
only on CUDA: PGD replayed as a CUDA graph (and its cache), TF32 matmuls, early stop that compacts
every few steps, and the device side of the Monte Carlo, ensemble and pairwise-distance code.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.attacks import clear_graph_cache, manifold_pgd, pgd
from advgeom.metrics import gradient_norms, min_output_distance, sphere_error_rate
from advgeom.models.ensemble import Ensemble
from advgeom.models.mlp import ReLUMLP
from advgeom.train.spheres import SphereTraining, train_ensemble_on_spheres, train_on_spheres

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

D, CLASSES, BATCH = 64, 4, 256


def classifier(seed: int = 0) -> nn.Module:
    """A ReLU classifier with batch-norm (so eval mode matters), on the GPU."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(D, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, CLASSES)
    )
    with torch.no_grad():  # non-trivial running statistics
        model.train()(torch.randn(512, D) * 0.5 + 0.5)
    return model.cuda().eval()


def batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(BATCH, D, generator=g)
    y = torch.randint(0, CLASSES, (BATCH,), generator=g)
    return x.cuda(), y.cuda()


def assert_same_attack(a, b) -> None:
    torch.testing.assert_close(a.x_adv, b.x_adv, rtol=0, atol=1e-6)
    assert torch.equal(a.success, b.success)
    assert torch.equal(a.steps_to_success, b.steps_to_success)


@pytest.fixture(autouse=True)
def fresh_graph_cache():
    clear_graph_cache()
    yield
    clear_graph_cache()


@pytest.mark.parametrize("norm,eps", [("linf", 0.05), ("l2", 0.5)])
def test_cuda_graph_equals_the_eager_loop_and_replays_new_inputs(norm, eps):
    model = classifier()
    kw = dict(eps=eps, norm=norm, steps=20, step_size=eps / 8, bounds=(0.0, 1.0))
    for seed in (1, 2, 3):  # the first call captures, the next ones hit the cache and replay
        x, y = batch(seed)
        eager = pgd(model, x, y, **kw)
        graphed = pgd(model, x, y, cuda_graph=True, **kw)
        assert graphed.x_adv.is_cuda and graphed.success.any() and not graphed.success.all()
        assert_same_attack(graphed, eager)
    assert not model.training  # eval mode is restored (the model was in eval mode)


def test_cuda_graph_recaptures_for_new_constants_and_sees_in_place_weight_updates():
    model = classifier()
    x, y = batch(4)
    for eps in (0.03, 0.08):  # eps is baked into the graph: a new eps must capture again
        kw = dict(eps=eps, norm="linf", steps=10, step_size=eps / 4, bounds=(0.0, 1.0))
        assert_same_attack(pgd(model, x, y, cuda_graph=True, **kw), pgd(model, x, y, **kw))
    with torch.no_grad():  # same addresses, new values: the replay must read the new weights
        for p in model.parameters():
            p.mul_(0.7)
    assert_same_attack(pgd(model, x, y, cuda_graph=True, **kw), pgd(model, x, y, **kw))


def test_cuda_graph_restores_train_mode_and_does_not_alias_the_callers_tensors():
    model = classifier().train()
    x, y = batch(5)
    x_copy = x.clone()
    kw = dict(eps=0.05, norm="linf", steps=5, step_size=0.01)
    first = pgd(model, x, y, cuda_graph=True, **kw)
    kept = first.x_adv.clone()
    pgd(model, *batch(6), cuda_graph=True, **kw)  # replays into the cached buffers
    assert model.training
    assert torch.equal(x, x_copy) and torch.equal(first.x_adv, kept)


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
@pytest.mark.parametrize("cuda_graph", [False, True])
def test_reduced_precision_steps_report_fp32_success(precision, cuda_graph):
    model = classifier()
    x, y = batch(7)
    eps = 0.05
    tf32_before = torch.backends.cuda.matmul.allow_tf32
    res = pgd(
        model,
        x,
        y,
        eps=eps,
        norm="linf",
        steps=20,
        step_size=eps / 8,
        bounds=(0.0, 1.0),
        precision=precision,
        cuda_graph=cuda_graph,
    )
    with torch.no_grad():
        fp32 = model(res.x_adv).argmax(1) != y
    assert torch.equal(res.success, fp32) and res.success.any()
    assert (res.x_adv - x).abs().max() <= eps + 1e-6
    assert torch.backends.cuda.matmul.allow_tf32 == tf32_before  # the global flag is restored


def test_early_stop_compacting_every_few_steps_equals_every_step():
    model = classifier()
    x, y = batch(8)
    kw = dict(eps=0.1, norm="linf", steps=30, step_size=0.01, early_stop=True)
    every_step = pgd(model, x, y, compact_every=1, **kw)
    default = pgd(model, x, y, **kw)  # 4 on CUDA
    assert_same_attack(default, every_step)
    assert every_step.success.float().mean() > 0.5


def test_random_start_draws_on_the_inputs_device_from_a_cuda_generator():
    model = classifier()
    x, y = batch(9)
    kw = dict(eps=0.5, norm="l2", steps=3, step_size=0.1, random_start=True)
    a = pgd(model, x, y, generator=torch.Generator("cuda").manual_seed(0), **kw)
    b = pgd(model, x, y, generator=torch.Generator("cuda").manual_seed(0), **kw)
    assert torch.equal(a.x_adv, b.x_adv)
    assert (a.distance <= 0.5 + 1e-5).all()


def test_manifold_pgd_keeps_the_norm_on_cuda():
    model = ReLUMLP(in_features=D, hidden=64, depth=2).cuda().eval()
    g = torch.Generator().manual_seed(10)
    x = torch.randn(BATCH, D, generator=g)
    x = (x / x.norm(dim=1, keepdim=True)).cuda()
    y = torch.zeros(BATCH, dtype=torch.long, device="cuda")
    res = manifold_pgd(model, x, y, steps=10, step_size=0.05)
    torch.testing.assert_close(res.x_adv.norm(dim=1), x.norm(dim=1), rtol=1e-5, atol=0)


def test_gradient_norms_on_cuda_equal_the_cpu_values():
    model = classifier()
    x, y = batch(11)
    gpu = gradient_norms(model, x, y)
    cpu = gradient_norms(model.cpu(), x.cpu(), y.cpu())
    for q in cpu:
        torch.testing.assert_close(gpu[q].cpu(), cpu[q], rtol=1e-4, atol=1e-6, msg=str(q))


def test_sphere_error_rate_bf16_pass_keeps_the_fp32_decisions_on_cuda():
    torch.manual_seed(0)
    model = ReLUMLP(in_features=50, hidden=200, depth=2).cuda().eval()
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():  # move the boundary through the sphere: errors on about half of it
        points = torch.randn(10_000, 50, device="cuda")
        last.bias -= model(points / points.norm(dim=1, keepdim=True)).median()
    counts = {}
    for precision in ("fp32", "bf16", "tf32"):
        gen = torch.Generator("cuda").manual_seed(1)
        counts[precision] = sphere_error_rate(
            model, 50, samples=300_000, chunk=50_000, generator=gen, precision=precision
        )["errors"]
    assert 0 < counts["fp32"] < 300_000
    assert counts["bf16"] == counts["fp32"] == counts["tf32"]


def test_ensemble_training_on_cuda_equals_training_each_member_alone():
    torch.manual_seed(0)
    members = [ReLUMLP(in_features=12, hidden=16, depth=2).cuda() for _ in range(3)]
    sizes = (40, None, 200)
    settings = [SphereTraining(n=12, N=N, steps=25, batch_size=10, lr=1e-2) for N in sizes]
    ensemble = Ensemble(members)
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    train_ensemble_on_spheres(ensemble, settings, generators=gens)
    for i, (model, s) in enumerate(zip(members, settings, strict=True)):
        train_on_spheres(model, s, generator=torch.Generator().manual_seed(i))
        trained = ensemble.member(i).state_dict()
        for name, value in model.state_dict().items():
            assert trained[name].is_cuda
            torch.testing.assert_close(trained[name], value, rtol=1e-4, atol=1e-5, msg=name)


def test_min_output_distance_on_cuda_equals_the_cpu_scan():
    g = torch.Generator().manual_seed(12)
    outputs = torch.randn(3000, 10, generator=g)
    cpu = min_output_distance(outputs, chunk=512)
    gpu = min_output_distance(outputs.cuda(), chunk=512)
    assert gpu.pair == cpu.pair
    assert gpu.distance == pytest.approx(cpu.distance, rel=1e-5)
