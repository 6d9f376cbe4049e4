"""Decision regions of a softmax layer (Zou et al., Theorem 2 and Fig. 1 left).

The region of class y is the polyhedron ``R_y = {h : A h + c >= 0}`` with rows
``a_j = w_y - w_j`` and ``c_j = b_y - b_j`` (j != y). Its recession cone ``{d : A d >= 0}`` holds
the directions along which a point of R_y stays in R_y forever; its lineality space
``{d : A d = 0}`` is the adversarial subspace V, along which the probabilities do not change
at all (Theorem 2). Each region gets one of these kinds, decided by linear programmes
(``scipy.optimize.linprog``, HiGHS):

- ``"strict"``: some d has ``a_j . d > 0`` for every j; far along it the class wins from *any*
  starting point and its margin grows like ``theta * growth``. It exists iff ``w_y`` is a vertex
  of the convex hull of the class weights: always for generic heads with ``l >= m - 1``.
- ``"recession"``: only directions with some ``a_j . d = 0`` (and none in V): the region is
  unbounded but no direction dominates.
- ``"invariant"``: the only unbounded directions are those of V (probabilities unchanged).
- ``"bounded"``: the recession cone is {0} (possible only when V = {0}, hence typically l < m).
- ``"empty"``: the class never wins on an open set.

``domain="nonnegative"`` intersects everything with the orthant h >= 0, the feature space a ReLU
layer can reach (the paper assumes ``H = R^l``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from advgeom.errors import InputError, check_choice, check_int
from advgeom.geometry.softmax import Head, adversarial_subspace, head_weights, softmax64

DOMAINS = ("all", "nonnegative")
# Every LP here is kept bounded: points are looked for in |h_i| <= BOX, because HiGHS' presolve
# can call an unbounded problem infeasible. Regions are polyhedral cones far out, so a region
# with no point in that box has none anywhere unless its apex lies beyond 1e8.
BOX = 1e8
KINDS = ("strict", "recession", "invariant", "bounded", "empty")


@dataclass(frozen=True)
class Region:
    """The decision region of one class.

    Attributes:
        cls: the class.
        kind: one of :data:`KINDS` (see the module docstring).
        interior: ``(l,)`` a point deep inside the region (centre of the largest inscribed ball,
            the radius capped at ``radius_cap``), or None when the region is empty.
        inradius: that ball's radius (<= 0: empty or flat).
        direction: ``(l,)`` unit vector along which interior points stay in the class forever,
            or None (bounded or empty).
        growth: ``min_j a_j . direction``, > 0 only for ``"strict"`` (growth of the margin per
            unit of theta).
    """

    cls: int
    kind: str
    interior: np.ndarray | None
    inradius: float
    direction: np.ndarray | None
    growth: float

    @property
    def unbounded(self) -> bool:
        return self.kind in ("strict", "recession", "invariant")


def _lp(c, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds=None):
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status not in (0, 2, 3):  # 2: infeasible, 3: unbounded are answers too
        raise RuntimeError(f"linprog failed: {res.message}")
    return res


def _pairs(W: np.ndarray, b: np.ndarray, cls: int) -> tuple[np.ndarray, np.ndarray]:
    others = np.arange(W.shape[0]) != cls
    return W[cls] - W[others], b[cls] - b[others]


def _scale(A: np.ndarray) -> float:
    return float(max(np.abs(A).sum(axis=1).max(initial=0.0), 1e-300))


def interior_point(
    A: np.ndarray, c: np.ndarray, *, domain: str = "all", radius_cap: float = 1.0
) -> tuple[np.ndarray | None, float]:
    """Centre and radius of the largest ball in ``{h : A h + c >= 0}`` (radius capped).

    Among the centres of such balls, the one of smallest l1 norm (a second LP): an unbounded
    region has centres arbitrarily far out, and far-out points lose float64 digits in every
    later check.

    Returns ``(None, r)`` with ``r <= 0`` when the set has no interior.
    """
    width = A.shape[1]
    norms = np.linalg.norm(A, axis=1)
    # Variables (h, r): maximise r subject to a_j . h + c_j >= r ||a_j||.
    A_ub = np.hstack([-A, norms[:, None]])
    bounds = [(-BOX, BOX)] * width + [(None, radius_cap)]
    if domain == "nonnegative":  # h_i >= r keeps the ball inside the orthant
        A_ub = np.vstack([A_ub, np.hstack([-np.eye(width), np.ones((width, 1))])])
        c = np.concatenate([c, np.zeros(width)])
    res = _lp(np.r_[np.zeros(width), -1.0], A_ub=A_ub, b_ub=c, bounds=bounds)
    if res.status != 0 or res.x[-1] <= 1e-9 * max(radius_cap, 1e-300):
        return None, float(res.x[-1]) if res.status == 0 else -np.inf
    radius = float(res.x[-1]) * (1 - 1e-6)  # a hair inside, so the second LP stays feasible
    # Variables (h, t): minimise sum t with -t <= h <= t and the ball of that radius inside.
    eye = np.eye(width)
    rows = np.vstack(
        [
            np.hstack([A_ub[:, :width], np.zeros_like(A_ub[:, :width])]),
            np.hstack([eye, -eye]),
            np.hstack([-eye, -eye]),
        ]
    )
    rhs = np.r_[c - radius * A_ub[:, width], np.zeros(2 * width)]
    res = _lp(
        np.r_[np.zeros(width), np.ones(width)],
        A_ub=rows,
        b_ub=rhs,
        bounds=[(-BOX, BOX)] * width + [(0, None)] * width,
    )
    return (res.x[:width], radius) if res.status == 0 else (None, radius)


def recession_direction(
    A: np.ndarray, *, domain: str = "all", tol: float = 1e-9
) -> tuple[np.ndarray | None, float, str]:
    """A direction d with ``A d >= 0`` (the region's recession cone), preferring ``A d > 0``.

    First LP: maximise t with ``A d >= t`` over the box ``|d_i| <= 1`` (``0 <= d_i <= 1`` for
    the nonnegative domain). If t > 0 the direction is ``"strict"``. Otherwise a second LP
    maximises ``sum_j a_j . d`` subject to ``A d >= 0``; a positive optimum gives a
    ``"recession"`` direction outside V. ``tol`` is relative to the largest ``||a_j||_1``.

    Returns:
        ``(d, growth, kind)``: a unit d (or None), ``min_j a_j . d``, and "strict", "recession"
        or "none".
    """
    k, width = A.shape
    lo = 0.0 if domain == "nonnegative" else -1.0
    scale = _scale(A)
    res = _lp(
        np.r_[np.zeros(width), -1.0],
        A_ub=np.hstack([-A, np.ones((k, 1))]),
        b_ub=np.zeros(k),
        bounds=[(lo, 1.0)] * width + [(None, None)],
    )
    if res.status == 0 and res.x[-1] > tol * scale:
        d = res.x[:width] / np.linalg.norm(res.x[:width])
        return d, float((A @ d).min()), "strict"
    res = _lp(-A.sum(axis=0), A_ub=-A, b_ub=np.zeros(k), bounds=[(lo, 1.0)] * width)
    if res.status == 0 and -res.fun > tol * scale:
        d = res.x / np.linalg.norm(res.x)
        return d, float((A @ d).min()), "recession"
    return None, 0.0, "none"


def _invariant_direction(W: np.ndarray, domain: str, tol: float) -> np.ndarray | None:
    """A unit vector of V (of V intersected with the orthant for the nonnegative domain)."""
    basis = adversarial_subspace((W, None)).basis
    if basis.shape[1] == 0:
        return None
    if domain == "all":
        return basis[:, 0]
    # d >= 0, sum d = 1, (C W) d = 0: feasible iff V meets the orthant outside 0.
    centred = W - W.mean(axis=0, keepdims=True)
    width = W.shape[1]
    res = _lp(
        np.zeros(width),
        A_eq=np.vstack([centred, np.ones((1, width))]),
        b_eq=np.r_[np.zeros(W.shape[0]), 1.0],
        bounds=[(0.0, None)] * width,
    )
    if res.status != 0:
        return None
    return res.x / np.linalg.norm(res.x)


def class_region(
    head: Head, cls: int, *, domain: str = "all", radius_cap: float = 1.0, tol: float = 1e-9
) -> Region:
    """The kind of class ``cls``'s region, a point inside it and a direction to infinity.

    Args:
        head: final layer, see :func:`advgeom.geometry.softmax.head_weights`.
        cls: class index in ``[0, m)``.
        domain: "all" (``H = R^l``, the paper's setting) or "nonnegative" (ReLU features).
        radius_cap: largest inscribed radius looked for (keeps the LP bounded).
        tol: relative tolerance of the LPs.
    """
    W, b = head_weights(head)
    check_choice("domain", domain, DOMAINS)
    cls = check_int("cls", cls, minimum=0)
    if cls >= W.shape[0]:
        raise InputError(f"cls must be < m = {W.shape[0]} (got {cls})")
    A, c = _pairs(W, b, cls)
    point, radius = interior_point(A, c, domain=domain, radius_cap=radius_cap)
    if point is None:
        return Region(cls, "empty", None, radius, None, 0.0)
    d, growth, kind = recession_direction(A, domain=domain, tol=tol)
    if d is None:
        d = _invariant_direction(W, domain, tol)
        kind = "bounded" if d is None else "invariant"
    return Region(cls, kind, point, radius, d, growth)


def class_regions(head: Head, *, domain: str = "all", radius_cap: float = 1.0) -> list[Region]:
    """:func:`class_region` for every class."""
    W, _ = head_weights(head)
    return [class_region(head, y, domain=domain, radius_cap=radius_cap) for y in range(len(W))]


def far_along(
    head: Head, region: Region, thetas: Sequence[float] = (1e2, 1e4, 1e6)
) -> dict[str, list[float]]:
    """Evaluate the head at ``interior + theta * direction`` in float64.

    Returns:
        ``{"classes": [...], "margins": [...], "probability_change": [...]}`` per theta: the
        predicted class, the logit margin of ``region.cls`` over the best other class, and the
        largest change of a probability against the interior point.
    """
    if region.direction is None or region.interior is None:
        raise InputError(f"class {region.cls}: region is {region.kind}, no direction to follow")
    W, b = head_weights(head)
    h = region.interior[None, :] + np.asarray(thetas, dtype=np.float64)[:, None] * region.direction
    z = h @ W.T + b
    others = np.delete(z, region.cls, axis=1)
    p0 = softmax64(region.interior @ W.T + b)
    return {
        "classes": z.argmax(axis=1).tolist(),
        "margins": (z[:, region.cls] - others.max(axis=1)).tolist(),
        "probability_change": np.abs(softmax64(z) - p0).max(axis=1).tolist(),
    }


def is_unbounded_lp(head: Head, region: Region, *, domain: str = "all", cap: float = BOX) -> bool:
    """Independent check: ``direction . h`` grows without bound over the region.

    Maximises ``direction . h`` over the region with the extra constraint
    ``direction . h <= cap``; the region is unbounded that way when the cap is reached. (A capped,
    feasible LP is asked instead of an unbounded one because HiGHS' presolve can report an
    unbounded problem as infeasible.)
    """
    if region.direction is None:
        return False
    W, b = head_weights(head)
    A, c = _pairs(W, b, region.cls)
    lo = 0.0 if domain == "nonnegative" else None
    res = _lp(
        -region.direction,
        A_ub=np.vstack([-A, region.direction]),
        b_ub=np.r_[c, cap],
        bounds=[(lo, None)] * W.shape[1],
    )
    return res.status == 0 and -res.fun >= cap * (1 - 1e-9)


def region_box(
    head: Head, cls: int, *, domain: str = "all", cap: float = BOX
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest value of each coordinate over class ``cls``'s region, by 2 l LPs.

    The LPs run in the box ``|h_i| <= cap`` (bounded, so HiGHS answers reliably); a coordinate
    reaching the cap is reported as unbounded.

    Returns:
        ``(lo, hi)``, each ``(l,)``: +-inf where the region is unbounded that way, nan when the
        region is empty. A direct check that a region called bounded is.
    """
    W, b = head_weights(head)
    A, c = _pairs(W, b, cls)
    width = W.shape[1]
    box_bounds = [(0.0 if domain == "nonnegative" else -cap, cap)] * width
    box = np.full((2, width), np.nan)
    for i in range(width):
        for row, sign in ((0, 1.0), (1, -1.0)):
            res = _lp(sign * np.eye(width)[i], A_ub=-A, b_ub=c, bounds=box_bounds)
            if res.status != 0:
                return box[0], box[1]
            value = sign * res.fun
            box[row, i] = value if abs(value) < cap * (1 - 1e-9) else np.sign(value) * np.inf
    return box[0], box[1]


def region_extent(head: Head, cls: int, *, domain: str = "all") -> float:
    """``max ||h||_inf`` over class ``cls``'s region (inf when unbounded, nan when empty)."""
    lo, hi = region_box(head, cls, domain=domain)
    return float(np.max(np.abs(np.r_[lo, hi])))
