"""Expansion curves shared by the Badger experiments: measure in both dtypes, growth, claims, plots.

A "curve" is ``{"float32": summary, "float64": summary}`` with each summary from
:meth:`advgeom.metrics.expansion.Expansion.summary` (one entry per eta). The growth of a quantity
q (r or e_a) is ``q(eta_to) / q(eta_from)``, by default over the paper's pertinent range
1e-1 -> 1e-5 (Sec. 4): it is about 1 when the model is smooth at that scale and large when q
blows up as eta -> 0 (an approximate discontinuity, or rounding: compare float32 with float64).
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
from advgeom.experiments.claims import claim
from advgeom.metrics.expansion import as_dtype, expansion
from advgeom.plotting import new_figure

DTYPES = ("float32", "float64")
QUANTITIES = ("r", "e_a")


def check_settings(cfg) -> None:
    """Raise InputError unless a config's curve settings hold: ``etas`` two or more step sizes
    > 0, ``growth_from`` and ``growth_to`` finite and > 0, ``grows_factor`` > 1."""
    check_positive_fields(cfg, ("growth_from", "growth_to"))
    if len(cfg.etas) < 2 or min(cfg.etas) <= 0:
        raise InputError(f"etas must hold at least two step sizes > 0 (got {cfg.etas})")
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
    dropout masks come from the global RNG, seeded from that generator.
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
    """``summary[key]`` at the grid point nearest ``eta`` (in log scale); None when not finite."""
    etas = np.asarray(summary["eta"])
    k = int(np.argmin(np.abs(np.log10(etas) - math.log10(eta))))
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


def describe(g: dict) -> str:
    """e.g. ``r x1.02 (float64), x3.4 (float32); e_a x1.00 (float64), x0.98 (float32)``."""

    def one(v: float | None) -> str:
        return "n/a" if v is None else f"x{v:.3g}"

    return "; ".join(
        f"{q} {one(g[f'{q}_float64'])} (float64), {one(g[f'{q}_float32'])} (float32)"
        for q in QUANTITIES
    )


def grows(g: float | None, factor: float) -> bool | None:
    return None if g is None else g >= factor


def growth_claim(
    id: str,
    statement: str,
    curve: dict,
    *,
    expect_growth: bool,
    factor: float,
    eta_from: float,
    eta_to: float,
    measurable: bool,
    note: str,
) -> dict:
    """A claim that q grows (or stays flat) over the range, judged on r in float64.

    r (Eq. 6) is the paper's definition and float64 separates geometry from rounding; the note
    gives e_a and float32 too and says where they tell another story.
    """
    g = growths(curve, eta_from, eta_to)
    verdicts = {k: grows(v, factor) for k, v in g.items()}
    agree = None if verdicts["r_float64"] is None else verdicts["r_float64"] == expect_growth
    others = [k for k, v in verdicts.items() if v is not None and v != expect_growth]
    same = [k for k, v in verdicts.items() if v is not None and v == expect_growth]
    if not others:
        differs = "; r and e_a agree with the paper in both dtypes"
    else:
        differs = f"; disagrees with the paper in {', '.join(others)}" + (
            f", agrees in {', '.join(same)}" if same else ""
        )
    return claim(
        id,
        statement,
        paper_value=f"{'grows' if expect_growth else 'flat'} (x>={factor:g} means grows)",
        measured=g,
        agrees=agree if measurable else None,
        note=f"growth q(eta={eta_to:g}) / q(eta={eta_from:g}): {describe(g)}; judged on r in "
        f"float64{differs}; {note}",
    )


def order_claim(
    id: str,
    statement: str,
    named: dict[str, dict],
    *,
    eta_from: float,
    eta_to: float,
    measurable: bool,
    note: str,
) -> dict:
    """A claim that the growth of r (float64) increases along the order of ``named``."""
    g = {name: growths(c, eta_from, eta_to) for name, c in named.items()}
    r64 = [g[n]["r_float64"] for n in named]
    r32 = [g[n]["r_float32"] for n in named]
    ea = [g[n]["e_a_float64"] for n in named]
    ok, ok32, ok_ea = _increasing(r64), _increasing(r32), _increasing(ea)
    return claim(
        id,
        statement,
        paper_value=" <= ".join(named),
        measured={n: g[n]["r_float64"] for n in named},
        agrees=ok if measurable else None,
        note=f"growth of r (float64) over eta {eta_from:g} -> {eta_to:g}, in that order; float32 "
        f"{'keeps' if ok32 else 'breaks'} the order ({_fmt(r32)}); e_a (float64) "
        f"{'keeps' if ok_ea else 'breaks'} it ({_fmt(ea)}); {note}",
    )


def limit_claim(
    id: str,
    statement: str,
    named: dict[str, dict],
    *,
    eta_from: float,
    eta_to: float,
    factor: float,
    measurable: bool,
    note: str,
) -> dict:
    """A claim that r keeps growing below ``eta_from`` (to the smallest step ``eta_to``) for
    every model of ``named``: a discontinuity has no finite limit, a smooth map has one.

    Judged on r in float64; the note gives e_a and float32 too, where rounding shows.
    """
    g = {name: growths(c, eta_from, eta_to) for name, c in named.items()}
    r64 = {name: v["r_float64"] for name, v in g.items()}
    agree = None if any(v is None for v in r64.values()) else all(v >= factor for v in r64.values())
    per = "; ".join(f"{name}: {describe(v)}" for name, v in g.items())
    return claim(
        id,
        statement,
        paper_value=f"keeps growing (x>={factor:g} from eta {eta_from:g} to {eta_to:g})",
        measured=r64,
        agrees=agree if measurable else None,
        note=f"growth q(eta={eta_to:g}) / q(eta={eta_from:g}), ~1 where the curve has reached "
        f"a finite limit (a smooth map, not a discontinuity): {per}; judged on r in float64 "
        f"(float32 values move here by rounding, not geometry); {note}",
    )


def _increasing(values: list) -> bool | None:
    """Whether the values never decrease (None when one is missing)."""
    if any(v is None for v in values):
        return None
    return all(a <= b for a, b in zip(values, values[1:], strict=False))


def _fmt(values: list) -> str:
    return ", ".join("n/a" if v is None else f"{v:.3g}" for v in values)


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
