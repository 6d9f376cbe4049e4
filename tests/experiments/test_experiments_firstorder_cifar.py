"""``firstorder.*`` at paper scale (the Config defaults: CIFAR-10) on a few pickle batches written
in the official format, with every size shrunk by overrides so that each run takes seconds.

This is the code path a paper-scale run takes: (3, 32, 32) images read from ``--data-dir``,
up-sampled where the experiment does, through the paper's strided CNN.
"""

from __future__ import annotations

import numpy as np
import pytest

from advgeom.runs import config, registry, runner

N_PER_BATCH = 8  # 5 training batches (40 images) and a test batch of 12


def _write_cifar10(folder, py2_pickle) -> None:
    """cifar-10-batches-py as the official files hold it: dicts with bytes keys, ``data`` an
    (n, 3072) uint8 array (R, G, B planes, row-major), ``labels`` a list of ints."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in [(f"data_batch_{i}", N_PER_BATCH) for i in range(1, 6)] + [("test_batch", 12)]:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, size=n)],
            b"filenames": [f"{name}_{i}.png".encode() for i in range(n)],
        }
        (folder / name).write_bytes(py2_pickle(batch))
    meta = {b"label_names": [f"class{i}".encode() for i in range(10)]}
    (folder / "batches.meta").write_bytes(py2_pickle(meta))


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory, formats):
    root = tmp_path_factory.mktemp("data")
    _write_cifar10(root / "cifar-10-batches-py", formats.py2_pickle)
    return root


TINY = {
    "firstorder.init": {"factors": (1, 2), "seeds": 2, "examples": 6, "hidden": 16, "depth": 2,
                        "channels": 4},
    "firstorder.regularizers": {"channels": 4, "methods": ("grad_l1", "adv_linf", "pgd"),
                                "eps": (0.01,), "cross_lipschitz_eps": (0.01,), "epochs": 1,
                                "batch_size": 16},
    "firstorder.dimension": {"factors": (1, 2), "channels": 4, "eps": (0.0, 0.002), "epochs": 1,
                             "last_epochs": 1, "batch_size": 16},
    "firstorder.lemma": {"channels": 4, "epochs": 1, "eps": (1e-4, 5e-3), "test_examples": 6,
                         "pgd_steps": 2, "batch_size": 16},
    "firstorder.generalization": {"factors": (1, 2), "channels": 4, "eps": (0.0,), "epochs": 2,
                                  "measure_examples": 6, "batch_size": 16},
}


def _run_paper(exp_id: str, root, data_dir) -> dict:
    exp = registry.get(exp_id)
    cfg = config.resolve(exp.config, scale_overrides=TINY[exp_id])
    assert cfg.dataset == "cifar10"  # the defaults name the paper's data
    request = runner.RunRequest(experiment=exp, config=cfg, scale="paper", root=root,
                                data_dir=data_dir)
    results = runner.execute(request, runner.start(request))
    assert results["claims"] and results["figures"]
    return results


def _dims(factors) -> list[int]:
    return [3 * (32 * f) ** 2 for f in factors]


def test_init_on_cifar_batches(cifar_dir, tmp_path):
    m = _run_paper("firstorder.init", tmp_path, cifar_dir)["metrics"]
    assert m["dataset"] == "cifar10"
    for arch in ("fc", "strided", "avgpool"):
        assert [p["d"] for p in m["runs"][arch]["points"]] == _dims((1, 2))


def test_regularizers_on_cifar_batches(cifar_dir, tmp_path):
    res = _run_paper("firstorder.regularizers", tmp_path, cifar_dir)
    pts = res["metrics"]["points"]
    assert len(pts) == 1 + 3  # plain, then three methods at one eps
    assert all(0 <= p["vulnerability"] <= 1 and p["grad_l1"] > 0 for p in pts)
    assert {c["id"] for c in res["claims"]} >= {"l1_l2_linear", "vulnerability_follows_gradients"}


def test_dimension_on_upsampled_cifar_batches(cifar_dir, tmp_path):
    m = _run_paper("firstorder.dimension", tmp_path, cifar_dir)["metrics"]
    assert sorted({p["d"] for p in m["points"]}) == _dims((1, 2))  # 32 and 64 pixels per edge


def test_lemma_on_cifar_batches(cifar_dir, tmp_path):
    m = _run_paper("firstorder.lemma", tmp_path, cifar_dir)["metrics"]
    assert m["d"] == 3072 and m["examples"] == 6


def test_generalization_on_upsampled_cifar_batches(cifar_dir, tmp_path):
    m = _run_paper("firstorder.generalization", tmp_path, cifar_dir)["metrics"]
    assert [r["d"] for r in m["runs"]] == _dims((1, 2))
    assert all(len(r["history"]) == 3 for r in m["runs"])  # epochs 0, 1, 2
