"""The experiment registry: each paper's figures and tables as named, runnable experiments.

An experiment module defines one :class:`Experiment` and calls :func:`register` at import. The
registry discovers them: the first time it is asked (:func:`get`, :func:`all_experiments`) it
imports every module of the paper packages under :mod:`advgeom.experiments` (modules whose name
starts with ``_`` are helpers and are skipped), so ``advgeom list`` sees them all and nothing lists
them by hand. Importing this module loads no experiment.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from advgeom.errors import InputError
from advgeom.runs.config import SCALES


@dataclass(frozen=True)
class Paper:
    """One of the works the toolkit reproduces (``key`` is what ``--only`` takes)."""

    key: str
    authors: str
    title: str
    file: str  # the paper's text in shared/papers/


PAPERS: dict[str, Paper] = {
    p.key: p
    for p in (
        Paper(
            "gilmer",
            "Gilmer, Metz, Faghri, Schoenholz, Raghu, Wattenberg, Goodfellow",
            "The Relationship Between High-Dimensional Geometry and Adversarial Examples",
            "004_8866e551d100ca01.txt",
        ),
        Paper(
            "simon-gabriel",
            "Simon-Gabriel, Ollivier, Schölkopf, Bottou, Lopez-Paz",
            "First-order Adversarial Vulnerability of Neural Networks and Input Dimension",
            "002_034d75d0074b5bc3.txt",
        ),
        Paper("tanay", "Tanay", "A boundary tilting perspective", "003_47eba05031dc0c58.txt"),
        Paper(
            "badger",
            "Badger",
            "Adversarial Examples from Dimensional Invariance",
            "000_421e05050928c1e8.txt",
        ),
        Paper(
            "zou",
            "Zou, Su, Pang, Zhu",
            "Geometric Universality of Adversarial Examples in Deep Learning",
            "001_65a687e3d6d1f73b.txt",
        ),
    )
}


@dataclass(frozen=True)
class Experiment:
    """A runnable reproduction of one figure or table.

    Attributes:
        id: ``topic.name``, e.g. ``spheres.sampling`` (fixed: users' scripts use it).
        paper: key into :data:`PAPERS`.
        title: one line saying what it reproduces (figure/table and quantity).
        config: frozen dataclass type; its defaults are the paper's settings (the ``paper`` scale).
        run: ``run(config, ctx) -> {"claims": [...], "metrics": {...}}``, plain JSON data.
        plot: ``plot(results) -> {name: matplotlib Figure}``; reads only the saved results.
        scales: overrides of config fields for the ``smoke`` and ``default`` scales.
    """

    id: str
    paper: str
    title: str
    config: type
    run: Callable[[Any, Any], dict]
    plot: Callable[[dict], dict]
    scales: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def overrides(self, scale: str) -> Mapping[str, Any]:
        """The config overrides of a scale (``paper`` has none: it is the defaults)."""
        check_scale(scale)
        return self.scales.get(scale, {})


_REGISTRY: dict[str, Experiment] = {}
_EXPERIMENTS_PACKAGE = "advgeom.experiments"
_discovered = False


def discover() -> None:
    """Import every experiment module of the paper packages, once (they register themselves)."""
    global _discovered
    if _discovered:
        return
    package = importlib.import_module(_EXPERIMENTS_PACKAGE)
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{_EXPERIMENTS_PACKAGE}."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            importlib.import_module(info.name)
    # Set only once every import succeeded: a failed import is raised again on the next call
    # rather than leaving a registry that silently lacks experiments.
    _discovered = True


def register(experiment: Experiment) -> Experiment:
    """Add an experiment to the registry (ids are unique)."""
    if experiment.id in _REGISTRY:
        raise ValueError(f"experiment {experiment.id!r} is registered twice")
    if experiment.paper not in PAPERS:
        raise ValueError(f"experiment {experiment.id!r}: unknown paper {experiment.paper!r}")
    unknown = set(experiment.scales) - set(SCALES)
    if unknown:
        raise ValueError(f"experiment {experiment.id!r}: unknown scales {sorted(unknown)}")
    _REGISTRY[experiment.id] = experiment
    return experiment


def check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise InputError(f"--scale must be one of {', '.join(SCALES)} (got {scale!r})")


def get(experiment_id: str) -> Experiment:
    """The experiment of that id; an unknown id raises InputError naming close matches."""
    discover()
    if experiment_id not in _REGISTRY:
        close = difflib.get_close_matches(experiment_id, _REGISTRY, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise InputError(
            f"unknown experiment {experiment_id!r}.{hint} Run 'advgeom list' for all experiments."
        )
    return _REGISTRY[experiment_id]


def all_experiments() -> list[Experiment]:
    """Every registered experiment, grouped by paper in the order of :data:`PAPERS`."""
    discover()
    order = {key: i for i, key in enumerate(PAPERS)}
    return sorted(_REGISTRY.values(), key=lambda e: (order[e.paper], e.id))
