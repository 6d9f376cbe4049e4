"""Linear SVM (hinge loss + L2 penalty) along a regularisation path, warm-started.

The model of Tanay's boundary-tilting experiments: for labels ``y_i in {-1, +1}``

    P(w, b) = lam / 2 * ||w||^2 + 1/N * sum_i max(0, 1 - y_i (w . x_i + b)),

with the bias ``b`` not penalised (the textbook SVM; ``C = 1 / (lam * N)`` in libsvm's units).

This module holds the public API (:func:`fit_linear_svm`, :func:`svm_path`, their results
:class:`SVMSolution` and :class:`SVMPath`, :func:`hinge_objective`, :func:`signed_labels`) and
the driver :func:`_solve`. The solver's steps live in :mod:`advgeom.geometry._hinge`.

Solver (exact, float64, one CPU thread): an active-set method on the exact hinge KKT system,
which returns the exact optimum (``exact=True``, duality gap at rounding level) once its
partition of the points (bound / free / out) is right. The partition comes from a warm start
(the previous penalty of a path, which is often right already: then no Newton step is needed)
or else from minimising the Huber-smoothed hinge by Newton's method with an exact line search,
the smoothing width ``delta`` shrinking tenfold until the partition is right.

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
from advgeom.geometry._hinge import (
    KKT_TOL,
    MAX_LEVELS,
    ROUNDS,
    _active_set,
    _dloss,
    _gap,
    _newton,
    _Problem,
)
from advgeom.progress import track


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


def _problem(x: Tensor, y: Tensor) -> _Problem:
    """The solver's form of (x, y), after checking that they match."""
    if x.dim() != 2 or len(x) != len(y):
        raise InputError(f"x must be (N, n) with one row per label (got {tuple(x.shape)})")
    return _Problem(x, signed_labels(y).to(x.device))


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
    p = _problem(x, y)
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
    p = _problem(x, y)
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
