"""Every input a user can get wrong: exit 2, one ``error: ...`` line, no traceback, no results."""

from __future__ import annotations

import re

import pytest
import torch

from advgeom.runs.runner import CATALOG_NAME
from advgeom.store.catalog import Catalog

RUN = ("run", "spheres.sampling", "--scale", "smoke")
FIELDS = ("n", "R", "samples", "pair_points", "pair_coverage", "chunk", "bins")


def names(field: str) -> str:
    """A pattern matching ``field`` as a word (so 'R' is not found inside 'error')."""
    return rf"(?<![\w-]){re.escape(field)}(?!\w)"


BAD_RUNS = {
    "unknown experiment": (("run", "spheres.sampl"), ["spheres.sampling", "'spheres.sampl'"]),
    "unknown --set key": ((*RUN, "--set", "size=3"), [names(f) for f in FIELDS]),
    "wrong type": ((*RUN, "--set", "n=abc"), [names("n"), "integer", "abc"]),
    "float for int": ((*RUN, "--set", "n=2.5"), [names("n"), "integer"]),
    "bool for int": ((*RUN, "--set", "samples=True"), [names("samples"), "integer"]),
    "n < 2": ((*RUN, "--set", "n=1"), [names("n"), ">= 2"]),
    "negative samples": ((*RUN, "--set", "samples=-1"), [names("samples"), ">= 1"]),
    "R = 1": ((*RUN, "--set", "R=1.0"), [names("R"), "> 1"]),
    "R < 1": ((*RUN, "--set", "R=0.9"), [names("R"), "0.9"]),
    "R nan": ((*RUN, "--set", "R=nan"), [names("R"), "NaN"]),
    "R inf": ((*RUN, "--set", "R=inf"), [names("R"), "finite"]),
    "coverage out of range": ((*RUN, "--set", "pair_coverage=1.5"), [names("pair_coverage")]),
    "--set without =": ((*RUN, "--set", "n"), ["key=value"]),
    "bad --scale": (("run", "spheres.sampling", "--scale", "huge"),
                    ["--scale", "smoke", "default", "paper"]),
    "--device tpu": ((*RUN, "--device", "tpu"), ["--device", "tpu"]),
    "missing --data-dir": ((*RUN, "--data-dir", "{tmp}/no-such-folder"),
                           ["--data-dir", "no-such-folder"]),
    "--data-dir is a file": ((*RUN, "--data-dir", "{tmp}/a-file"), ["--data-dir"]),
    "unknown option": ((*RUN, "--bogus"), ["--bogus"]),
    "missing name": (("run",), ["NAME"]),
    "non-integer --seed": ((*RUN, "--seed", "x"), ["--seed"]),
    "unknown command": (("frobnicate",), ["frobnicate"]),
}


def no_results_left(root) -> None:
    """Nothing under the runs root claims a complete run."""
    assert list(root.rglob("results.json")) == []
    if (root / CATALOG_NAME).exists():
        assert [r for r in Catalog(root / CATALOG_NAME).list() if r.status == "done"] == []


@pytest.mark.parametrize(("argv", "expected"), BAD_RUNS.values(), ids=BAD_RUNS)
def test_bad_run_input(cli, tmp_path, argv, expected):
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    root = tmp_path / "runs"
    argv = [a.format(tmp=tmp_path) for a in argv]
    result = cli(*argv, "--out", root) if argv[0] == "run" and len(argv) > 1 else cli(*argv)
    line = result.one_line_error()
    for pattern in expected:
        assert re.search(pattern, line), (pattern, line)
    assert result.out == ""
    no_results_left(root)
    assert not root.exists() or list(root.glob("spheres.sampling-*")) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_cuda(cli, tmp_path, device):
    result = cli(*RUN, "--device", device, "--out", tmp_path)
    line = result.one_line_error()
    assert "CUDA" in line and device in line
    no_results_left(tmp_path)


def test_show_unknown_run(cli, tmp_path):
    result = cli("show", "spheres.sampling-nope", "--out", tmp_path)
    line = result.one_line_error()
    assert "spheres.sampling-nope" in line and "advgeom runs" in line


def test_reproduce_bad_inputs(cli, tmp_path):
    for argv, word in ((("--scale", "huge"), "--scale"), (("--device", "tpu"), "--device"),
                       (("--data-dir", tmp_path / "none"), "--data-dir")):
        result = cli("reproduce", *argv, "--out", tmp_path / "runs")
        assert word in result.one_line_error()
    assert not (tmp_path / "runs").exists()


def test_out_under_a_file_is_a_user_error(cli, tmp_path):
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    result = cli(*RUN, "--out", tmp_path / "a-file" / "runs")
    result.one_line_error()
