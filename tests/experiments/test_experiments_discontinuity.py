"""Badger's experiments: claim logic on known curves, configs, and the MNIST path of d_m."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advgeom.data.idx import write_idx
from advgeom.errors import InputError
from advgeom.experiments import all_experiments, config, runner
from advgeom.experiments.badger2023 import _curves as cv
from advgeom.experiments.badger2023 import expansion, generative, injectivity
from advgeom.experiments.context import RunContext
from advgeom.store.rundir import RunDir

ETAS = [1.0, 1e-1, 1e-3, 1e-5, 1e-7]


def curve(r: list[float], e_a: list[float] | None = None, r32: list[float] | None = None):
    """A curve with the given r (float64), e_a, and float32 r (default: the same)."""
    e_a = e_a or [1.0] * len(r)

    def summary(rv):
        return {"eta": ETAS, "r": rv, "e_a": e_a, "r_draws": [[v, v] for v in rv]}

    return {"float64": summary(r), "float32": summary(r32 or r)}


def test_growth_is_the_ratio_between_the_two_steps():
    c = curve([1.0, 2.0, 4.0, 8.0, 8.0])
    assert cv.growth(c, "r", "float64", 1.0, 1e-5) == 8.0
    assert cv.growth(c, "r", "float64", 1e-5, 1e-7) == 1.0
    assert cv.value_at(c["float64"], "r", 2e-5) == 8.0  # nearest grid point in log scale
    missing = curve([1.0, None, None, None, None])
    assert cv.growth(missing, "r", "float64", 1.0, 1e-5) is None


def test_growth_claim_judges_r_in_float64_and_names_other_disagreements():
    kw = {"factor": 2.0, "eta_from": 1.0, "eta_to": 1e-5, "measurable": True, "note": "n"}
    grows = cv.growth_claim(
        "c", "s", curve([1, 2, 4, 8, 8], e_a=[1, 2, 4, 8, 8]), expect_growth=True, **kw
    )
    assert grows["agrees"] is True and "agree with the paper in both dtypes" in grows["note"]
    flat_r_but_e_a_grows = curve([1, 1, 1, 1, 1], e_a=[1, 10, 100, 1e4, 1e6])
    c = cv.growth_claim("c", "s", flat_r_but_e_a_grows, expect_growth=True, **kw)
    assert c["agrees"] is False
    assert "disagrees with the paper in r_float32, r_float64" in c["note"]
    assert "agrees in e_a_float32, e_a_float64" in c["note"]
    assert c["measured"]["e_a_float64"] == pytest.approx(1e4)
    unmeasured = cv.growth_claim(
        "c", "s", curve([1, 2, 4, 8, 8]), expect_growth=True, **{**kw, "measurable": False}
    )
    assert unmeasured["agrees"] is None


def test_order_claim():
    named = {
        "none": curve([1, 1, 1, 1, 1]),
        "8x": curve([1, 2, 3, 3, 3]),
        "16x": curve([1, 3, 9, 9, 9]),
    }
    c = cv.order_claim("o", "s", named, eta_from=1.0, eta_to=1e-5, measurable=True, note="n")
    assert c["agrees"] is True and c["measured"] == {"none": 1.0, "8x": 3.0, "16x": 9.0}
    named["16x"] = curve([1, 1, 1, 1, 1])
    c = cv.order_claim("o", "s", named, eta_from=1.0, eta_to=1e-5, measurable=True, note="n")
    assert c["agrees"] is False


def test_injectivity_claims_on_known_values():
    cfg = injectivity.Config(datasets=("mnist", "cifar100"))

    def entry(name, before, after, dups):
        d = {"distance": after, "duplicate_pairs": dups, "duplicate_groups": [[1, 2]] * bool(dups)}
        return {
            "dataset": name,
            "n": 100,
            "before": {"distance": before},
            "after": d,
            "inputs": {"distance": 2.0},
            "test_accuracy": 0.9,
            "steps": 10,
        }

    m = {"datasets": [entry("mnist", 0.009, 0.92, 0), entry("cifar100", 1e-4, 0.016, 3)]}
    claims = {c["id"]: c for c in injectivity.claims(cfg, m, "default")}
    assert claims["injective_after_training"]["agrees"] is True
    assert claims["table1_mnist"]["agrees"] is True and claims["table1_cifar100"]["agrees"]
    assert claims["training_increases_d_m"]["measured"] == pytest.approx(
        {"mnist": 0.92 / 0.009, "cifar100": 160.0}
    )
    assert claims["training_increases_d_m"]["agrees"] is True
    assert claims["untrained_d_m"]["agrees"] is False  # 0.009 is 3.3x below 3.0e-2
    assert claims["duplicates_found"]["agrees"] is True
    m["datasets"][0]["after"]["distance"] = 0.0
    claims = {c["id"]: c for c in injectivity.claims(cfg, m, "default")}
    assert claims["injective_after_training"]["agrees"] is False
    assert claims["table1_mnist"]["agrees"] is False


def _run(exp_id, root, assignments=(), data_dir=None):
    exp = next(e for e in all_experiments() if e.id == exp_id)
    cfg = config.resolve(
        exp.config, scale_overrides=exp.overrides("smoke"), assignments=assignments
    )
    request = runner.RunRequest(
        experiment=exp, config=cfg, scale="smoke", root=root, data_dir=data_dir
    )
    return runner.execute(request, runner.start(request))


def test_injectivity_reads_mnist_and_reports_planted_duplicates(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, count in (("train", 300), ("t10k", 100)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        images[5] = images[2]  # two exact duplicates in the training split
        images[9] = images[2]
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, count, np.uint8))
    results = _run(
        "discontinuity.injectivity",
        tmp_path / "runs",
        assignments=["datasets=('mnist',)"],
        data_dir=tmp_path / "data",
    )
    (entry,) = results["metrics"]["datasets"]
    assert entry["n"] == 300 and entry["in_features"] == 784
    assert entry["after"]["duplicate_pairs"] == 3
    assert entry["after"]["duplicate_groups"] == [[2, 5, 9]]
    assert entry["after"]["distance"] > 0 and entry["after"]["distance_with_duplicates"] == 0
    assert entry["inputs"]["pair"][0] not in (5, 9)  # duplicates are left out
    ids = {c["id"] for c in results["claims"]}
    assert {"table1_mnist", "untrained_d_m", "duplicates_found"} <= ids


def test_injectivity_skips_missing_data_sets_without_downloading(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVGEOM_CACHE", str(tmp_path / "cache"))  # an empty cache
    monkeypatch.delenv("ADVGEOM_DATA", raising=False)
    results = _run(
        "discontinuity.injectivity",
        tmp_path / "runs",
        assignments=["datasets=('digits','cifar10')", "skip_missing=True"],
    )
    assert [d["dataset"] for d in results["metrics"]["datasets"]] == ["digits"]
    assert results["metrics"]["skipped"] == ["cifar10"]
    assert not (tmp_path / "cache" / "data").exists() or not any(
        (tmp_path / "cache" / "data").rglob("*.tar.gz")
    )


def test_dropout_left_on_diverges_in_e_a_not_in_r(tmp_path):
    """The paper's "true discontinuity": with dropout on, e_a ~ 1/eta, but r = e_a / e_n stays
    near E|z| = sqrt(2/pi) because the random step's output jumps just as much."""
    cfg = config.resolve(expansion.Config, scale_overrides=expansion.EXPERIMENT.overrides("smoke"))
    ctx = RunContext(
        run=RunDir(tmp_path / "r").create(), device=torch.device("cpu"), seed=0, scale="smoke"
    )
    point = expansion.classifier_point(cfg, ctx, "dropout")
    g = cv.growths(point["curve"], 1e-2, 1e-7)
    assert g["e_a_float64"] > 1e4
    assert 0.5 < g["r_float64"] < 2
    r = cv.value_at(point["curve"]["float64"], "r", 1e-7)
    assert r == pytest.approx(np.sqrt(2 / np.pi), rel=0.3)


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (injectivity.Config, "datasets", ("digits", "digits")),
        (injectivity.Config, "datasets", ("imagenet",)),
        (injectivity.Config, "tolerance", 1.0),
        (expansion.Config, "dropout", 0.0),
        (expansion.Config, "etas", (1.0,)),
        (generative.Config, "denoiser_hidden", (8, 4)),
        (generative.Config, "grows_factor", 0.5),
    ],
)
def test_configs_refuse_bad_values(cls, field, value):
    with pytest.raises(InputError, match=field):
        cls(**{field: value})
