"""MNIST and Fashion-MNIST: layouts, gzip, exact round trip, finding, downloading, failing."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from advgeom.data import load
from advgeom.data import mnist as mnist_module
from advgeom.errors import DataError, InputError

NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def check_round_trip(x, y, images, labels):
    assert x.shape == (len(images), 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (len(labels),) and y.dtype == torch.int64
    assert x.min() >= 0 and x.max() <= 1
    assert torch.equal((x[:, 0] * 255).round().to(torch.uint8), torch.from_numpy(images))
    assert torch.equal(y, torch.from_numpy(labels.astype(np.int64)))


@pytest.mark.parametrize("layout", ["torchvision", "flat"])
@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
def test_round_trip(tmp_path, fmt, layout, gz, split):
    written = fmt.write_mnist(tmp_path / "data", layout=layout, gz=gz)
    x, y = load("mnist", root=tmp_path / "data", split=split)
    check_round_trip(x, y, *written[split])
    assert x[0, 0, 0, 0] == 0 and x[0, 0, 0, 1] == 1  # pixel / 255 exactly


def test_fashion_mnist_uses_its_own_folder(tmp_path, fmt):
    written = fmt.write_mnist(tmp_path, folder="FashionMNIST")
    x, y = load("fashion-mnist", root=tmp_path, split="test")
    check_round_trip(x, y, *written["test"])
    with pytest.raises(DataError, match="MNIST"):
        load("mnist", root=tmp_path, download=False)  # FashionMNIST/raw is not MNIST


def test_root_from_environment(tmp_path, fmt, monkeypatch):
    written = fmt.write_mnist(tmp_path / "env")
    monkeypatch.setenv("ADVGEOM_DATA", str(tmp_path / "env"))
    check_round_trip(*load("mnist"), *written["train"])


def test_files_in_the_cache_are_found(tmp_path, fmt, env):
    written = fmt.write_mnist(env.cache, gz=False)
    check_round_trip(*load("mnist", split="test"), *written["test"])
    assert env.offline.calls == []


def test_count_mismatch(tmp_path, fmt):
    fmt.write_mnist(tmp_path)
    labels = tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.with_name(labels.name + ".gz").unlink()
    fmt.write_idx(labels, np.zeros(5, dtype=np.uint8), gz=False)
    with pytest.raises(DataError, match="has 7 images but .* has 5 labels") as info:
        load("mnist", root=tmp_path)
    assert str(labels) in str(info.value)


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((3, 32, 32), dtype=np.uint8), "shape"),
        (np.zeros((3, 28, 28), dtype=np.float32), "uint8"),
        (np.zeros((3, 784), dtype=np.uint8), "shape"),
    ],
)
def test_wrong_image_array(tmp_path, fmt, images, message):
    fmt.write_idx(tmp_path / NAMES[0], images, gz=False)
    fmt.write_idx(tmp_path / NAMES[1], np.zeros(3, dtype=np.uint8), gz=False)
    with pytest.raises(DataError, match=message) as info:
        load("mnist", root=tmp_path)
    assert NAMES[0] in str(info.value)


def test_label_out_of_range(tmp_path, fmt):
    fmt.write_idx(tmp_path / NAMES[0], np.zeros((2, 28, 28), dtype=np.uint8), gz=False)
    fmt.write_idx(tmp_path / NAMES[1], np.array([3, 10], dtype=np.uint8), gz=False)
    with pytest.raises(DataError, match="label 10"):
        load("mnist", root=tmp_path)


def test_truncated_file_in_a_root(tmp_path, fmt):
    fmt.write_mnist(tmp_path, layout="flat", gz=False)
    path = tmp_path / NAMES[2]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated") as info:
        load("mnist", root=tmp_path, split="test")
    assert str(path) in str(info.value)


def test_missing_root_is_named(tmp_path):
    with pytest.raises(InputError, match="does not exist") as info:
        load("mnist", root=tmp_path / "typo")
    assert str(tmp_path / "typo") in str(info.value)


def test_root_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        load("mnist", root=tmp_path / "f")


def test_missing_environment_root_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVGEOM_DATA", str(tmp_path / "gone"))
    with pytest.raises(InputError, match="ADVGEOM_DATA"):
        load("mnist")


def test_empty_folder_says_what_was_expected(tmp_path, env):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as info:
        load("mnist", root=tmp_path / "empty")
    message = str(info.value)
    assert f"{tmp_path / 'empty'} (none of the expected files; empty)" in message
    assert "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz" in message
    assert "MNIST/raw/" in message


def test_wrong_folder_lists_what_it_holds(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DataError) as info:
        load("mnist", root=tmp_path)
    message = str(info.value)
    assert "has train-images-idx3-ubyte; lacks train-labels-idx1-ubyte" in message


def test_offline_gives_one_message_naming_every_place(tmp_path, env):
    (tmp_path / "d").mkdir()
    with pytest.raises(DataError) as info:
        load("mnist", root=tmp_path / "d", split="test")
    message = str(info.value)
    assert "\n" not in message  # the CLI prints it as one line
    assert message.startswith("cannot find the MNIST test files, and could not download")
    for place in (
        tmp_path / "d" / "MNIST" / "raw",
        tmp_path / "d",
        env.cache / "MNIST" / "raw",
        env.cache,
    ):
        assert str(place) in message
    assert "simulated" in message  # the network's reason is kept
    assert "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz" in message
    assert "--data-dir DIR" in message and "ADVGEOM_DATA=DIR" in message
    assert env.offline.calls[0].startswith("https://ossci-datasets.s3.amazonaws.com/mnist/")
    assert any(url.startswith("https://storage.googleapis.com/") for url in env.offline.calls)
    assert not any(env.cache.rglob("*.part"))


def test_download_can_be_switched_off(env):
    with pytest.raises(DataError, match="downloading is switched off"):
        load("fashion-mnist", download=False)
    assert env.offline.calls == []


def serve_fake_mnist(fmt, monkeypatch, name="mnist", split="train", *, corrupt=False):
    """A server holding fake gzipped files, and the code's hashes pinned to them."""
    source = mnist_module.SOURCES[name]
    images, labels = fmt.mnist_arrays(4, 0)
    files = {}
    for array, base in zip((images, labels), mnist_module.FILES[split], strict=True):
        data = gzip.compress(fmt.idx_bytes(array))
        monkeypatch.setitem(source.sha256, base + ".gz", fmt.sha256(data))
        files[source.mirrors[-1] + base + ".gz"] = data + (b"!" if corrupt else b"")
    server = fmt.FakeServer(files)
    monkeypatch.setattr("advgeom.data.download.urlopen", server)
    return server, images, labels


def test_download_verifies_and_caches(fmt, monkeypatch, env):
    server, images, labels = serve_fake_mnist(fmt, monkeypatch)
    check_round_trip(*load("mnist"), images, labels)
    # The first mirror failed, the second served; the files now sit in the cache, verified.
    assert len(server.calls) == 4
    cached = sorted(p.name for p in (env.cache / "MNIST" / "raw").iterdir())
    assert cached == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    check_round_trip(*load("mnist"), images, labels)
    assert len(server.calls) == 4  # second load: no network


def test_checksum_failure_leaves_nothing_in_the_cache(fmt, monkeypatch, env):
    serve_fake_mnist(fmt, monkeypatch, "fashion-mnist", "test", corrupt=True)
    with pytest.raises(DataError, match="checksum mismatch") as info:
        load("fashion-mnist", split="test")
    message = str(info.value)
    source = mnist_module.SOURCES["fashion-mnist"]
    assert "t10k-images-idx3-ubyte.gz" in message
    assert source.sha256["t10k-images-idx3-ubyte.gz"] in message  # expected
    assert "got " in message and len(message.split("got ")[1][:64].strip(";")) == 64  # actual
    assert [p for p in env.cache.rglob("*") if p.is_file()] == []


def test_pinned_hashes_are_well_formed():
    for source in mnist_module.SOURCES.values():
        assert set(source.sha256) == {n + ".gz" for n in NAMES}
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in source.sha256.values())
