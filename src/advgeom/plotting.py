"""Saving figures: PNG for viewing, SVG for papers, both written atomically.

A leaf module: it knows matplotlib and files, nothing of models or experiments. The Agg backend is
chosen before pyplot is imported so that figures render on machines without a display.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from advgeom.store.atomic import atomic_write_bytes  # noqa: E402

FORMATS = ("png", "svg")


def save_figures(figures: Mapping[str, Figure], folder: str | Path) -> list[Path]:
    """Save each ``name -> Figure`` as ``folder/name.png`` and ``.svg``, close it, return paths."""
    folder = Path(folder)
    paths = []
    for name, fig in figures.items():
        for fmt in FORMATS:
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=150, bbox_inches="tight")
            paths.append(atomic_write_bytes(folder / f"{name}.{fmt}", buffer.getvalue()))
        plt.close(fig)
    return paths


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 5.0, height: float = 3.8):
    """A figure with a grid of axes, ``width`` x ``height`` inches per panel."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes
