"""The CLI end to end, in-process: list, run, runs, show, --json, --quiet, --help.

(``reproduce`` and ``report``: test_cli_reproduce.py; ``audit``: test_cli_audit.py.)
"""

from __future__ import annotations

import json

import pytest

from advgeom.cli.main import cli as click_group
from advgeom.cli.main import main
from advgeom.runs.claims import CLAIM_KEYS, count
from advgeom.runs.config import config_hash, resolve
from advgeom.runs.registry import get
from advgeom.runs.runner import CATALOG_NAME
from advgeom.store.catalog import Catalog

RESULT_KEYS = {"experiment", "scale", "config", "claims", "metrics", "figures"}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One ``advgeom run spheres.sampling --scale smoke`` shared by the tests of this module."""
    root = tmp_path_factory.mktemp("runs")
    assert main(["run", "spheres.sampling", "--scale", "smoke", "--out", str(root)]) == 0
    (run_dir,) = [p for p in root.iterdir() if p.is_dir()]
    return root, run_dir


def read(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_list_shows_experiments_under_their_paper(cli):
    result = cli("list")
    assert result.code == 0
    lines = result.out.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("Gilmer et al."))
    assert "The Relationship Between High-Dimensional Geometry" in lines[heading]
    row = next(i for i, line in enumerate(lines) if "spheres.sampling" in line)
    assert row > heading
    assert "smoke default paper" in lines[row]


def test_run_writes_the_run_folder(smoke_run):
    root, run_dir = smoke_run
    assert run_dir.name.startswith("spheres.sampling-")
    for name in ("config.json", "environment.json", "results.json", "run.json", "run.log"):
        assert (run_dir / name).is_file(), name
    config = read(run_dir / "config.json")
    assert config["experiment"] == "spheres.sampling" and config["scale"] == "smoke"
    assert config["seed"] == 0 and config["device"] == "cpu"
    env = read(run_dir / "environment.json")
    assert env["packages"]["torch"] and "git_commit" in env
    assert env["seed"] == 0 and env["started"] and env["ended"]
    assert read(run_dir / "run.json")["status"] == "done"


def test_results_file(smoke_run):
    _, run_dir = smoke_run
    results = read(run_dir / "results.json")
    assert set(results) >= RESULT_KEYS
    assert results["experiment"] == "spheres.sampling" and results["scale"] == "smoke"
    exp = get("spheres.sampling")
    assert results["config"] == read(run_dir / "config.json")["config"]
    assert results["config"]["pair_points"] == exp.overrides("smoke")["pair_points"]
    assert results["claims"]
    for c in results["claims"]:
        assert set(c) == set(CLAIM_KEYS)
    assert sorted(results["figures"]) == ["figures/sampling.png", "figures/sampling.svg"]
    png, svg = (run_dir / "figures/sampling.png").read_bytes(), (run_dir / "figures/sampling.svg")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert "<svg" in svg.read_text(encoding="utf-8")


def test_catalog_row_is_done_with_claim_counts(smoke_run):
    root, run_dir = smoke_run
    results = read(run_dir / "results.json")
    row = Catalog(root / CATALOG_NAME).get(run_dir.name)
    assert row.status == "done" and row.ended and row.error is None
    assert row.experiment == "spheres.sampling" and row.scale == "smoke" and row.seed == 0
    counts = count(results["claims"])
    assert {k: getattr(row, k) for k in counts} == counts
    reproductions = [c for c in results["claims"] if c["kind"] == "reproduction"]
    assert 0 < row.claims_total == len(reproductions) < len(results["claims"])  # kinds apart
    exp = get("spheres.sampling")
    smoke = resolve(exp.config, scale_overrides=exp.overrides("smoke"))
    assert row.config_hash == config_hash(smoke)


def test_runs_lists_the_run(cli, smoke_run):
    root, run_dir = smoke_run
    result = cli("runs", "--out", root)
    assert result.code == 0
    line = next(line for line in result.out.splitlines() if run_dir.name in line)
    row = Catalog(root / CATALOG_NAME).get(run_dir.name)
    assert "done" in line and "smoke" in line
    assert f"{row.claims_agree}/{row.claims_total}" in line


def test_runs_of_an_empty_folder(cli, tmp_path):
    result = cli("runs", "--out", tmp_path)
    assert result.code == 0 and "no runs" in result.out


def test_show_prints_claims(cli, smoke_run):
    root, run_dir = smoke_run
    result = cli("show", run_dir.name, "--out", root)
    assert result.code == 0, result.err
    for claim_id in ("radius", "coordinate_gaussian", "nearest_pair",
                     "nearest_pair_far_from_errors"):
        assert claim_id in result.out
    assert "reproduced" in result.out and "not measured" in result.out
    assert "status done" in result.out and "sampling.png" in result.out


def test_show_json_is_the_results_file(cli, smoke_run):
    root, run_dir = smoke_run
    result = cli("show", run_dir.name, "--out", root, "--json")
    assert result.code == 0
    assert json.loads(result.out) == read(run_dir / "results.json")


def test_run_json_prints_only_json(cli, tmp_path):
    result = cli("run", "spheres.sampling", "--scale", "smoke", "--out", tmp_path, "--json",
                 "--seed", "1")
    assert result.code == 0, result.err
    results = json.loads(result.out)  # the whole of stdout
    assert set(results) >= RESULT_KEYS and results["seed"] == 1
    assert results == read(tmp_path / results["run_id"] / "results.json")
    assert "running spheres.sampling" in result.err  # messages go to stderr


def test_quiet_run_prints_no_messages(cli, tmp_path):
    result = cli("--quiet", "run", "spheres.sampling", "--scale", "smoke", "--out", tmp_path)
    assert result.code == 0
    assert result.err == ""
    assert "radius" in result.out and "results:" in result.out
    # The next invocation without --quiet talks again (the flag does not stick).
    loud = cli("run", "spheres.sampl", "--out", tmp_path)
    assert loud.code == 2 and loud.err


HELP = [["--help"], ["-h"], *[[command, "--help"] for command in click_group.commands]]


@pytest.mark.parametrize("argv", HELP, ids=[" ".join(a) for a in HELP])
def test_help_of_every_command(cli, argv):
    result = cli(*argv)
    assert result.code == 0
    assert "Usage:" in result.out
    assert result.err == ""


def test_no_arguments_prints_help(cli):
    result = cli()
    assert result.code == 0 and "Usage:" in result.out


def test_version(cli):
    result = cli("--version")
    assert result.code == 0 and "advgeom, version" in result.out
