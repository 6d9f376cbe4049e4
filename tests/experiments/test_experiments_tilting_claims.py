"""The tilting.* claims as rules: kinds, the rule contract, verdicts decided by the measurement,
and the paper scale on MNIST (small IDX files, the official format)."""

from __future__ import annotations

import numpy as np
import pytest

from advgeom.data.idx import write_idx
from advgeom.experiments import config, get, rules, runner
from advgeom.experiments.tanay2018 import deep, plane, regularization, toy

IDS = ("tilting.regularization", "tilting.plane", "tilting.toy", "tilting.deep")
CONSTRUCTION = {
    "tilting.regularization": {"strong_regularization_perturbation_is_centroid_difference"},
    "tilting.toy": {"dimension_not_necessary", "dimension_not_sufficient", "tilt_decides"},
}


def run(exp_id: str, root, *, scale: str = "smoke", assignments=(), data_dir=None) -> dict:
    exp = get(exp_id)
    cfg = config.resolve(exp.config, scale_overrides=exp.overrides(scale), assignments=assignments)
    request = runner.RunRequest(
        experiment=exp, config=cfg, scale=scale, root=root, data_dir=data_dir
    )
    return runner.execute(request, runner.start(request))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> dict[str, dict]:
    """Each experiment once at smoke scale (its claims keep their Rule objects)."""
    root = tmp_path_factory.mktemp("runs")
    return {exp_id: run(exp_id, root) for exp_id in IDS}


@pytest.mark.parametrize("exp_id", IDS)
def test_claims_keep_their_ids_and_kinds(smoke, exp_id):
    claims = smoke[exp_id]["claims"]
    ids = [cl["id"] for cl in claims]
    assert len(set(ids)) == len(ids)
    for cl in claims:
        if exp_id == "tilting.deep":
            want = "beyond"
        else:
            want = "construction" if cl["id"] in CONSTRUCTION.get(exp_id, ()) else "reproduction"
        assert cl["kind"] == want, cl["id"]
    assert CONSTRUCTION.get(exp_id, set()) <= set(ids)


@pytest.mark.parametrize("exp_id", IDS)
def test_every_rule_can_fail_and_decides_from_the_measurement(smoke, exp_id):
    for cl in smoke[exp_id]["claims"]:
        rule = cl.decided_by
        assert isinstance(rule, rules.Rule), cl["id"]
        assert rules.contract_problems(rule, cl["paper_value"]) == [], cl["id"]
        assert cl["rule"] == rule.text and cl["rule"].startswith("agrees when")
        assert "agrees when" not in cl["note"], cl["id"]  # the rule says it, not the note
        if cl["agrees"] is not None:
            assert cl["agrees"] is rule.decide(cl["measured"], cl["paper_value"])
        # The measurement is not a constant: the rule's failing example is of its shape.
        fail = rule.failing(cl["paper_value"])
        assert type(fail) is type(cl["measured"]) or isinstance(cl["measured"], float), cl["id"]
        if isinstance(fail, dict):
            assert set(fail) <= set(cl["measured"]) or cl["id"] in {
                "overfitting_tilts_the_boundary",  # keyed by dimension
                "local_angle_falls_with_weight_decay",  # keyed by weight decay
                "distance_grows_with_weight_decay",
            }, cl["id"]


def test_deep_is_not_measured_at_smoke_scale(smoke):
    claims = smoke["tilting.deep"]["claims"]
    assert all(cl["agrees"] is None and "default scale" in cl["note"] for cl in claims)


@pytest.mark.parametrize("module", [regularization, plane, deep])
def test_paper_scale_is_mnist_the_small_scales_digits(module):
    exp = module.EXPERIMENT
    assert module.Config().dataset == "mnist"  # the paper scale: the article's data
    for scale in ("smoke", "default"):
        cfg = config.resolve(exp.config, scale_overrides=exp.overrides(scale))
        assert cfg.dataset == "digits", scale
    assert module.Config().pair == (2, 3)


def test_default_scale_keeps_the_article_grid():
    exp = regularization.EXPERIMENT
    cfg = config.resolve(exp.config, scale_overrides=exp.overrides("default"))
    assert (cfg.num_lams, cfg.log10_lam) == (81, (-7.0, 1.0))


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    """MNIST-format IDX files: 2s (a vertical bar) and 3s (a horizontal bar) in noise, and a
    few 5s that the pair must leave out."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, count in (("train", 200), ("t10k", 60)):
        labels = np.where(np.arange(count) % 2 == 0, 2, 3).astype(np.uint8)
        labels[::10] = 5
        images = rng.uniform(0, 60, (count, 28, 28))
        images[labels == 2, 4:24, 10:14] += 180
        images[labels == 3, 10:14, 4:24] += 180
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", np.clip(images, 0, 255).astype(np.uint8))
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


def test_regularization_paper_scale_on_mnist_files(tmp_path, mnist_dir):
    results = run(
        "tilting.regularization",
        tmp_path,
        scale="paper",
        assignments=["num_lams=9", "images=2"],
        data_dir=mnist_dir,
    )
    assert results["config"]["dataset"] == "mnist"
    first = results["metrics"]["pairs"][0]
    assert first["n"] == 784 and first["N_train"] == 180 and first["N_test"] == 54
    assert len(first["images"]["x"][0]) == 28 and len(first["images"]["x"][0][0]) == 28
    assert all(first["exact"])
    claims = {cl["id"]: cl for cl in results["claims"]}
    assert claims["strong_regularization_perturbation_is_centroid_difference"]["agrees"]
    assert all(isinstance(cl["agrees"], bool) for cl in results["claims"])


def test_plane_paper_scale_on_mnist_files(tmp_path, mnist_dir):
    results = run(
        "tilting.plane",
        tmp_path,
        scale="paper",
        assignments=["num_lams=5", "frames=2", "max_points=50"],
        data_dir=mnist_dir,
    )
    m = results["metrics"]
    assert m["dataset"] == "mnist" and m["n"] == 784 and m["N_train"] == 180
    assert len(m["views"]["weak"]["u"]) == 50
    assert all(isinstance(cl["agrees"], bool) for cl in results["claims"])


def test_deep_paper_scale_on_mnist_files(tmp_path, mnist_dir):
    results = run(
        "tilting.deep",
        tmp_path,
        scale="paper",
        assignments=[
            "hidden=8",
            "weight_decays=(0.0, 0.01, 0.1)",
            "steps=30",
            "lr=0.01",
            "seeds=1",
            "attack_points=5",
            "attack_steps=5",
        ],
        data_dir=mnist_dir,
    )
    m = results["metrics"]
    assert m["dataset"] == "mnist" and len(m["models"]) == 3
    assert len(m["models"][0]["angles"]) == 5
    # The paper scale is measurable (three weight decays): verdicts or a note saying why not.
    for cl in results["claims"]:
        assert cl["kind"] == "beyond"
        assert isinstance(cl["agrees"], bool) or "not measurable" in cl["note"]


def test_toy_constructions_fail_when_the_construction_breaks():
    """The construction claims follow their numbers: a tilt that does not bring the boundary
    close, or distances that differ between dimensions, are rejected."""
    cfg = toy.Config()
    angles = list(cfg.angles)
    i0, it = angles.index(0.0), angles.index(cfg.tilted)
    flat = [1.0] * len(angles)
    close = flat.copy()
    close[it] = 0.1
    svm = [
        {"n": n, "weak": {"angle": 80.0, "distance_mean": 0.1, "train_error": 0.0,
                          "test_error": 0.2},
         "strong": {"angle": 1.0, "distance_mean": 0.5, "train_error": 0.1, "test_error": 0.1}}
        for n in (2, 785)
    ]

    def claims(lo_dist, hi_dist, lo_err=0.0):
        m = {
            "angles": angles,
            "fixed": [
                {"n": 2, "distance_mean": lo_dist, "error": [lo_err] * len(angles)},
                {"n": 785, "distance_mean": hi_dist, "error": [0.0] * len(angles)},
            ],
            "svm": svm,
        }
        return {cl["id"]: cl["agrees"] for cl in toy.claims(cfg, m)}

    assert claims(close, close) == {
        "dimension_not_necessary": True,
        "dimension_not_sufficient": True,
        "tilt_decides": True,
        "overfitting_tilts_the_boundary": True,
    }
    got = claims(flat, close)  # the tilt does not bring the 2-D boundary close
    assert got["dimension_not_necessary"] is False and got["tilt_decides"] is False
    assert claims(close, close, lo_err=0.3)["dimension_not_necessary"] is False
    far = [v * 1.5 for v in close]
    assert claims(close, far)["dimension_not_sufficient"] is False
    assert i0 != it


def test_overfitting_claim_decides_on_the_distances_it_reports():
    """The old verdict used the distances but reported only the angles."""
    cfg = toy.Config()
    angles = list(cfg.angles)
    fixed = [{"n": n, "distance_mean": [1.0] * len(angles), "error": [0.0] * len(angles)}
             for n in (2, 785)]

    def verdict(weak_distance):
        svm = [
            {"n": n, "weak": {"angle": 80.0, "distance_mean": weak_distance, "train_error": 0.0,
                              "test_error": 0.2},
             "strong": {"angle": 1.0, "distance_mean": 0.5, "train_error": 0.1,
                        "test_error": 0.1}}
            for n in (2, 785)
        ]
        cl = next(cl for cl in toy.claims(cfg, {"angles": angles, "fixed": fixed, "svm": svm})
                  if cl["id"] == "overfitting_tilts_the_boundary")
        assert cl["measured"]["n785"]["distance_ratio"] == pytest.approx(weak_distance / 0.5)
        return cl["agrees"]

    assert verdict(0.1) is True
    assert verdict(0.4) is False  # tilted, but not close to the data
