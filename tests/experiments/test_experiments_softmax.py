"""The softmax.* experiments (Zou et al.): their pieces and claim logic on known inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from advgeom.errors import InputError
from advgeom.experiments.zou2018 import (
    _feature_search,
    _model,
    directions,
    unbounded,
    universality,
)
from advgeom.geometry import softmax as sm
from advgeom.geometry.softmax_parallel import ChainHead


def test_configs_refuse_bad_values():
    with pytest.raises(InputError, match="eps_imperceptible"):
        universality.Config(eps=(0.1, 0.2), eps_imperceptible=0.05)
    with pytest.raises(InputError, match="above"):
        unbounded.Config(above=((10, 10),))
    with pytest.raises(InputError, match="below"):
        unbounded.Config(below=((10, 5),))
    with pytest.raises(InputError, match="low_rank"):
        directions.Config(low_rank=(10, 5, 6))


def test_linear_init_matches_the_formula_of_theorem_1():
    gen = torch.Generator().manual_seed(0)
    cfg = directions.Config(directions=4, points=2)
    rng = np.random.default_rng(0)
    for width, m, dim in ((20, 6, 15), (6, 6, 1), (4, 6, 0)):
        head = directions.linear_init(width, m, gen)
        assert np.abs(head[0]).max() <= 1 / math.sqrt(width)
        rec = directions.measure(head, rng.standard_normal((2, width)), cfg, rng, kind="random")
        assert rec["dim"] == rec["generic"] == rec["formula"] == dim
        assert rec["max_change"] <= 1e-9


def test_examine_checks_every_region():
    triangle = (
        np.array([[1.0, 0], [-0.5, 0.75**0.5], [-0.5, -(0.75**0.5)], [0, 0]]),
        np.array([0.0, 0, 0, 1]),
    )
    out = unbounded.examine(triangle, unbounded.Config())
    kinds = [r["kind"] for r in out["regions"]]
    assert kinds == ["strict", "strict", "strict", "bounded"] and out["dim_V"] == 0
    assert all(r["stays"] and r["lp_unbounded"] for r in out["regions"][:3])
    assert out["regions"][3]["extent"] == pytest.approx(2)
    assert unbounded.census([out]) == {
        "strict": 3,
        "recession": 0,
        "invariant": 0,
        "bounded": 1,
        "empty": 0,
    }


def test_draw_pairs_differ_in_class_and_follow_the_seed():
    y = torch.tensor([0, 0, 1, 1, 2, 2, 2, 3])
    pairs = universality.draw_pairs(y, 200, torch.Generator().manual_seed(1))
    assert pairs.shape == (200, 2)
    assert np.all(y[pairs[:, 0]].numpy() != y[pairs[:, 1]].numpy())
    again = universality.draw_pairs(y, 200, torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(pairs, again)


@pytest.mark.parametrize("parallel", [False, True])
def test_projected_logits_give_the_heads_class(parallel):
    """Features modulo V decide the class: the search may judge success from them alone."""
    gen = torch.Generator().manual_seed(2)
    head = ChainHead(12, 10, generator=gen) if parallel else torch.nn.Linear(12, 10)
    g = torch.randn(500, 12, generator=gen).double() * 3
    Q, headQ, b = _feature_search.projection(head, g)
    W, b0 = (torch.as_tensor(a) for a in sm.head_weights(head))
    assert torch.equal((g @ Q @ headQ.T + b).argmax(1), (g @ W.T + b0).argmax(1))
    assert Q.shape[1] == (1 if parallel else 10 - 1)


def test_model_features_are_the_last_hidden_layer():
    gen = torch.Generator().manual_seed(3)
    model = _model.build(16, 2, parallel=True, generator=gen)
    x = torch.rand(5, 64, generator=gen)
    torch.testing.assert_close(model[-1](_model.features(model, x)), model(x))
    assert (_model.features(model, x) >= 0).all()


def _head(success: list[bool], adjacent: list[bool], eps=(0.1,), residual=0.5) -> dict:
    run = {"success": success, "success_last": success, "residual": [residual] * len(success)}
    return {
        "runs": [{"eps": e, "feature": run, "pgd": run} for e in eps],
        "pair_adjacent": adjacent,
        "classes": [[0, 1]] * len(success),
        "l": 64,
        "m": 10,
        "dim_V": 55,
        "parallel_pairs": 0,
        "smallest_angle": 0.5,
        "test_accuracy": 0.9,
    }


def test_universality_claims_follow_the_measurements():
    cfg = universality.Config(eps=(0.1,), eps_imperceptible=0.1)
    std = _head([True] * 19 + [False], [True] * 20, residual=0.05)
    sep = [False] * 60 + [True] * 40  # 10% of separated pairs broken, 90% of adjacent ones
    par = _head([True] * 6 + [False] * 54 + [True] * 36 + [False] * 4, sep)
    got = {
        c["id"]: c for c in universality.claims(cfg, {"heads": {"standard": std, "parallel": par}})
    }
    assert got["universality_standard_head"]["measured"] == 0.95
    assert got["universality_standard_head"]["agrees"] is True
    assert got["features_reach_target_set"]["agrees"] is True
    assert got["parallel_head_separates"]["measured"]["separated"] == pytest.approx(0.1)
    assert got["parallel_head_separates"]["agrees"] is True
    even = _head([True, False] * 50, sep)  # the same rate on both kinds of pairs
    got = {
        c["id"]: c for c in universality.claims(cfg, {"heads": {"standard": std, "parallel": even}})
    }
    assert got["parallel_head_separates"]["agrees"] is False
    weak = _head([False] * 20, [True] * 20, residual=0.9)
    got = {
        c["id"]: c
        for c in universality.claims(cfg, {"heads": {"standard": weak, "parallel": weak}})
    }
    assert got["universality_standard_head"]["agrees"] is False
    assert got["features_reach_target_set"]["agrees"] is False
    assert got["parallel_head_separates"]["agrees"] is None  # no separated pairs at all
    assert got["parallel_head_separates"]["measured"]["separated"] is None
