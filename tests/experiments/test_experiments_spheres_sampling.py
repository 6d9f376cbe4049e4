"""``spheres.sampling`` at the smoke scale, and its exact nearest-pair search."""

from __future__ import annotations

import math

import pytest
import torch

from advgeom.errors import InputError
from advgeom.experiments import config as config_mod
from advgeom.experiments import get, runner
from advgeom.experiments.claims import CLAIM_KEYS
from advgeom.experiments.gilmer2018 import sampling
from advgeom.experiments.gilmer2018.sampling import Config, nearest_pair

CLAIM_IDS = ["radius", "coordinate_gaussian", "nearest_pair", "nearest_pair_far_from_errors"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    exp = get("spheres.sampling")
    cfg = config_mod.resolve(exp.config, scale_overrides=exp.overrides("smoke"))
    root = tmp_path_factory.mktemp("runs")
    request = runner.RunRequest(experiment=exp, config=cfg, scale="smoke", seed=0, root=root)
    run = runner.start(request)
    return runner.execute(request, run), run


def claims_by_id(results):
    return {c["id"]: c for c in results["claims"]}


def test_claims_present_with_their_keys(smoke):
    results, _ = smoke
    assert [c["id"] for c in results["claims"]] == CLAIM_IDS
    for c in results["claims"]:
        assert tuple(c) == CLAIM_KEYS
        assert c["agrees"] in (True, False, None)
        assert isinstance(c["statement"], str) and c["statement"]


def test_radius_claim_agrees(smoke):
    radius = claims_by_id(smoke[0])["radius"]
    assert radius["agrees"] is True
    assert 0 <= radius["measured"] <= 1e-6


def test_nearest_pair_not_comparable_at_smoke(smoke):
    results, _ = smoke
    pair = claims_by_id(results)["nearest_pair"]
    assert results["config"]["pair_points"] != 10_000  # smoke is not the paper's setting
    assert pair["agrees"] is None
    assert pair["paper_value"] == 1.25
    assert "not comparable" in pair["note"]
    assert 0 < pair["measured"] < 2  # two points on the unit sphere


def test_metrics_are_consistent(smoke):
    results, run = smoke
    m = results["metrics"]
    pair = m["nearest_pair"]
    n_points = results["config"]["pair_points"]
    assert sum(pair["hist_counts"]) == n_points * (n_points - 1) // 2
    i, j = pair["pair"]
    assert 0 <= i < j < n_points
    pred = m["nearest_pair_predicted"]
    assert pred["low"] < pred["median"] < pred["high"]
    assert abs(m["n_mean_x1_squared"] - 1) < 0.1
    assert sorted(run.points()) == ["nearest_pair", "radii_and_coordinates"]
    assert {p.name for p in run.figures_dir.iterdir()} == {"sampling.png", "sampling.svg"}


def test_same_seed_same_numbers(smoke, tmp_path):
    """A second run with the same seed measures exactly the same values."""
    results, _ = smoke
    exp = get("spheres.sampling")
    cfg = config_mod.resolve(exp.config, scale_overrides=exp.overrides("smoke"))
    ctx_run = runner.start(runner.RunRequest(experiment=exp, config=cfg, scale="smoke",
                                             root=tmp_path))
    from advgeom.experiments.context import RunContext

    ctx = RunContext(run=ctx_run, device=torch.device("cpu"), seed=0, scale="smoke")
    again = sampling.run(cfg, ctx)
    assert again["metrics"]["nearest_pair"] == results["metrics"]["nearest_pair"]
    assert again["metrics"]["ks_gaussian"] == results["metrics"]["ks_gaussian"]


def brute_force(x: torch.Tensor) -> tuple[float, tuple[int, int]]:
    d = torch.cdist(x.double(), x.double())
    d.fill_diagonal_(math.inf)
    flat = int(torch.argmin(d))
    i, j = divmod(flat, len(x))
    return float(d[i, j]), (min(i, j), max(i, j))


@pytest.mark.parametrize(("N", "n", "block"), [(2, 3, 2048), (37, 5, 8), (64, 4, 16), (50, 30, 7)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearest_pair_equals_brute_force(N, n, block, seed):
    x = torch.randn(N, n, generator=torch.Generator().manual_seed(seed))
    distance, pair = brute_force(x)
    found = nearest_pair(x, block=block, bins=10)
    assert tuple(found["pair"]) == pair
    assert found["distance"] == pytest.approx(distance, rel=1e-9, abs=1e-12)
    assert sum(found["hist_counts"]) == N * (N - 1) // 2


def test_nearest_pair_finds_a_planted_close_pair():
    x = torch.randn(40, 6, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    x[29] = x[7] + 1e-6
    found = nearest_pair(x, block=16)
    assert found["pair"] == [7, 29]
    # The distance comes from the Gram expansion |a|^2 + |b|^2 - 2 a.b, which cancels for
    # near-equal rows: good to ~1e-9 absolute here, not to full relative precision.
    assert found["distance"] == pytest.approx(1e-6 * math.sqrt(6), abs=1e-8)


@pytest.mark.parametrize(
    ("field", "value"),
    [("n", 1), ("samples", -1), ("R", 1.0), ("R", 0.9), ("R", math.inf), ("pair_points", 1),
     ("pair_coverage", 1.0), ("chunk", 0)],
)
def test_config_checks_name_the_field(field, value):
    with pytest.raises(InputError, match=rf"^{field} must"):
        Config(**{field: value})
