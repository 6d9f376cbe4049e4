"""What a result depends on besides its config: versions, machine, device and source commit."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

_PACKAGES = ("advgeom", "torch", "numpy", "scipy", "scikit-learn", "matplotlib", "safetensors")


def package_versions() -> dict[str, str | None]:
    """Installed versions of advgeom and the libraries whose numerics it relies on."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    """The commit of the advgeom source tree, when it runs from a git checkout (else None).

    A ``+dirty`` suffix says the working tree had uncommitted changes: the commit alone would not
    reproduce the result.
    """
    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=source, capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def describe(*, device: str, seed: int | None) -> dict:
    """The environment record written beside each run."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": package_versions(),
        "device": device,
        "git_commit": git_commit(),
        "seed": seed,
    }
