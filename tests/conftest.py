"""Shared fixtures: small throwaway experiments for the runner and CLI tests.

A :class:`Sweep` is an experiment of a few points, each drawn from the run's per-point generator,
that counts its compute calls and can be told to raise at a chosen point (once), or, in a child
process, to stop there and wait for a signal. Tests register one with the ``register_sweep``
fixture, which removes it from the registry afterwards.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The runs harness and the experiments are imported inside the fixtures: they pull in scipy and
# matplotlib, which the other test folders should not pay for at collection.

# Hypothesis: CI replays the same examples on every run (derandomize, no example database, no
# timing-based checks), so a red CI always means a real failure that reproduces; local runs keep
# exploring new examples (``--hypothesis-seed=N`` picks a sequence).
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else
                                                                "dev"))


@pytest.fixture(scope="session")
def formats():
    """``tests/formats.py``: writers of the official data formats (a module of the test folder,
    loaded by path because the tests are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("advgeom_test_formats",
                                                  Path(__file__).with_name("formats.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _offline_data(tmp_path, monkeypatch):
    """Every test: its own empty data cache, no $ADVGEOM_DATA and a network that is down, so no
    test depends on the files or the connection of the machine it runs on."""
    import urllib.error

    from advgeom.data import download

    def offline(request, timeout=None):
        raise urllib.error.URLError(f"no network in the tests ({request.full_url})")

    monkeypatch.setenv("ADVGEOM_CACHE", str(tmp_path / "advgeom-cache"))
    monkeypatch.delenv("ADVGEOM_DATA", raising=False)
    monkeypatch.setattr(download, "urlopen", offline)


@pytest.fixture(autouse=True)
def _seed_global_generators():
    """Every test starts from the same global RNG state, so none depends on the tests before it."""
    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def _wait_for_file(path: Path, child, timeout: float = 180.0) -> None:
    """Wait until ``path`` exists, which a child process writes when it reaches a point.

    The timeout is generous (an import of torch on a loaded 2-core machine takes seconds); it only
    bounds a broken child. A child that exits first fails the wait with its output.
    """
    deadline = time.monotonic() + timeout
    while not path.exists():
        if child.poll() is not None:
            out, err = child.communicate()
            raise AssertionError(f"the child exited ({child.returncode}) before {path.name}:\n"
                                 f"{out}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the child did not write {path.name} within {timeout:.0f} s")
        time.sleep(0.05)


@pytest.fixture
def wait_for_file():
    """:func:`_wait_for_file`, for the tests that interrupt a child process at a known point."""
    return _wait_for_file


@dataclass(frozen=True)
class SweepConfig:
    points: int = 6
    size: int = 3


class Sweep:
    """A sweep over ``points`` keys ``p0, p1, ...``; ``fail[key]`` is raised (once) at that key."""

    def __init__(self, experiment_id: str = "test.sweep") -> None:
        from advgeom.runs import registry

        self.id = experiment_id
        self.calls: list[str] = []
        self.fail: dict[str, BaseException] = {}
        # In a child process: at key ``hold_at`` write ``ready_file`` and wait to be signalled, so a
        # test can interrupt the run at a known point instead of after a guessed delay.
        self.hold_at: str | None = None
        self.ready_file: Path | None = None
        self.experiment = registry.Experiment(
            id=experiment_id, paper="gilmer", title="throwaway sweep for the tests",
            config=SweepConfig, run=self.run, plot=lambda results: {},
            scales={"smoke": {"points": 5}, "default": {"points": 6}},
        )

    def compute(self, ctx, key: str, size: int) -> list[float]:
        import torch

        self.calls.append(key)
        if key in self.fail:
            raise self.fail.pop(key)
        if key == self.hold_at:
            self.ready_file.write_text(key, encoding="utf-8")
            while True:  # until the test's signal (SIGINT raises KeyboardInterrupt here)
                time.sleep(3600)
        return torch.rand(size, generator=ctx.generator(key)).tolist()

    def run(self, cfg: SweepConfig, ctx) -> dict:
        from advgeom.runs.claims import claim

        values = {}
        for i in range(cfg.points):
            key = f"p{i}"
            values[key] = ctx.point(key, lambda key=key: self.compute(ctx, key, cfg.size))
        total = sum(sum(v) for v in values.values())
        claims = [claim("total", "the values sum to something", paper_value=None,
                        measured=total, rule=None, kind="measurement", note="throwaway")]
        return {"claims": claims, "metrics": {"values": values}}


@pytest.fixture
def register_sweep():
    """Register throwaway sweeps by id for one test; the registry is restored afterwards."""
    from advgeom.runs import registry

    added: list[str] = []

    def register(experiment_id: str = "test.sweep") -> Sweep:
        sweep = Sweep(experiment_id)
        registry.register(sweep.experiment)
        added.append(experiment_id)
        return sweep

    yield register
    for experiment_id in added:
        registry._REGISTRY.pop(experiment_id, None)


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance (2 CPUs) for every Ray test of the session, started once:
    ``(ray module, address another driver can join)``. Skips only where Ray is not installed
    (the ``test`` extra installs it, so CI runs these tests)."""
    import logging

    ray = pytest.importorskip("ray")
    info = ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
                    logging_level=logging.WARNING)
    yield ray, info.address_info["gcs_address"]
    ray.shutdown()


@pytest.fixture
def by_value(ray_session):
    """Pickle these modules' code by value for Ray tasks: test modules and this conftest are not
    importable in a Ray worker (pytest imports them by path)."""
    import sys

    ray, _ = ray_session

    def register(*names: str) -> None:
        for name in names:
            ray.cloudpickle.register_pickle_by_value(sys.modules[name])

    return register


@pytest.fixture(scope="session")
def affine_factory():
    """Build the one-logit model x -> w.x + b (label 1 where it is positive): closed forms."""
    import torch
    from torch import nn

    def make_affine(w: torch.Tensor, b: float) -> nn.Linear:
        lin = nn.Linear(w.numel(), 1).to(w.dtype)
        with torch.no_grad():
            lin.weight.copy_(w.reshape(1, -1))
            lin.bias.fill_(b)
        return lin

    return make_affine


@pytest.fixture(scope="session")
def smoke_reproduction(tmp_path_factory):
    """Every registered experiment reproduced once at smoke scale, as ``advgeom reproduce`` does:
    ``(root, experiments, outcomes)``. Shared by the per-experiment smoke checks and the report
    test, so the suite runs each experiment once."""
    from advgeom.runs import reproduce
    from advgeom.runs.registry import all_experiments

    root = tmp_path_factory.mktemp("smoke-reproduction")
    # The package's own experiments only: a module-scoped fixture may have throwaway "test.*"
    # experiments registered at the moment this session fixture is first needed.
    experiments = [e for e in all_experiments() if not e.id.startswith("test.")]
    plan = reproduce.plan(experiments, root=root, scale="smoke", seed=0)
    return root, experiments, reproduce.reproduce(plan, root=root)
