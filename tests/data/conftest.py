"""Fixtures for the data tests: an isolated cache, no network, and the format writers.

The writers live in ``tests/formats.py`` (shared with the experiments' paper-scale tests).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from advgeom.data import download


@pytest.fixture(autouse=True)
def env(monkeypatch, formats, _offline_data):
    """Every test: its own cache and no $ADVGEOM_DATA (the root conftest's ``_offline_data``),
    and a network that is down and counts what was asked of it."""
    offline = formats.FakeServer({})
    monkeypatch.setattr(download, "urlopen", offline)
    return SimpleNamespace(cache=Path(os.environ["ADVGEOM_CACHE"]) / "data", offline=offline)


@pytest.fixture
def fmt(formats):
    """The format writers (``tests/formats.py``), for tests that build their own files."""
    return formats
