"""Every registered experiment runs at smoke scale and returns well-formed results and claims."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from advgeom.data.idx import write_idx
from advgeom.runs import config, runner
from advgeom.runs.claims import CLAIM_KEYS
from advgeom.runs.registry import all_experiments


def _run(exp, root, *, assignments=(), data_dir=None):
    cfg = config.resolve(exp.config, scale_overrides=exp.overrides("smoke"),
                         assignments=assignments)
    request = runner.RunRequest(experiment=exp, config=cfg, scale="smoke", root=root,
                                data_dir=data_dir)
    run = runner.start(request)
    return run, runner.execute(request, run)


def _check_outcome(root, outcome, exp, scale):
    """A finished experiment's results.json: its claims well formed, its figures written."""
    assert outcome.status == "done", outcome.error
    run_dir = root / outcome.run_id
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["experiment"] == exp.id and results["scale"] == scale
    assert results["claims"], "every experiment states at least one claim"
    assert results["claims"] == outcome.claims
    ids = [c["id"] for c in results["claims"]]
    assert len(ids) == len(set(ids))
    for c in results["claims"]:
        assert tuple(c) == CLAIM_KEYS
        assert c["agrees"] in (True, False, None)
        assert c["statement"] and c["note"]
        if isinstance(c["measured"], float):
            assert math.isfinite(c["measured"])
    assert results["figures"]
    for rel in results["figures"]:
        assert (run_dir / rel).stat().st_size > 0


@pytest.mark.parametrize("exp", all_experiments(), ids=lambda e: e.id)
def test_experiment_runs_at_smoke_scale(exp, smoke_reproduction):
    root, _, outcomes = smoke_reproduction
    _check_outcome(root, next(o for o in outcomes if o.experiment == exp.id), exp, "smoke")


@pytest.fixture(scope="module")
def default_reproduction(tmp_path_factory):
    """``advgeom reproduce`` at the default scale, once for the slow tests (~9 min on 2 cores)."""
    from advgeom.runs import reproduce

    root = tmp_path_factory.mktemp("default-reproduction")
    experiments = [e for e in all_experiments() if not e.id.startswith("test.")]
    plan = reproduce.plan(experiments, root=root, scale="default", seed=0)
    return root, reproduce.reproduce(plan, root=root)


@pytest.mark.slow
@pytest.mark.parametrize("exp", all_experiments(), ids=lambda e: e.id)
def test_experiment_runs_at_default_scale(exp, default_reproduction):
    """The main job's scale: every experiment finishes and states well-formed claims."""
    root, outcomes = default_reproduction
    _check_outcome(root, next(o for o in outcomes if o.experiment == exp.id), exp, "default")


# The paper scale's CNN training (10 + 20 epochs, PGD-40) cut to seconds; the data set stays.
_SMALL_CNNS = ["cnn_channels=8", "cnn_epochs=1", "adv_epochs=1", "adv_steps=2",
               "attack_points=20", "attack_steps=5", "attack_search_steps=3"]


@pytest.mark.parametrize(("scale", "assignments"),
                         [("paper", _SMALL_CNNS), ("smoke", ["dataset=mnist"])])
def test_halfspace_reads_mnist_from_a_data_dir(tmp_path, scale, assignments):
    """The MNIST path of spheres.halfspace (the paper scale's data set, or --set at the smoke
    scale), on IDX files with a dominant direction; the CNNs train on them too."""
    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, count in (("train", 600), ("t10k", 300)):
        # Pixels: a common stroke scaled by a heavy per-image factor, plus small noise.
        stroke = np.zeros((28, 28))
        stroke[6:22, 12:16] = 1.0
        scale_ = rng.uniform(0, 1, size=(count, 1, 1))
        images = np.clip(scale_ * stroke * 230 + rng.uniform(0, 20, (count, 28, 28)), 0, 255)
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", images.astype(np.uint8))
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, count, np.uint8))
    exp = next(e for e in all_experiments() if e.id == "spheres.halfspace")
    cfg = config.resolve(exp.config, scale_overrides=exp.overrides(scale), assignments=assignments)
    request = runner.RunRequest(experiment=exp, config=cfg, scale=scale, root=tmp_path / "runs",
                                data_dir=tmp_path / "data")
    results = runner.execute(request, runner.start(request))
    m = results["metrics"]
    assert results["config"]["dataset"] == "mnist"
    assert m["n"] == 784 and m["test_size"] == 300
    claims = {c["id"]: c for c in results["claims"]}
    assert abs(m["top"]["mu"] - 0.01) < 0.03
    assert isinstance(claims["top_halfspace_distance"]["agrees"], bool)  # compared on MNIST
    assert claims["top_vs_low_variance"]["agrees"] is True
    cnn = m["cnn"]
    assert cnn["attack_points"] == min(results["config"]["attack_points"], 300)
    # On MNIST the paper's CNN numbers are compared (at the paper scale; smoke never judges).
    assert isinstance(claims["cnn_distance"]["agrees"], bool) is (scale == "paper"
                                                                 and cnn["plain"]["d"] is not None)
