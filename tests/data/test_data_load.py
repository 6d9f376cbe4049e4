"""The entry point: names, splits, options, shapes; and the download helper on its own."""

from __future__ import annotations

import http.client

import pytest

from advgeom import data
from advgeom.data import DATASETS, input_shape, load
from advgeom.data.download import DownloadError, Remote, download
from advgeom.errors import DataError, InputError


def test_dataset_names():
    assert DATASETS == ("spheres", "digits", "mnist", "fashion-mnist", "cifar10", "cifar100",
                        "miniimagenet")


@pytest.mark.parametrize(
    "name, close",
    [("mnits", "'mnist'"), ("cifar", "'cifar10'"), ("fasion-mnist", "'fashion-mnist'")],
)
def test_unknown_name_suggests_close_matches(name, close):
    with pytest.raises(InputError) as info:
        load(name)
    message = str(info.value)
    assert f"unknown data set {name!r}" in message and f"did you mean {close}" in message
    assert "valid names are spheres, digits, mnist, fashion-mnist, cifar10, cifar100" in message


def test_unknown_name_without_close_match():
    with pytest.raises(InputError, match="valid names are") as info:
        load("svhn")
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("alias", ["MNIST", "Fashion_MNIST", "CIFAR-10", "cifar-100"])
def test_common_spellings_are_accepted(alias):
    assert input_shape(alias) in ((1, 28, 28), (3, 32, 32))


@pytest.mark.parametrize("name", DATASETS)
def test_unknown_split(name):
    with pytest.raises(InputError, match="split must be one of 'train', 'test'"):
        load(name, split="val")


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(InputError, match="unknown option.*'spheres'; its options: n, N, R, seed"):
        load("spheres", dim=3)
    with pytest.raises(InputError, match="its options: none"):
        load("digits", n=3)


def test_input_shapes():
    assert input_shape("spheres") == (500,)
    assert input_shape("spheres", n=7, R=2.0) == (7,)
    assert input_shape("digits") == (1, 8, 8)
    assert input_shape("mnist") == input_shape("fashion-mnist") == (1, 28, 28)
    assert input_shape("cifar10") == input_shape("cifar100", label_mode="coarse") == (3, 32, 32)
    with pytest.raises(InputError, match="n must be >= 1"):
        input_shape("spheres", n=0)


def test_shapes_agree_with_loaded_data():
    x, _ = load("spheres", n=12, N=3)
    assert tuple(x.shape[1:]) == input_shape("spheres", n=12)
    x, _ = load("digits", split="test")
    assert tuple(x.shape[1:]) == input_shape("digits")


def test_public_api():
    for name in ("load", "input_shape", "DATASETS", "upsample", "downsample", "binary_subset"):
        assert hasattr(data, name)
    from advgeom.data import spheres

    assert callable(spheres.sample_sphere) and callable(spheres.sphere_batches)


class Broken:
    """A server that sends half the file, then drops the connection."""

    def __init__(self):
        self.calls = 0

    def __call__(self, request, timeout=None):
        self.calls += 1
        raise http.client.IncompleteRead(b"partial")


def test_download_failure_is_a_download_error_and_cleans_up(tmp_path):
    remote = Remote("f.bin", ("https://a/f.bin", "https://b/f.bin"), "0" * 64)
    opener = Broken()
    with pytest.raises(DownloadError, match="https://a/f.bin.*https://b/f.bin"):
        download(remote, tmp_path / "deep" / "cache", opener=opener)
    assert opener.calls == 2
    assert list(tmp_path.iterdir()) == []  # the folders it made are removed again


def test_download_writes_the_verified_file(tmp_path, fmt):
    payload = b"x" * 3_000_000  # several chunks
    remote = Remote("f.bin", ("https://a/f.bin",), fmt.sha256(payload))
    path = download(remote, tmp_path, opener=fmt.FakeServer({"https://a/f.bin": payload}))
    assert path == tmp_path / "f.bin" and path.read_bytes() == payload
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_checksum_mismatch_is_not_retried_elsewhere(tmp_path, fmt):
    server = fmt.FakeServer({"https://a/f": b"evil", "https://b/f": b"good"})
    remote = Remote("f", ("https://a/f", "https://b/f"), fmt.sha256(b"good"))
    with pytest.raises(DataError, match="checksum mismatch") as info:
        download(remote, tmp_path, opener=server)
    assert not isinstance(info.value, DownloadError)
    assert server.calls == ["https://a/f"] and list(tmp_path.iterdir()) == []


def test_oversized_download_is_cut_off(tmp_path, fmt):
    payload = b"y" * (3 << 20)
    remote = Remote("f", ("https://a/f",), fmt.sha256(payload[:100]), size=100)
    with pytest.raises(DataError, match="sent more than the 100 bytes"):
        download(remote, tmp_path, opener=fmt.FakeServer({"https://a/f": payload}))
    assert list(tmp_path.iterdir()) == []
