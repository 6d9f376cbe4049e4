"""Expansion curves shared by the Badger experiments: measure in both dtypes, growth, claims, plots.

A "curve" is ``{"float32": summary, "float64": summary}`` with each summary from
:meth:`advgeom.metrics.expansion.Expansion.summary` (one entry per eta). The growth of a quantity
q (r or e_a) is ``q(eta_to) / q(eta_from)``, over the paper's pertinent range 1e-1 -> 1e-5
(Sec. 4): about 1 when the model is smooth at that scale, large when q blows up as eta -> 0 (an
approximate discontinuity, or rounding: compare float32 with float64). The step from eta = 1 to
1e-1 lies outside that range and is reported apart: a unit step moves every pixel by 1, so what
changes there is saturation of the model, not its behaviour as eta -> 0.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
from torch import Tensor

from advgeom.devices import single_thread_on_cpu
from advgeom.errors import InputError, check_positive_fields
from advgeom.experiments.badger2023._train import seeded_global_rng
from advgeom.metrics.expansion import PAPER_RANGE, as_dtype, expansion
from advgeom.plotting import new_figure

DTYPES = ("float32", "float64")
QUANTITIES = ("r", "e_a")


def _on_grid(etas: Sequence[float], eta: float) -> bool:
    return any(abs(math.log10(e) - math.log10(eta)) < 1e-6 for e in etas)


def check_settings(cfg) -> None:
    """Raise InputError unless a config's curve settings hold: ``etas`` two or more step sizes
    > 0 holding ``growth_from`` > ``growth_to`` (so growth is measured where it is asked for,
    not at the nearest step) and a smaller step below them (the limit claim), and
    ``grows_factor`` > 1."""
    check_positive_fields(cfg, ("growth_from", "growth_to"))
    if len(cfg.etas) < 2 or min(cfg.etas) <= 0:
        raise InputError(f"etas must hold at least two step sizes > 0 (got {cfg.etas})")
    if not cfg.growth_from > cfg.growth_to:
        raise InputError(
            f"growth_from must be > growth_to (got {cfg.growth_from:g}, {cfg.growth_to:g})"
        )
    for name in ("growth_from", "growth_to"):
        if not _on_grid(cfg.etas, getattr(cfg, name)):
            raise InputError(f"{name} = {getattr(cfg, name):g} must be one of etas {cfg.etas}")
    if not min(cfg.etas) < cfg.growth_to:
        raise InputError(f"etas must reach below growth_to = {cfg.growth_to:g} (got {cfg.etas})")
    if cfg.grows_factor <= 1:
        raise InputError(f"grows_factor must be > 1 (got {cfg.grows_factor})")


def measure(
    model: Callable,
    x: Tensor,
    y: Tensor | None,
    *,
    etas: Sequence[float],
    draws: int,
    loss=None,
    loss_for: Callable[[str], Callable] | None = None,
    direction: str = "loss",
    keep_mode: bool = False,
    generator: Callable[[], torch.Generator],
) -> dict:
    """Expansion summaries of ``model`` in float32 and float64 (the same draws in both).

    ``loss_for(dtype)`` builds a loss for that dtype when the loss holds a model of its own
    (e.g. a discriminator judging a generator's output); ``generator()`` gives the draws' source,
    a fresh generator with the same seed for each dtype. With ``keep_mode`` (dropout left on)
    dropout masks come from the global RNG, seeded from that generator. A reconstruction loss
    (``y=None``) holds its target fixed, as Eq. 3 does.
    """
    out = {}
    for dtype in DTYPES:
        gen = generator()
        rng = seeded_global_rng(gen, x.device) if keep_mode else contextlib.nullcontext()
        with rng, single_thread_on_cpu(x.device):
            res = expansion(
                as_dtype(model, getattr(torch, dtype)),
                x,
                y,
                etas=etas,
                draws=draws,
                loss=loss_for(dtype) if loss_for else loss,
                direction=direction,
                dtype=dtype,
                generator=gen,
                keep_mode=keep_mode,
            )
        out[dtype] = res.summary()
    return out


def value_at(summary: dict, key: str, eta: float) -> float | None:
    """``summary[key]`` at the grid step ``eta`` (None when eta is not on the grid, or the value
    is missing or not finite: never the value at some other step)."""
    etas = np.asarray(summary["eta"], dtype=float)
    dist = np.abs(np.log10(etas) - math.log10(eta))
    k = int(np.argmin(dist))
    if dist[k] > 1e-6:
        return None
    v = summary[key][k]
    return float(v) if v is not None and math.isfinite(v) else None


def growth(curve: dict, quantity: str, dtype: str, eta_from: float, eta_to: float) -> float | None:
    """``q(eta_to) / q(eta_from)`` for q = r or e_a in one dtype (None when either is missing)."""
    a = value_at(curve[dtype], quantity, eta_from)
    b = value_at(curve[dtype], quantity, eta_to)
    return b / a if a and b is not None else None


def growths(curve: dict, eta_from: float, eta_to: float) -> dict:
    """Growth of r and e_a in both dtypes, keyed ``r_float64`` etc."""
    return {f"{q}_{d}": growth(curve, q, d, eta_from, eta_to) for q in QUANTITIES for d in DTYPES}


def slope(curve: dict, quantity: str, dtype: str, eta_from: float, eta_to: float) -> float | None:
    """Least-squares slope of log q against log eta over the grid steps in [eta_to, eta_from]
    (None with fewer than two finite positive values). 0: q has a finite limit; -1: q ~ 1/eta,
    the output change does not shrink with the step (a true discontinuity)."""
    s = curve[dtype]
    pts = [
        (math.log10(e), math.log10(v))
        for e, v in zip(s["eta"], s[quantity], strict=True)
        if eta_to * (1 - 1e-9) <= e <= eta_from * (1 + 1e-9)
        and v is not None
        and math.isfinite(v)
        and v > 0
    ]
    if len(pts) < 2:
        return None
    le, lq = np.asarray(pts).T
    return float(np.polyfit(le, lq, 1)[0])


def describe(g: dict) -> str:
    """e.g. ``r x1.02 (float64), x3.4 (float32); e_a x1.00 (float64), x0.98 (float32)``."""

    def one(v: float | None) -> str:
        return "n/a" if v is None else f"x{v:.3g}"

    return "; ".join(
        f"{q} {one(g[f'{q}_float64'])} (float64), {one(g[f'{q}_float32'])} (float32)"
        for q in QUANTITIES
    )


def _band(ax, summary: dict, color: str, *, alpha: float) -> None:
    """Shade the spread of r over the Gaussian draws (min to max across draws)."""
    band = np.asarray(
        [[np.nan if v is None else v for v in row] for row in summary["r_draws"]], dtype=float
    )
    finite = np.isfinite(band)
    lo = np.where(finite, band, np.inf).min(axis=1)
    hi = np.where(finite, band, -np.inf).max(axis=1)
    ok = np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
    ax.fill_between(np.asarray(summary["eta"])[ok], lo[ok], hi[ok], color=color, alpha=alpha)


def _tick(value: float, _pos: int) -> str:
    return f"{value:.3g}"


def plot_curves(curves: dict[str, dict], *, title: str) -> tuple:
    """Log-log r(eta) and e_a(eta): float64 solid, float32 dashed, one colour per model."""
    fig, axes = new_figure(2, width=5.2)
    for i, (name, curve) in enumerate(curves.items()):
        color = f"C{i % 10}"
        for dtype, style in (("float64", "-"), ("float32", "--")):
            s = curve[dtype]
            for ax, key in ((axes[0, 0], "r"), (axes[0, 1], "e_a")):
                pts = [
                    (e, v)
                    for e, v in zip(s["eta"], s[key], strict=True)
                    if v is not None and v > 0 and math.isfinite(v)
                ]
                if pts:
                    ax.plot(
                        *zip(*pts, strict=True),
                        style,
                        marker="o",
                        ms=3,
                        color=color,
                        label=f"{name} ({dtype})",
                    )
            _band(axes[0, 0], s, color, alpha=0.12 if dtype == "float64" else 0.06)
    axes[0, 0].set(
        xscale="log",
        yscale="log",
        xlabel="eta",
        ylabel="r = e_a / e_n (Eq. 6)",
        title=f"{title}: expansion ratio r",
    )
    axes[0, 1].set(
        xscale="log",
        yscale="log",
        xlabel="eta",
        ylabel="e_a (Eq. 4)",
        title=f"{title}: adversarial expansion e_a",
    )
    for ax in axes[0]:
        lo, hi = PAPER_RANGE[1], PAPER_RANGE[0]
        ax.axvspan(lo, hi, color="0.93", zorder=0, label="paper's range (growth)")
        # Few labelled ticks, no minor ones: log axes over many decades otherwise lay out
        # thousands of tick labels (seconds per figure).
        ax.xaxis.set_major_locator(LogLocator(numticks=6))
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=10))
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_locator(NullLocator())
            axis.set_major_formatter(FuncFormatter(_tick))  # plain text: mathtext is slow
        ax.invert_xaxis()  # eta -> 0 to the right, as the paper reads its curves
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig, axes
