"""Badger's experiments at paper scale (the Config defaults: Table 1's four data sets, or
Fashion-MNIST) on small files written in the official formats, every size shrunk by overrides so
each run takes seconds.

This is the code path a paper-scale run takes: (1, 28, 28) IDX images and (3, 32, 32) CIFAR
pickle batches read from ``--data-dir``, through the paper's models, with nothing skipped.
"""

from __future__ import annotations

import numpy as np
import pytest

from advgeom.data.idx import write_idx
from advgeom.errors import InputError
from advgeom.runs import config, registry, runner


def _batch(rng, n: int, labels: dict[str, int], duplicate: bool = False) -> dict:
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    if duplicate:
        data[7] = data[3]  # one exactly duplicated pair, as CIFAR-100's footnote expects
    batch = {b"batch_label": b"batch", b"data": data,
             b"filenames": [f"{i}.png".encode() for i in range(n)]}
    for key, classes in labels.items():
        batch[key.encode()] = [int(v) for v in rng.integers(0, classes, size=n)]
    return batch


def write_idx_set(root, folder: str, *, n_train: int = 240, n_test: int = 60, seed: int = 0):
    """``<root>/<folder>/raw/``: the four gzipped IDX files of MNIST or Fashion-MNIST."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    for split, count in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{split}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, count, np.uint8))


def write_cifar(root, py2_pickle) -> None:
    """cifar-10-batches-py (5 x 16 training images, 20 test) and cifar-100-python (60, 20)."""
    rng = np.random.default_rng(1)
    c10 = root / "cifar-10-batches-py"
    c10.mkdir(parents=True)
    for i in range(1, 6):
        (c10 / f"data_batch_{i}").write_bytes(py2_pickle(_batch(rng, 16, {"labels": 10})))
    (c10 / "test_batch").write_bytes(py2_pickle(_batch(rng, 20, {"labels": 10})))
    (c10 / "batches.meta").write_bytes(py2_pickle({b"label_names": [b"c"] * 10}))
    c100 = root / "cifar-100-python"
    c100.mkdir(parents=True)
    keys = {"fine_labels": 100, "coarse_labels": 20}
    (c100 / "train").write_bytes(py2_pickle(_batch(rng, 60, keys, duplicate=True)))
    (c100 / "test").write_bytes(py2_pickle(_batch(rng, 20, keys)))
    (c100 / "meta").write_bytes(py2_pickle({b"fine_label_names": [b"f"] * 100}))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, formats):
    root = tmp_path_factory.mktemp("data")
    write_idx_set(root, "MNIST", seed=0)
    write_idx_set(root, "FashionMNIST", seed=1)
    write_cifar(root, formats.py2_pickle)
    return root


def _run_paper(exp_id: str, root, data_dir, assignments=()) -> dict:
    exp = registry.get(exp_id)
    cfg = config.resolve(exp.config, scale_overrides=exp.overrides("paper"),
                         assignments=assignments)
    request = runner.RunRequest(experiment=exp, config=cfg, scale="paper", root=root,
                                data_dir=data_dir)
    return runner.execute(request, runner.start(request))


def test_injectivity_runs_table1s_four_data_sets_at_paper_scale(tmp_path, data_dir):
    """All four data sets of Table 1, none skipped, their whole (small) training splits for the
    paper's 50 epochs: every Table 1 claim is decided, CIFAR images enter as 3072 inputs."""
    exp = registry.get("discontinuity.injectivity")
    assert exp.config().datasets == ("fashion-mnist", "mnist", "cifar10", "cifar100")
    assert exp.config().skip_missing is False
    results = _run_paper("discontinuity.injectivity", tmp_path / "runs", data_dir,
                         ["hidden=(16,)"])
    per = {d["dataset"]: d for d in results["metrics"]["datasets"]}
    assert list(per) == ["fashion-mnist", "mnist", "cifar10", "cifar100"]
    assert results["metrics"]["skipped"] == []
    assert {k: d["in_features"] for k, d in per.items()} == {
        "fashion-mnist": 784, "mnist": 784, "cifar10": 3072, "cifar100": 3072}
    assert {k: d["n"] for k, d in per.items()} == {
        "fashion-mnist": 240, "mnist": 240, "cifar10": 80, "cifar100": 60}
    assert per["cifar100"]["after"]["duplicate_pairs"] == 1
    claims = {c["id"]: c for c in results["claims"]}
    for name in ("fashion_mnist", "mnist", "cifar10", "cifar100"):
        assert isinstance(claims[f"table1_{name}"]["agrees"], bool), name
    assert claims["duplicates_found"]["agrees"] is True
    assert claims["untrained_d_m"]["measured"] == per["mnist"]["before"]["distance"]
    assert isinstance(claims["untrained_d_m"]["agrees"], bool)
    assert claims["injective_after_training"]["agrees"] is True


def test_injectivity_refuses_to_skip_at_paper_scale(tmp_path, data_dir):
    with pytest.raises(InputError, match="skip_missing must be False at the paper scale"):
        _run_paper("discontinuity.injectivity", tmp_path / "runs", data_dir,
                   ["hidden=(16,)", "skip_missing=True"])


SHRINK_EXPANSION = [
    "hidden=(16, 8)", "classifier_epochs=2.0", "ae_epochs=2.0", "width_scale=0.02",
    "inputs=12", "draws=1",
]
SHRINK_GENERATIVE = [
    "gan_epochs=2.0", "ddpm_epochs=2.0", "gan_width_scale=0.02", "denoiser_width_scale=0.01",
    "timesteps=50", "inputs=12", "draws=1", "ae_epochs=2.0",
]
NOT_ON_THE_RANGE = (  # rules on something else than the growth over 1e-1..1e-5
    "dropout_r_diverges", "r_unbounded_as_eta_to_0", "autoencoder_denoises",
    "autoencoder_not_identity", "generator_compression_like_8x_autoencoder",
)


@pytest.mark.parametrize(("exp_id", "shrink"), [
    ("discontinuity.expansion", SHRINK_EXPANSION),
    ("discontinuity.generative", SHRINK_GENERATIVE),
])
def test_curves_run_on_fashion_mnist_at_paper_scale(tmp_path, data_dir, exp_id, shrink):
    """Fashion-MNIST (Sec. 5 names it) from --data-dir, the paper's eta grid 1 ... 1e-7, growth
    over 1e-1..1e-5; every claim decided (paper scale is never the smoke scale)."""
    exp = registry.get(exp_id)
    assert exp.config().dataset == "fashion-mnist"
    results = _run_paper(exp_id, tmp_path / "runs", data_dir, shrink)
    assert results["metrics"]["dataset"] == "fashion-mnist"
    curves = results["metrics"].get("curves") or {
        k: p["curve"] for k, p in results["metrics"]["models"].items()}
    for curve in curves.values():
        assert curve["float64"]["eta"] == pytest.approx([10.0**-k for k in range(8)])
    for c in results["claims"]:
        assert c["agrees"] in (True, False), c["id"]
        assert "0.1 to 1e-05" in c["rule"] or c["id"] in NOT_ON_THE_RANGE, c["id"]
    m = results["metrics"]
    if exp_id == "discontinuity.expansion":  # Fig. S1 on the 28 x 28 images
        assert np.shape(m["models"]["autoencoder_none"]["denoising"]["images"]["denoised"])[1:] \
            == (28, 28)
    else:  # Sec. 5: the 8x autoencoder at the paper's widths, beside the 100 -> 784 generator
        assert m["training"]["autoencoder_8x_hidden"] == [2000, 1000, 500, 250, 500, 1000, 2000]
        assert (m["training"]["latent_features"], m["training"]["image_features"]) == (100, 784)
