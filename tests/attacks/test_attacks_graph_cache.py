"""The CUDA-graph cache's bookkeeping, checked on CPU with a stand-in for graph capture.

Real capture needs CUDA; here ``capture`` runs the warm-up steps and returns an object whose
``replay`` runs the step eagerly, which is what a correct graph replay does. What is tested is
ours: buffers owned (never aliasing the caller's tensors), reset on a cache hit, results copied
out, and a new capture whenever the model's tensors or the step's constants change. Also the
contract that makes capture possible at all: the step never reads a value back to the host
(checked on meta tensors, which have no values).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.attacks import _engine, _graph
from advgeom.attacks.pgd import make_step
from advgeom.attacks.problem import make_problem


@pytest.fixture
def fake_capture(monkeypatch):
    calls = []

    def capture(step, steps):
        calls.append(steps)
        done = min(_graph.WARMUP, steps)
        for _ in range(done):
            step()

        class Replay:
            replay = staticmethod(step)

        return done, Replay()

    monkeypatch.setattr(_graph, "capture", capture)
    _graph.clear_cache()
    yield calls
    _graph.clear_cache()


def _run(model, x, y, key, steps=5):
    problem = make_problem(model, x, y, loss=None, is_adversarial=None, targeted=False)
    state, step = make_step("l2", x, 0.5, 0.1, (0.0, 1.0))
    return _engine._run_graphed(problem, x, y, state, steps, step, False, key)


def _eager(model, x, y, steps=5):
    problem = make_problem(model, x, y, loss=None, is_adversarial=None, targeted=False)
    state, step = make_step("l2", x, 0.5, 0.1, (0.0, 1.0))
    return _engine.run(problem, x, y, state, steps=steps, step=step, early_stop=False)


def test_cached_replay_matches_eager_and_never_aliases(fake_capture, mlp_factory):
    model = mlp_factory(d=8).eval()
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.rand(6, 8, generator=g), torch.rand(6, 8, generator=g)
    y = torch.randint(0, 3, (6,), generator=g)
    x1_copy = x1.clone()
    first = _run(model, x1, y, "k")
    kept = first.x.clone()
    second = _run(model, x2, y, "k")
    assert fake_capture == [5]  # captured once, the second call only replayed
    assert torch.equal(x1, x1_copy)  # the caller's input was not used as a buffer
    assert torch.equal(first.x, kept)  # the first result was not overwritten
    for got, x in ((first, x1), (second, x2)):
        want = _eager(model, x, y)
        assert torch.allclose(got.x, want.x) and torch.equal(got.first, want.first)


def test_new_capture_when_model_or_constants_change(fake_capture, mlp_factory):
    model = mlp_factory(d=8).eval()
    x, y = torch.rand(4, 8), torch.tensor([0, 1, 2, 0])
    _run(model, x, y, "a")
    _run(model, x, y, "b")  # other step constants
    model.load_state_dict(mlp_factory(d=8, seed=1).state_dict())  # in place: same addresses
    _run(model, x, y, "b")
    for p in model.parameters():  # new tensors: the graph would read stale memory
        p.data = p.data.clone()
    _run(model, x, y, "b")
    _run(model, x[:3], y[:3], "b")  # other shape
    assert len(fake_capture) == 4


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("per_example_eps", [False, True])
@pytest.mark.parametrize("logits", [3, 1], ids=["classes", "one-logit"])
def test_the_captured_step_never_reads_a_value_back_to_the_host(norm, per_example_eps, logits):
    # A CUDA graph cannot capture a host synchronisation (.item(), a tensor's truth value,
    # boolean indexing, nonzero). Meta tensors have shapes but no values, so any such read in
    # the model call, loss, gradient, success bookkeeping or step raises here, without a GPU.
    meta = torch.device("meta")
    model = nn.Sequential(
        nn.Linear(8, 16, device=meta),
        nn.BatchNorm1d(16, device=meta),
        nn.ReLU(),
        nn.Linear(16, logits, device=meta),
    ).eval()
    x = torch.empty(6, 8, device=meta)
    y = torch.zeros(6, dtype=torch.long if logits > 1 else torch.float32, device=meta)
    eps = torch.empty(6, device=meta) if per_example_eps else 0.5
    problem = make_problem(model, x, y, loss=None, is_adversarial=None, targeted=False)
    state, step = make_step(norm, x, eps, 0.1, (0.0, 1.0))
    loop = _engine.FullLoop(problem, x, y, state, step, record_first=True, own=True)
    loop.one_step()
    loop.one_step()
    assert loop.xa.shape == x.shape and loop.first.shape == (6,)
