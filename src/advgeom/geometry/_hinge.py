"""Internals of :mod:`advgeom.geometry.linear_svm`: the exact hinge-SVM solver's steps.

For labels ``y_i in {-1, +1}`` and penalty ``lam`` the problem is

    P(w, b) = lam / 2 * ||w||^2 + 1/N * sum_i max(0, 1 - y_i (w . x_i + b)),

bias not penalised, in float64. The KKT conditions of P split the points into *bound*
(margin < 1, dual variable alpha = 1), *free* (margin exactly 1, alpha in [0, 1]) and *out*
(margin > 1, alpha = 0); given that partition, alpha on the free points and b solve a linear
system of size (free + 1). :func:`_active_set` solves it, checks every KKT condition, moves the
violators and repeats; a solution that passes is the exact optimum (duality gap at rounding
level, :func:`_gap`). The partition comes from a warm start or else from minimising the
Huber-smoothed hinge (quadratic on margins in ``(1 - delta, 1)``) by Newton's method
(:func:`_newton`) with an exact line search (:func:`_line_search`), as Keerthi and DeCoste for
the squared hinge. A Newton step costs two passes over the data and one (n + 1)-square solve,
or a Woodbury solve of the size of the quadratic zone when that is smaller (:func:`_direction`).

This module holds only these private steps; the driver that chains them (smoothing widths,
warm starts) and the public API are in :mod:`advgeom.geometry.linear_svm`.
"""

from __future__ import annotations

import torch
from torch import Tensor

KKT_TOL = 1e-7  # relative tolerance of the polished solution's KKT checks
ROUNDS = 10  # active-set rounds per attempt
MAX_LEVELS = 8  # smoothing widths tried: delta, delta/10, ..., delta/10^7


class _Problem:
    """The data in the solver's form: rows ``y_i [x_i, 1]`` in float64.

    Args:
        x: (N, n) inputs (checked by the caller).
        ys: (N,) float64 labels in {-1, +1} on x's device.
    """

    def __init__(self, x: Tensor, ys: Tensor) -> None:
        ones = torch.ones(len(x), 1, dtype=torch.float64, device=x.device)
        self.A = ys[:, None] * torch.cat([x.to(torch.float64), ones], dim=1)
        self.Ax = self.A[:, :-1].contiguous()  # rows y_i x_i
        self.y = ys
        self.N, self.n = x.shape

    def reg(self, lam: float) -> Tensor:
        r = torch.full((self.n + 1,), lam, dtype=torch.float64, device=self.A.device)
        r[-1] = 0.0  # the bias is not penalised
        return r


def _dloss(m: Tensor, delta: float) -> tuple[Tensor, Tensor]:
    """Derivative of the smoothed hinge and the mask of its quadratic zone."""
    quad = (m > 1 - delta) & (m < 1)
    d = torch.where(m >= 1, 0.0, torch.where(quad, -(1 - m) / delta, -1.0))
    return d, quad


def _objective(p: _Problem, z: Tensor, m: Tensor, lam: float, delta: float) -> float:
    loss = torch.where(
        m >= 1, 0.0, torch.where(m > 1 - delta, (1 - m) ** 2 / (2 * delta), 1 - m - delta / 2)
    )
    return float(lam / 2 * z[:-1].square().sum() + loss.mean())


def _line_search(
    p: _Problem, z: Tensor, d: Tensor, m: Tensor, lam: float, delta: float
) -> tuple[float, Tensor]:
    """Exact minimiser t > 0 of the objective along z + t d, and the margins' change ``A d``.

    Along a line the derivative is monotone and piecewise linear: bracket its root, then Newton
    steps safeguarded by bisection, each costing O(N).
    """
    dm = p.A @ d
    wd, dd = float(z[:-1] @ d[:-1]), float(d[:-1] @ d[:-1])

    def slope(t: float) -> tuple[float, float]:
        g, quad = _dloss(m + t * dm, delta)
        curv = lam * dd + float(dm[quad].square().sum()) / (p.N * delta)
        return lam * (wd + t * dd) + float(g @ dm) / p.N, curv

    lo, hi = 0.0, 1.0
    s0 = slope(0.0)[0]
    while slope(hi)[0] < 0 and hi < 1e30:
        lo, hi = hi, hi * 2
    t = hi
    for _ in range(60):
        s, curv = slope(t)
        if abs(s) <= 1e-13 * abs(s0) or hi - lo <= 1e-15 * hi:
            break
        lo, hi = (t, hi) if s < 0 else (lo, t)
        t_new = t - s / curv if curv > 0 else (lo + hi) / 2
        t = t_new if lo < t_new < hi else (lo + hi) / 2
    return t, dm


def _direction(p: _Problem, quad: Tensor, lam: float, delta: float, g: Tensor) -> Tensor:
    """Newton direction -H^-1 g, H = diag(lam, ..., lam, 0) + A_q^T A_q / (N delta).

    With k points in the quadratic zone and k < n / 2, the Woodbury identity for the w block
    and a Schur complement for b cost O(k^2 n) instead of O(n^3).
    """
    c = 1.0 / (p.N * delta)
    Aq = p.A[quad]
    k = len(Aq)
    # A damping term only where the objective is flat in b (no point in the quadratic zone).
    eps = max(lam, 1e-12) * 1e-6 + (lam if k == 0 else 0.0)
    if 2 * k >= p.n:
        H = c * Aq.T @ Aq
        H.diagonal()[:-1] += lam
        H[-1, -1] += eps
        return -torch.linalg.solve(H, g)
    U, u = Aq[:, :-1], Aq[:, -1]
    chol = (
        torch.linalg.cholesky(lam / c * torch.eye(k, dtype=U.dtype, device=U.device) + U @ U.T)
        if k
        else None
    )

    def p_inv(v: Tensor) -> Tensor:  # (lam I + c U^T U)^-1 v
        if chol is None:
            return v / lam
        return (v - U.T @ torch.cholesky_solve((U @ v)[:, None], chol)[:, 0]) / lam

    q = c * (U.T @ u)
    pg, pq = p_inv(g[:-1]), p_inv(q)
    db = (g[-1] - q @ pg) / (c * (u @ u) + eps - q @ pq)
    return -torch.cat([pg - db * pq, db.reshape(1)])


def _newton(
    p: _Problem, z: Tensor, lam: float, delta: float, tol: float, max_iter: int, m: Tensor
) -> tuple[Tensor, Tensor, int]:
    """Minimise the smoothed objective from z (margins m = A z): solution, margins, steps."""
    r = p.reg(lam)
    for it in range(1, max_iter + 1):
        g_loss, quad = _dloss(m, delta)
        g = r * z + p.A.T @ g_loss / p.N
        d = _direction(p, quad, lam, delta, g)
        decrement = -float(g @ d)
        if decrement <= tol * max(abs(_objective(p, z, m, lam, delta)), 1e-300):
            return z, m, it - 1
        t, dm = _line_search(p, z, d, m, lam, delta)
        z, m = z + t * d, m + t * dm
    return z, m, max_iter


def _kkt(
    p: _Problem, s_bound: Tensor, y_bound: float, free: Tensor, lam: float
) -> tuple[Tensor, Tensor, float]:
    """Free dual variables, w and b of the exact hinge KKT system for a given partition.

    alpha = 1 on the bound points (``s_bound`` = sum of their rows y_i x_i, ``y_bound`` = sum of
    their labels), 0 outside ``bound | free``; on ``free`` the margins are exactly 1 and
    sum(alpha y) = 0 (the bias is free): a (k + 1)-square linear system for k free points.
    """
    k = int(free.sum())
    scale = 1.0 / (lam * p.N)
    if not k:
        return p.Ax.new_zeros(0), scale * s_bound, 0.0
    Xf, yf = p.Ax[free], p.y[free]
    M = p.Ax.new_zeros(k + 1, k + 1)
    M[:k, :k] = scale * Xf @ Xf.T
    M[:k, k], M[k, :k] = yf, yf
    rhs = torch.cat([1 - scale * (Xf @ s_bound), p.Ax.new_tensor([-y_bound])])
    # More free points than n + 1 make M singular for certain (X_f X_f^T has rank <= n), but
    # rounding can hide the zero pivot and let solve_ex return a wild answer that depends on
    # memory alignment: go straight to least squares then.
    sol, info = (None, 1) if k > p.n + 1 else torch.linalg.solve_ex(M, rhs)
    if int(info) != 0 or not torch.isfinite(sol).all():  # singular (k > rank): least squares
        sol = torch.linalg.lstsq(M, rhs[:, None], rcond=1e-12, driver="gelsd").solution[:, 0]
    alpha_f = sol[:k]
    return alpha_f, scale * (s_bound + Xf.T @ alpha_f), float(sol[k])


def _active_set(
    p: _Problem, m: Tensor, lam: float, delta: float, rounds: int
) -> tuple[Tensor, Tensor, Tensor] | None:
    """Exact hinge solution from a starting partition, corrected by swapping violators.

    The partition is read off the margins ``m`` = A z of the starting point (margin <= 1 - delta:
    bound; up to 1: free; above: out); each round solves the KKT system and moves every point
    that violates its conditions (a free alpha outside [0, 1], a margin on the wrong side of 1)
    to the set it belongs to. Returns
    ``(z, alpha, m)`` once no condition is violated; None after ``rounds``, or as soon as the
    number of violations stops falling (the partition is too far off: smooth and retry).
    """
    bound = m <= 1 - delta
    free = ~bound & (m <= 1 + KKT_TOL * max(1.0, float(m.abs().max())))
    s_bound = p.Ax.T @ bound.to(torch.float64)
    y_bound = float(p.y[bound].sum())
    before = None
    for _ in range(rounds):
        if int(free.sum()) > 2 * (p.n + 1):  # far more free points than a solution has
            return None
        alpha_f, w, b = _kkt(p, s_bound, y_bound, free, lam)
        alpha = bound.to(torch.float64)
        alpha[free] = alpha_f
        m = p.Ax @ w + p.y * b
        tol = KKT_TOL * max(1.0, float(m.abs().max()))
        to_out = free & (alpha < -KKT_TOL)
        to_bound = free & (alpha > 1 + KKT_TOL)
        to_free = (~bound & ~free & (m < 1 - tol)) | (bound & (m > 1 + tol))
        violations = int(to_out.sum() + to_bound.sum() + to_free.sum())
        if violations == 0 and abs(float(p.y @ alpha)) <= KKT_TOL * max(1.0, float(alpha.sum())):
            return torch.cat([w, w.new_tensor([b])]), alpha.clamp(0, 1), m
        if before is not None and violations >= before:
            return None
        before = violations
        leave = bound & to_free
        s_bound += p.Ax[to_bound].sum(dim=0) - p.Ax[leave].sum(dim=0)
        y_bound += float(p.y[to_bound].sum() - p.y[leave].sum())
        free = (free & ~to_out & ~to_bound) | to_free
        bound = (bound & ~leave) | to_bound
    return None


def _gap(
    p: _Problem, z: Tensor, m: Tensor, alpha: Tensor, lam: float, w_alpha: Tensor | None = None
) -> tuple[float, float]:
    """Hinge objective P(z) (margins m) and duality gap P - D(alpha), D needing sum(alpha y) = 0.

    ``w_alpha`` = A_x^T alpha / (lam N), the w of alpha; the polished solution's own w when None.
    """
    w = z[:-1]
    primal = float(lam / 2 * w.square().sum() + (1 - m).clamp_min(0).mean())
    w_alpha = w if w_alpha is None else w_alpha
    dual = float(alpha.mean() - lam / 2 * w_alpha.square().sum())
    return primal, primal - dual
