"""CIFAR-10/100: pickle batches, tarballs, the restricted unpickler, safe extraction, downloads."""

from __future__ import annotations

import dataclasses
import os
import pickle

import numpy as np
import pytest
import torch

from advgeom.data import cifar as cifar_module
from advgeom.data import load
from advgeom.data.archive import safe_extract
from advgeom.errors import DataError, InputError


def expected(batches: list[dict], key: bytes = b"labels"):
    data = np.concatenate([b[b"data"] for b in batches])
    labels = np.concatenate([np.asarray(b[key]) for b in batches])
    return data, labels


def check_round_trip(x, y, data, labels):
    n = len(data)
    assert x.shape == (n, 3, 32, 32) and x.dtype == torch.float32
    assert y.shape == (n,) and y.dtype == torch.int64
    assert x.min() >= 0 and x.max() <= 1
    # Row-major RGB planes: the first 1024 values are the red plane, row by row.
    pixels = (x * 255).round().to(torch.uint8).reshape(n, 3072)
    assert torch.equal(pixels, torch.from_numpy(data))
    assert torch.equal(x[:, 0, 0, 1], torch.from_numpy(data[:, 1]).float() / 255)
    assert torch.equal(x[:, 1, 0, 0], torch.from_numpy(data[:, 1024]).float() / 255)
    assert torch.equal(y, torch.from_numpy(labels.astype(np.int64)))


@pytest.mark.parametrize("nested", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
def test_cifar10_round_trip(tmp_path, fmt, nested, split):
    folder = tmp_path / "cifar-10-batches-py" if nested else tmp_path
    batches = fmt.write_cifar10(folder)
    x, y = load("cifar10", root=tmp_path, split=split)
    check_round_trip(x, y, *expected(batches[split]))
    if split == "train":
        assert len(x) == 20  # five batches of four, in order


@pytest.mark.parametrize(
    "label_mode, key", [("fine", b"fine_labels"), ("coarse", b"coarse_labels")]
)
@pytest.mark.parametrize("split", ["train", "test"])
def test_cifar100_round_trip(tmp_path, fmt, label_mode, key, split):
    batches = fmt.write_cifar100(tmp_path / "cifar-100-python")
    x, y = load("cifar100", root=tmp_path, split=split, label_mode=label_mode)
    check_round_trip(x, y, *expected([batches[split]], key))


def test_label_mode_is_checked(tmp_path, fmt):
    fmt.write_cifar100(tmp_path / "cifar-100-python")
    with pytest.raises(InputError, match="label_mode must be one of 'fine', 'coarse'"):
        load("cifar100", root=tmp_path, label_mode="super")
    with pytest.raises(InputError, match="unknown option.*label_mode"):
        load("cifar10", root=tmp_path, label_mode="fine")


def test_tarball_in_root_is_extracted_into_the_cache(tmp_path, fmt, env):
    batches = fmt.write_cifar10(tmp_path / "src" / "cifar-10-batches-py")
    root = tmp_path / "root"
    root.mkdir()
    members = fmt.folder_members(tmp_path / "src" / "cifar-10-batches-py", "cifar-10-batches-py")
    fmt.make_tarball(root / "cifar-10-python.tar.gz", members)
    x, y = load("cifar10", root=root, split="test")
    check_round_trip(x, y, *expected(batches["test"]))
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-python.tar.gz"]  # root untouched
    extracted = list((env.cache / "extracted").iterdir())
    assert len(extracted) == 1 and (extracted[0] / "cifar-10-batches-py" / "test_batch").is_file()
    load("cifar10", root=root, split="train")  # reuses the extraction
    assert len(list((env.cache / "extracted").iterdir())) == 1


def test_tarball_without_the_batches(tmp_path, fmt):
    fmt.make_tarball(tmp_path / "cifar-100-python.tar.gz", {"cifar-100-python/meta": b"x"})
    with pytest.raises(DataError, match="not the official CIFAR-100 archive.*lacks"):
        load("cifar100", root=tmp_path)


def test_corrupt_tarball(tmp_path, env):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"this is not a tar file")
    with pytest.raises(DataError, match="cannot extract") as info:
        load("cifar10", root=tmp_path)
    assert "cifar-10-python.tar.gz" in str(info.value)
    assert not any(env.cache.rglob("*.part"))


@pytest.mark.parametrize(
    "name", ["../evil", "cifar-10-batches-py/../../evil", "/tmp/advgeom-evil", "..\\evil"]
)
def test_tar_path_traversal_is_refused(tmp_path, fmt, name):
    archive = fmt.make_tarball(tmp_path / "a.tar.gz", {"ok/file": b"fine", name: b"pwned"})
    target = tmp_path / "cache" / "out"
    with pytest.raises(DataError, match="escape"):
        safe_extract(archive, target)
    assert not target.exists() and not (tmp_path / "evil").exists()
    assert not os.path.exists("/tmp/advgeom-evil")
    assert list(target.parent.iterdir()) == []  # the staging folder is gone too


@pytest.mark.parametrize("kind", [pytest.param("SYMTYPE", id="symlink"), "LNKTYPE"])
def test_tar_links_are_refused(tmp_path, kind):
    import tarfile

    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.type, info.linkname = getattr(tarfile, kind), "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(DataError, match="link"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_pickle_names_the_file(tmp_path, fmt):
    fmt.write_cifar10(tmp_path)
    path = tmp_path / "test_batch"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="truncated or corrupt pickle") as info:
        load("cifar10", root=tmp_path, split="test")
    assert str(path) in str(info.value)


def test_garbage_pickle(tmp_path, fmt):
    fmt.write_cifar100(tmp_path)
    (tmp_path / "train").write_bytes(os.urandom(300))
    with pytest.raises(DataError, match="train"):
        load("cifar100", root=tmp_path)


class Exploit:
    """Unpickling this would run a shell command (the classic pickle attack)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.mark.parametrize("where", ["top", "nested"])
def test_malicious_pickle_is_refused_before_it_runs(tmp_path, fmt, where):
    sentinel = tmp_path / "pwned"
    batch = fmt.cifar_batch(2, 0, {"labels": 10})
    attack = Exploit(f"touch {sentinel}")
    obj = attack if where == "top" else {**batch, b"labels": [attack, 1]}
    fmt.write_cifar10(tmp_path)
    fmt.write_pickle(tmp_path / "test_batch", obj)
    with pytest.raises(DataError, match="refusing to load .*test_batch.*(posix|nt).system"):
        load("cifar10", root=tmp_path, split="test")
    assert not sentinel.exists()


def test_other_globals_are_refused(tmp_path, fmt):
    fmt.write_cifar10(tmp_path)
    # builtins.eval via a hand-written protocol-0 pickle: GLOBAL, argument tuple, REDUCE.
    (tmp_path / "test_batch").write_bytes(b"c__builtin__\neval\n(S'1+1'\ntR.")
    with pytest.raises(DataError, match=r"__builtin__\.eval"):
        load("cifar10", root=tmp_path, split="test")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: b.update({b"data": b[b"data"][:, :100]}), r"shape \(N, 3072\)"),
        (lambda b: b.update({b"data": b[b"data"].astype(np.float32)}), "uint8"),
        (lambda b: b.update({b"data": b"raw bytes"}), "uint8 array"),
        (lambda b: b.pop(b"labels"), "no 'labels' entry"),
        (lambda b: b.update({b"labels": b[b"labels"][:-1]}), "one per image"),
        (lambda b: b.update({b"labels": [10] * len(b[b"labels"])}), r"0\.\.9"),
    ],
)
def test_wrong_batch_contents(tmp_path, fmt, change, message):
    fmt.write_cifar10(tmp_path)
    batch = fmt.cifar_batch(3, 0, {"labels": 10})
    change(batch)
    fmt.write_pickle(tmp_path / "data_batch_3", batch)
    with pytest.raises(DataError, match=message) as info:
        load("cifar10", root=tmp_path)
    assert "data_batch_3" in str(info.value)


def test_pickle_that_is_not_a_dict(tmp_path, fmt):
    fmt.write_cifar100(tmp_path)
    fmt.write_pickle(tmp_path / "test", [1, 2, 3])
    with pytest.raises(DataError, match="not a CIFAR batch"):
        load("cifar100", root=tmp_path, split="test")


def test_python3_pickles_with_str_keys_load(tmp_path, fmt):
    batch = fmt.cifar_batch(3, 0, {"labels": 10})
    fmt.write_cifar10(tmp_path)
    obj = {k.decode(): v for k, v in batch.items()}
    fmt.write_pickle(tmp_path / "test_batch", obj, py2=False)
    x, y = load("cifar10", root=tmp_path, split="test")
    check_round_trip(x, y, *expected([batch]))


def test_offline_message_and_clean_cache(tmp_path, env):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as info:
        load("cifar100", root=tmp_path / "empty", split="test")
    message = str(info.value)
    assert message.startswith("cannot find the CIFAR-100 test files, and could not download")
    assert str(tmp_path / "empty" / "cifar-100-python") in message
    assert f"{tmp_path / 'empty'} (none of the expected files; empty)" in message
    assert "cifar-100-python.tar.gz" in message and "--data-dir DIR" in message
    assert env.offline.calls == ["https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"]
    assert not env.cache.exists()


def pin(monkeypatch, name: str, data: bytes, fmt) -> str:
    spec = cifar_module.CIFAR[name]
    remote = dataclasses.replace(spec.remote, sha256=fmt.sha256(data), size=len(data))
    monkeypatch.setitem(cifar_module.CIFAR, name, dataclasses.replace(spec, remote=remote))
    return remote.urls[0]


def test_download_verifies_extracts_and_caches(tmp_path, fmt, monkeypatch, env):
    batches = fmt.write_cifar10(tmp_path / "src")
    tarball = fmt.make_tarball(
        tmp_path / "t.tar.gz", fmt.folder_members(tmp_path / "src", "cifar-10-batches-py")
    )
    url = pin(monkeypatch, "cifar10", tarball.read_bytes(), fmt)
    server = fmt.FakeServer({url: tarball.read_bytes()})
    monkeypatch.setattr("advgeom.data.download.urlopen", server)
    check_round_trip(*load("cifar10", split="test"), *expected(batches["test"]))
    assert (env.cache / "cifar-10-python.tar.gz").read_bytes() == tarball.read_bytes()
    check_round_trip(*load("cifar10"), *expected(batches["train"]))
    assert server.calls == [url]  # downloaded once


def test_checksum_failure_leaves_no_file(tmp_path, fmt, monkeypatch, env):
    url = pin(monkeypatch, "cifar100", b"the real archive", fmt)
    monkeypatch.setattr("advgeom.data.download.urlopen", fmt.FakeServer({url: b"a fake"}))
    with pytest.raises(DataError) as info:
        load("cifar100")
    message = str(info.value)
    assert "checksum mismatch for cifar-100-python.tar.gz" in message
    assert fmt.sha256(b"the real archive") in message and fmt.sha256(b"a fake") in message
    assert [p for p in env.cache.rglob("*") if p.is_file()] == []


def test_fixture_pickles_like_python2(fmt):
    # The official files' only globals are numpy's, under the pre-2.0 module name.
    data = fmt.py2_pickle(fmt.cifar_batch(2, 0, {"labels": 10}))
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in data
    assert b"_codecs" not in data and b"numpy._core" not in data


@pytest.mark.parametrize("protocol", [3, 4])
def test_python3_re_saved_batches_load(tmp_path, fmt, protocol):
    path = tmp_path / f"p{protocol}"
    batch = fmt.cifar_batch(2, protocol, {"labels": 10})
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    data, labels = cifar_module.read_batch(path, label_key="labels", classes=10)
    assert np.array_equal(data.reshape(2, -1), batch[b"data"])
    assert np.array_equal(labels, batch[b"labels"])
