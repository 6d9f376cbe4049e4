"""`--scale paper` runs on the papers' data: without the files it stops before any work, with one
line naming what is missing, and exit code 2."""

from __future__ import annotations

from advgeom.runs import config
from advgeom.runs.data_check import required_data
from advgeom.runs.registry import all_experiments


def test_run_at_paper_scale_without_mnist_stops_before_the_run_folder(cli, tmp_path):
    out = tmp_path / "runs"
    line = cli("run", "spheres.halfspace", "--scale", "paper", "--out", out).one_line_error()
    assert "mnist (needed by spheres.halfspace)" in line and "train-images-idx3-ubyte" in line
    assert "--data-dir" in line  # how to supply them
    assert not out.exists()  # no run folder, no catalog


def test_reproduce_at_paper_scale_names_every_missing_data_set(cli, tmp_path):
    out = tmp_path / "runs"
    needed = sorted({name for exp in all_experiments()
                     for name in required_data(config.resolve(exp.config))})
    assert {"mnist", "cifar10"} <= set(needed)  # the papers' own data sets
    line = cli("-q", "reproduce", "--scale", "paper", "--out", out).one_line_error()
    for name in needed:
        assert f"{name} (needed by" in line, name
    assert not out.exists()


def test_the_smaller_scales_need_no_files():
    for exp in all_experiments():
        for scale in ("smoke", "default"):
            cfg = config.resolve(exp.config, scale_overrides=exp.overrides(scale))
            assert required_data(cfg) == (), (exp.id, scale)
