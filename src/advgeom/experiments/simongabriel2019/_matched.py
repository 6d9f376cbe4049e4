"""Comparisons of curves at matched abscissae, for Fig. 1's "a function of x whatever the method"
statements (1d: vulnerability vs E||g||_1; 1f: accuracy vs vulnerability) and Fig. 1e's
proportionality of E||g||_1 and E||g||_2.

A rank or correlation test cannot check such statements: two methods on parallel, offset curves
are perfectly rank-correlated overall yet give different vulnerabilities at the same gradient
norm. Here each method's networks form a curve (piecewise linear, in log x where asked), and the
curves are read off at the same x: the statement holds when they give nearly the same y there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Curve = Sequence[tuple[float, float]]  # (x, y) per trained network


def _prepared(curve: Curve, log_x: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, duplicate-free abscissae (log where asked) and their (averaged) ordinates."""
    pts = np.asarray(curve, float).reshape(-1, 2)
    xs = np.log(pts[:, 0]) if log_x else pts[:, 0]
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], pts[order, 1]
    ux, inverse = np.unique(xs, return_inverse=True)
    uy = np.bincount(inverse, weights=ys) / np.bincount(inverse)
    return ux, uy


def matched_spread(curves: Mapping[str, Curve], *, log_x: bool) -> dict | None:
    """The largest spread of the curves' y at a matched x, over the x range every curve covers.

    The curves are compared at every measured x (any curve's network) inside the common range
    [max of the curves' smallest x, min of their largest x]; at each such x every curve is read by
    linear interpolation between its own networks.

    Args:
        curves: method -> [(x, y), ...] (x > 0 when ``log_x``); at least two points per curve.
        log_x: interpolate in log x (gradient norms span decades).

    Returns:
        None when fewer than two curves are given or their x ranges do not overlap; else
        ``{"spread": max over matched x of (max - min of y across curves), "at": the x where it
        is largest, "low", "high": the common x range, "span": high / low (log_x) or high - low,
        "matched": how many x were compared, "range": max - min of every y read in that range
        (how much the curves move there: a small spread only means something next to it)}``.
    """
    prepared = {k: _prepared(v, log_x) for k, v in curves.items() if len(v) >= 2}
    if len(prepared) < 2:
        return None
    lo = max(float(xs[0]) for xs, _ in prepared.values())
    hi = min(float(xs[-1]) for xs, _ in prepared.values())
    if hi < lo:
        return None
    grid = np.unique(np.concatenate([xs for xs, _ in prepared.values()]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    values = np.stack([np.interp(grid, xs, ys) for xs, ys in prepared.values()])  # (curves, x)
    spread = values.max(axis=0) - values.min(axis=0)
    worst = int(np.argmax(spread))
    back = np.exp if log_x else (lambda v: v)
    return {
        "spread": float(spread[worst]),
        "at": float(back(grid[worst])),
        "low": float(back(lo)),
        "high": float(back(hi)),
        "span": float(np.exp(hi - lo)) if log_x else float(hi - lo),
        "matched": int(grid.size),
        "range": float(values.max() - values.min()),
    }


def ratio_deviation(numerator: Sequence[float], denominator: Sequence[float]) -> dict:
    """How far the ratios numerator_i / denominator_i stray from their median.

    Returns:
        ``{"deviation": max_i |r_i / median(r) - 1|, "median", "min", "max"}`` (Fig. 1e:
        E||g||_1 proportional to E||g||_2 means a constant ratio, so a small deviation).
    """
    r = np.asarray(numerator, float) / np.asarray(denominator, float)
    med = float(np.median(r))
    return {
        "deviation": float(np.max(np.abs(r / med - 1))),
        "median": med,
        "min": float(r.min()),
        "max": float(r.max()),
    }


def matched_gap(upper: Curve, lower: Curve, *, log_x: bool = False) -> dict | None:
    """How far curve ``upper`` lies above curve ``lower`` at matched x (Fig. 1f's cross-Lipschitz
    comparison; App. H's full vs down-sampled resolution).

    Both curves are read by linear interpolation at every measured x of either inside their
    common x range, as in :func:`matched_spread`.

    Returns:
        None when a curve has fewer than two points or the ranges do not meet; else ``{"at_low":
        upper - lower at the smallest common x (the most regularised end of an accuracy-
        vulnerability curve), "mean": the mean of upper - lower over the matched x, "min", "max",
        "low", "high": the common x range, "matched": how many x were compared, "lower_at_low":
        the lower curve's y at the smallest common x}``.
    """
    if len(upper) < 2 or len(lower) < 2:
        return None
    (xa, ya), (xb, yb) = _prepared(upper, log_x), _prepared(lower, log_x)
    lo, hi = max(float(xa[0]), float(xb[0])), min(float(xa[-1]), float(xb[-1]))
    if hi < lo:
        return None
    grid = np.unique(np.concatenate([xa, xb]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    gap = np.interp(grid, xa, ya) - np.interp(grid, xb, yb)
    back = np.exp if log_x else (lambda v: v)
    return {
        "at_low": float(gap[0]),
        "mean": float(gap.mean()),
        "min": float(gap.min()),
        "max": float(gap.max()),
        "low": float(back(lo)),
        "high": float(back(hi)),
        "matched": int(grid.size),
        "lower_at_low": float(np.interp(grid[0], xb, yb)),
    }
