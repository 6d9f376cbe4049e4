"""The data check before any work: which data sets a config needs, and one message for all that
are missing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from advgeom.data.idx import write_idx
from advgeom.errors import DataError
from advgeom.runs.data_check import check_data, required_data


@dataclass(frozen=True)
class One:
    dataset: str = "mnist"


@dataclass(frozen=True)
class Several:
    datasets: tuple[str, ...] = ("CIFAR-10", "digits", "fashion_mnist", "cifar10")
    skip_missing: bool = False


def write_mnist(root, count=5):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        write_idx(raw / f"{split}-images-idx3-ubyte", np.zeros((count, 28, 28), np.uint8))
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.zeros(count, np.uint8))


def test_required_data_names_the_file_backed_sets_once():
    assert required_data(One()) == ("mnist",)
    assert required_data(One("digits")) == ()
    assert required_data(Several()) == ("cifar10", "fashion-mnist")  # aliases, order, no repeat
    assert required_data(Several(skip_missing=True)) == ()  # it skips what it cannot find
    assert required_data(object()) == ()


def test_missing_data_sets_are_named_together_in_one_line(tmp_path):
    with pytest.raises(DataError) as err:
        check_data([("a.one", One()), ("b.two", Several()), ("c.three", One())], tmp_path)
    message = str(err.value)
    assert "\n" not in message and message.startswith("3 data sets missing, nothing was run")
    assert "mnist (needed by a.one, c.three)" in message
    assert "cifar10 (needed by b.two)" in message and "fashion-mnist (needed by b.two)" in message
    assert "train-images-idx3-ubyte" in message and "cifar-10-python.tar.gz" in message
    assert str(tmp_path) in message  # where it looked


def test_present_files_pass(tmp_path):
    write_mnist(tmp_path)
    check_data([("a.one", One())], tmp_path)
    with pytest.raises(DataError, match="^1 data set missing"):
        check_data([("a.one", One()), ("b.two", One("fashion-mnist"))], tmp_path)


def test_a_missing_test_split_counts_as_missing(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="MNIST test files"):
        check_data([("a.one", One())], tmp_path)
