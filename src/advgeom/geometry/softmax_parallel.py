"""Parallel decision boundaries of a softmax layer (Zou et al., Definition 2 and Fig. 1 right).

The decision boundary between classes i and j lies in the hyperplane
``(w_i - w_j) . h + (b_i - b_j) = 0``; it is a boundary of the head only where i and j tie *on
top* (``z_i = z_j >= z_k`` for all k), which we call *realised* (a facet of the partition, found by
an LP). Definition 2: a head is **parallel** when two of its boundaries are parallel, i.e. their
normals ``w_i - w_j`` and ``w_k - w_l`` are collinear. Rows of W themselves being parallel means
nothing: softmax ignores adding one vector to every row.

Fig. 1 (right) is the case that matters: with ``w_j = (1 - s) w_i + s w_k`` on the segment
between ``w_i`` and ``w_k`` and ``b_j > (1 - s) b_i + s b_k``, the boundaries i|j and j|k are
parallel and i and k are *not adjacent*: where ``z_i = z_k``, ``z_j - z_i = b_j - (1 - s) b_i - s
b_k > 0``, so every path from region i to region k crosses region j. :func:`make_parallel` builds
that from any head; :class:`ChainHead` is a trainable layer whose classes all sit on one line,
so every pair of non-consecutive classes is separated this way.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advgeom.errors import InputError, check_int, check_positive, check_real
from advgeom.geometry.softmax import Head, head_weights
from advgeom.geometry.softmax_regions import BOX, _lp


def boundary_is_realised(
    head: Head, i: int, j: int, *, radius_cap: float = 1.0, tol: float = 1e-9
) -> bool:
    """Whether classes i and j share an (l-1)-dimensional boundary (a facet) in ``R^l``.

    LP: maximise r subject to ``z_i = z_j`` and ``z_i - z_k >= r ||w_i - w_k||`` for the other
    classes; a positive r is a point of the boundary with a ball of the hyperplane around it.
    """
    W, b = head_weights(head)
    m, width = W.shape
    if np.allclose(W[i], W[j], rtol=0, atol=0):
        return False  # equal normals: the classes tie everywhere or never
    others = [k for k in range(m) if k not in (i, j)]
    if not others:
        return True
    A = W[i] - W[others]
    norms = np.linalg.norm(A, axis=1)
    res = _lp(
        np.r_[np.zeros(width), -1.0],
        A_ub=np.hstack([-A, norms[:, None]]),
        b_ub=b[i] - b[others],
        A_eq=np.r_[W[i] - W[j], 0.0][None, :],
        b_eq=np.array([b[j] - b[i]]),
        bounds=[(-BOX, BOX)] * width + [(None, radius_cap)],
    )
    return res.status == 0 and res.x[-1] > tol * radius_cap


def realised_boundaries(head: Head) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, whose boundary is realised: the adjacent classes."""
    W, _ = head_weights(head)
    return [
        (i, j)
        for i, j in itertools.combinations(range(W.shape[0]), 2)
        if boundary_is_realised(head, i, j)
    ]


def separated_pairs(head: Head) -> list[tuple[int, int]]:
    """Pairs of classes that are not adjacent (no realised boundary between them)."""
    W, _ = head_weights(head)
    adjacent = set(realised_boundaries(head))
    return [p for p in itertools.combinations(range(W.shape[0]), 2) if p not in adjacent]


def boundary_angle(n1: np.ndarray, n2: np.ndarray) -> float:
    """Angle in radians between two hyperplanes with normals n1, n2, in ``[0, pi/2]``.

    ``2 asin(min(|u1 - u2|, |u1 + u2|) / 2)`` for unit normals: accurate near 0, where
    ``acos`` of a dot product loses half the digits.
    """
    u1, u2 = n1 / np.linalg.norm(n1), n2 / np.linalg.norm(n2)
    chord = min(np.linalg.norm(u1 - u2), np.linalg.norm(u1 + u2))
    return float(2 * np.arcsin(min(chord / 2, 1.0)))


@dataclass(frozen=True)
class ParallelPair:
    """Two parallel boundaries ``first = (i, j)`` and ``second = (k, l)`` and their angle."""

    first: tuple[int, int]
    second: tuple[int, int]
    angle: float


def parallel_boundaries(
    head: Head, *, angle_tol: float = 1e-6, realised_only: bool = True
) -> tuple[list[ParallelPair], float]:
    """Pairs of decision boundaries whose normals are parallel within ``angle_tol`` radians.

    Args:
        head: final layer, see :func:`advgeom.geometry.softmax.head_weights`.
        angle_tol: largest angle (radians) counted as parallel.
        realised_only: consider only realised boundaries (Definition 2 speaks of the head's
            decision boundaries); False compares every pair of class pairs.

    Returns:
        The parallel pairs, and the smallest angle between any two boundaries compared (inf when
        fewer than two): a head is parallel (Definition 2) iff the list is not empty.
    """
    angle_tol = check_positive("angle_tol", angle_tol, allow_zero=True)
    W, _ = head_weights(head)
    pairs = (
        realised_boundaries(head)
        if realised_only
        else list(itertools.combinations(range(W.shape[0]), 2))
    )
    found, smallest = [], math.inf
    for p, q in itertools.combinations(pairs, 2):
        n1, n2 = W[p[0]] - W[p[1]], W[q[0]] - W[q[1]]
        if not (np.any(n1) and np.any(n2)):
            continue
        angle = boundary_angle(n1, n2)
        smallest = min(smallest, angle)
        if angle <= angle_tol:
            found.append(ParallelPair(p, q, angle))
    return found, smallest


def make_parallel(
    head: Head, *, between: tuple[int, int, int], gap: float = 1.0, position: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """A copy of the head where class j sits between classes i and k (Fig. 1 right).

    ``w_j = (1 - s) w_i + s w_k`` and ``b_j = (1 - s) b_i + s b_k + gap`` with ``s = position``:
    boundaries i|j and j|k become parallel and, for ``gap > 0``, i and k are no longer adjacent.

    Args:
        head: final layer, see :func:`advgeom.geometry.softmax.head_weights`.
        between: ``(i, j, k)``, three distinct classes; j is moved.
        gap: bias margin of j over the interpolated bias (> 0 separates i and k).
        position: s in (0, 1), where on the segment j sits.

    Returns:
        ``(W, b)`` float64 of the new head.
    """
    W, b = head_weights(head)
    W, b = W.copy(), b.copy()
    i, j, k = (check_int(f"between[{n}]", v, minimum=0) for n, v in enumerate(between))
    if len({i, j, k}) != 3 or max(i, j, k) >= W.shape[0]:
        raise InputError(f"between must be 3 distinct classes < {W.shape[0]} (got {between})")
    s = check_real("position", position)
    if not 0 < s < 1:
        raise InputError(f"position must be in (0, 1) (got {s})")
    W[j] = (1 - s) * W[i] + s * W[k]
    b[j] = (1 - s) * b[i] + s * b[k] + check_real("gap", gap)
    return W, b


class ChainHead(nn.Module):
    """A softmax layer whose class weights lie on one line: every boundary is parallel.

    ``z_j = a_j (u . h) + b_j`` with fixed, equally spaced ``a_j = j - (m - 1) / 2``. The biases
    are built from increasing thresholds ``tau_0 < tau_1 < ...`` (``b_{j+1} = b_j - tau_j``), so
    class j wins exactly on the slab ``tau_{j-1} < u . h < tau_j``: every class has a region,
    consecutive classes are adjacent, and classes two or more apart are separated by the classes
    between them (Fig. 1 right with m slabs). Equivalent to ``nn.Linear`` with
    ``weight = a u^T`` and ``bias = b`` (:attr:`weight`, :attr:`bias`).

    Args:
        in_features: l.
        out_features: m >= 2.
        generator: source of the initial u (PyTorch's Linear scale) and thresholds.

    Shapes:
        input ``(batch, l)`` -> logits ``(batch, m)``.
    """

    def __init__(
        self, in_features: int, out_features: int, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        width = check_int("in_features", in_features, minimum=1)
        m = check_int("out_features", out_features, minimum=2)
        bound = 1 / math.sqrt(width)
        self.u = nn.Parameter(torch.empty(width).uniform_(-bound, bound, generator=generator))
        self.first = nn.Parameter(torch.tensor(-0.5 * (m - 2) * bound))
        self.widths = nn.Parameter(torch.full((m - 2,), math.log(math.expm1(bound))))
        self.register_buffer("a", torch.arange(m, dtype=torch.float32) - (m - 1) / 2)
        self.in_features, self.out_features = width, m

    def thresholds(self) -> Tensor:
        """``(m - 1,)`` increasing thresholds on ``u . h`` between consecutive classes."""
        steps = F.softplus(self.widths)
        return self.first + torch.cat([steps.new_zeros(1), steps.cumsum(0)])

    @property
    def bias(self) -> Tensor:
        """``(m,)`` float64 biases of the equivalent linear layer."""
        tau = self.thresholds().detach().double()
        return torch.cat([tau.new_zeros(1), -tau.cumsum(0)])

    @property
    def weight(self) -> Tensor:
        """``(m, l)`` float64 weights of the equivalent linear layer, ``a u^T``.

        In float64 the products of float32 ``u`` by the half-integers ``a_j`` are exact, so the
        rows are exactly collinear and the geometry functions see an exactly parallel head.
        """
        return self.a.double()[:, None] * self.u.detach().double()[None, :]

    def forward(self, h: Tensor) -> Tensor:
        tau = self.thresholds()
        bias = torch.cat([tau.new_zeros(1), -tau.cumsum(0)])
        return (h @ self.u)[:, None] * self.a + bias
