"""Linear SVM (hinge loss + L2 penalty) along a regularisation path, warm-started.

The model of Tanay's boundary-tilting experiments: for labels ``y_i in {-1, +1}``

    P(w, b) = lam / 2 * ||w||^2 + 1/N * sum_i max(0, 1 - y_i (w . x_i + b)),

with the bias ``b`` not penalised (the textbook SVM; ``C = 1 / (lam * N)`` in libsvm's units).

Solver (exact, float64, one CPU thread). The KKT conditions of P split the points into
*bound* (margin < 1, dual variable alpha = 1), *free* (margin exactly 1, alpha in [0, 1]) and *out*
(margin > 1, alpha = 0); given that partition, alpha on the free points and b solve a linear
system of size (free + 1). :func:`_active_set` solves it, checks every KKT condition, moves the
violators and repeats; a solution that passes is the exact optimum (``exact=True``, duality gap
at rounding level). The partition comes from a warm start (the previous penalty of a path, which
is often right already: then no Newton step is needed) or else from minimising the Huber-smoothed
hinge (quadratic on margins in ``(1 - delta, 1)``) by Newton's method with an exact line search
(as Keerthi and DeCoste for the squared hinge), ``delta`` shrinking tenfold until the partition
is right. A Newton step costs two passes over the data and one (n + 1)-square solve, or a
Woodbury solve of the size of the quadratic zone when that is smaller.

Why not scikit-learn: ``LinearSVC`` (liblinear) penalises the bias and cannot warm-start, and
``SVC(kernel="linear")`` (libsvm) scales as N^2. Both serve as cross-checks in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from advgeom.devices import single_thread_on_cpu
from advgeom.errors import InputError, check_int, check_positive
from advgeom.progress import track

KKT_TOL = 1e-7  # relative tolerance of the polished solution's KKT checks
ROUNDS = 10  # active-set rounds per attempt
MAX_LEVELS = 8  # smoothing widths tried: delta, delta/10, ..., delta/10^7


@dataclass(frozen=True)
class SVMSolution:
    """One solved SVM.

    Attributes:
        lam: the L2 penalty.
        w: (n,) float64 weight vector.
        b: the bias.
        iterations: Newton steps taken (all smoothing levels).
        objective: the hinge objective P(w, b).
        duality_gap: P(w, b) - D(alpha) for the dual point alpha found (>= 0 up to rounding).
        exact: whether the KKT conditions of the exact hinge problem hold (polished solution).
    """

    lam: float
    w: Tensor
    b: float
    iterations: int
    objective: float
    duality_gap: float
    exact: bool


@dataclass(frozen=True)
class SVMPath:
    """SVMs along a regularisation path, in the order of ``lams`` as given.

    Attributes:
        lams: (K,) the penalties. W: (K, n) weights. b: (K,) biases.
        iterations: (K,) Newton steps. objective, duality_gap: (K,). exact: (K,) bool.
    """

    lams: Tensor
    W: Tensor
    b: Tensor
    iterations: Tensor
    objective: Tensor
    duality_gap: Tensor
    exact: Tensor


def signed_labels(y: Tensor) -> Tensor:
    """Labels {0, 1} or {-1, +1} as float64 {-1, +1}; both classes must be present."""
    values = set(torch.unique(y).tolist())
    if values == {0, 1}:
        return 2 * y.to(torch.float64) - 1
    if values == {-1, 1}:
        return y.to(torch.float64)
    raise InputError(f"y must hold the two labels 0/1 (or -1/+1), both present (got {values})")


def hinge_objective(x: Tensor, y: Tensor, w: Tensor, b: float, lam: float) -> float:
    """P(w, b) for x (N, n), labels y (N,) in {0, 1} or {-1, +1}."""
    ys = signed_labels(y).to(x.device)
    m = ys * (x.to(torch.float64) @ w.to(torch.float64) + b)
    return float(lam / 2 * w.double().square().sum() + (1 - m).clamp_min(0).mean())


class _Problem:
    """The data in the solver's form: rows ``y_i [x_i, 1]`` in float64."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        if x.dim() != 2 or len(x) != len(y):
            raise InputError(f"x must be (N, n) with one row per label (got {tuple(x.shape)})")
        ys = signed_labels(y).to(x.device)
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
    sol, info = torch.linalg.solve_ex(M, rhs)
    if int(info) != 0 or not torch.isfinite(sol).all():  # singular (k > rank): least squares
        sol = torch.linalg.lstsq(M, rhs[:, None]).solution[:, 0]
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


def _solve(p: _Problem, z: Tensor, m: Tensor, lam: float, opts: dict) -> tuple[SVMSolution, Tensor]:
    """Solve at one penalty from ``z`` (margins ``m``): active set first, then Newton at
    shrinking smoothing widths. Returns the solution and its margins (for the next start)."""
    delta, steps, polish = opts["smoothing"], 0, opts["polish"]
    # A warm start near this penalty's solution often needs no Newton step at all.
    polished = _active_set(p, m, lam, delta, ROUNDS) if polish else None
    for _ in range(MAX_LEVELS):  # smoothing widths delta, delta/10, ...
        if polished is not None:
            z_exact, alpha, m_exact = polished
            primal, gap = _gap(p, z_exact, m_exact, alpha, lam)
            sol = SVMSolution(lam, z_exact[:-1], float(z_exact[-1]), steps, primal, gap, True)
            return sol, m_exact
        z, m, it = _newton(p, z, lam, delta, opts["tol"], opts["max_iter"], m)
        steps += it
        if not polish:
            break
        polished = _active_set(p, m, lam, delta, ROUNDS)
        delta /= 10
    m = p.A @ z  # afresh: the Newton updates accumulate rounding
    alpha = -_dloss(m, delta * 10 if polish else delta)[0]
    primal, gap = _gap(p, z, m, alpha, lam, p.Ax.T @ alpha / (lam * p.N))
    # No verified partition, but a zero duality gap with a feasible dual point is a certificate
    # too (this happens where w is almost 0 and many margins sit at 1).
    feasible = abs(float(p.y @ alpha)) <= KKT_TOL * max(1.0, float(alpha.sum()))
    exact = feasible and gap <= KKT_TOL * max(1.0, primal)
    return SVMSolution(lam, z[:-1], float(z[-1]), steps, primal, gap, exact), m


def _check(lam: float, smoothing: float, tol: float, max_iter: int) -> None:
    check_positive("lam", lam)
    if not 0 < check_positive("smoothing", smoothing) <= 1:
        raise InputError(f"smoothing must be in (0, 1] (got {smoothing})")
    check_positive("tol", tol)
    check_int("max_iter", max_iter, minimum=1)


def fit_linear_svm(
    x: Tensor,
    y: Tensor,
    *,
    lam: float,
    w0: Tensor | None = None,
    b0: float = 0.0,
    smoothing: float = 1e-2,
    tol: float = 1e-13,
    max_iter: int = 200,
    polish: bool = True,
) -> SVMSolution:
    """Train one linear SVM (hinge loss + lam/2 ||w||^2, bias not penalised).

    Args:
        x: (N, n) inputs (flattened); computed in float64 on x's device.
        y: (N,) labels in {0, 1} (1 = positive side) or {-1, +1}.
        lam: the L2 penalty (> 0); libsvm's C is 1 / (lam * N).
        w0, b0: starting point (warm start); zeros by default.
        smoothing: initial Huber width of the hinge (shrunk until the polish succeeds).
        tol: Newton stops when its decrement is below tol times the objective.
        max_iter: Newton steps per smoothing level.
        polish: solve the exact hinge KKT system (else return the smoothed solution).

    Returns:
        SVMSolution (``w`` (n,) float64).
    """
    _check(lam, smoothing, tol, max_iter)
    p = _Problem(x, y)
    z = torch.zeros(p.n + 1, dtype=torch.float64, device=x.device)
    if w0 is not None:
        z[:-1] = w0.to(z).reshape(-1)
        z[-1] = b0
    opts = dict(smoothing=smoothing, tol=tol, max_iter=max_iter, polish=polish)
    with single_thread_on_cpu(p.A.device):
        return _solve(p, z, p.A @ z, float(lam), opts)[0]


def svm_path(
    x: Tensor,
    y: Tensor,
    lams: Sequence[float] | Tensor,
    *,
    warm_start: bool = True,
    smoothing: float = 1e-2,
    tol: float = 1e-13,
    max_iter: int = 200,
    polish: bool = True,
    description: str = "SVM path",
) -> SVMPath:
    """Linear SVMs for every penalty in ``lams``, from the strongest to the weakest.

    With ``warm_start`` each solve starts from the solution of the next-stronger penalty, which
    is close when the grid is fine (81 values over 8 decades: a few Newton steps each).

    Args:
        x, y, smoothing, tol, max_iter, polish: as in :func:`fit_linear_svm`.
        lams: (K,) penalties > 0, any order.
        warm_start: False starts every value from zero (for comparison).

    Returns:
        SVMPath, rows in the order of ``lams``.
    """
    lam_t = torch.as_tensor(lams, dtype=torch.float64).reshape(-1)
    if lam_t.numel() == 0:
        raise InputError("lams must hold at least one penalty")
    for lam in lam_t.tolist():
        _check(lam, smoothing, tol, max_iter)
    p = _Problem(x, y)
    order = torch.argsort(lam_t, descending=True).tolist()
    zero = torch.zeros(p.n + 1, dtype=torch.float64, device=x.device)
    z, m = zero, p.A @ zero
    opts = dict(smoothing=smoothing, tol=tol, max_iter=max_iter, polish=polish)
    sols: dict[int, SVMSolution] = {}
    with single_thread_on_cpu(p.A.device):
        for i in track(order, description=description):
            if not warm_start:
                z, m = zero, p.A @ zero
            sol, m = _solve(p, z, m, float(lam_t[i]), opts)
            z = torch.cat([sol.w, sol.w.new_tensor([sol.b])])
            sols[i] = sol
    rows = [sols[i] for i in range(len(lam_t))]
    return SVMPath(
        lams=lam_t,
        W=torch.stack([s.w for s in rows]),
        b=torch.tensor([s.b for s in rows], dtype=torch.float64),
        iterations=torch.tensor([s.iterations for s in rows]),
        objective=torch.tensor([s.objective for s in rows], dtype=torch.float64),
        duality_gap=torch.tensor([s.duality_gap for s in rows], dtype=torch.float64),
        exact=torch.tensor([s.exact for s in rows]),
    )
