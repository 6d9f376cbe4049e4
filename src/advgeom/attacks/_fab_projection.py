"""FAB's projection: the smallest l_inf or l2 step onto a hyperplane, inside a box.

Given points t, a hyperplane ``{z : f(z) = 0}`` with ``f(z) = c + w.(z - t)`` (c the value of
the linearised logit difference at t) and an optional box [lo, hi], find the step d of smallest
norm with ``f(t + d) = 0`` and ``t + d`` in the box. This is the problem AutoAttack's
``projection_linf`` / ``projection_l2`` solve for the box [0, 1]; here it is solved for any box
(or none) by one water-filling solve shared by both norms.

Flip w so that the step must lower ``w.z`` by ``|c|``. Coordinate i then moves in the direction
``-sign(w_i)``, by at most ``cap_i`` (the distance to the box's face that way). For l_inf the
optimal step moves every coordinate by ``min(lam, cap_i)``, which lowers ``w.z`` by
``sum_i |w_i| min(lam, cap_i)``; for l2 (KKT: ``d = clip(-mu w)``) it moves coordinate i by
``|w_i| min(mu, cap_i / |w_i|)``, which lowers ``w.z`` by ``sum_i w_i^2 min(mu, cap_i / |w_i|)``.
Both are ``sum_i a_i min(lam, s_i) = |c|`` for the smallest lam: a concave piecewise-linear
function, solved exactly from the sorted breakpoints s_i (:func:`water_level`). Where even the
box corner that lowers ``w.z`` most does not reach the hyperplane (lam = inf), the step goes to
that corner, as in the reference code.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from advgeom.tensors import TINY


def hyperplane_step(
    t: Tensor, w: Tensor, c: Tensor, norm: str, bounds: tuple[float, float] | None
) -> Tensor:
    """The smallest ``norm`` step onto the hyperplane ``c + w.d = 0`` within the box.

    Args:
        t: (n, D) flat points (inside the box when ``bounds`` is given).
        w: (n, D) hyperplane normals.
        c: (n,) the value ``f(t)`` of the affine function whose zero set is the hyperplane.
        norm: "linf" or "l2".
        bounds: (lo, hi) box or None.

    Returns:
        (n, D) the step d (the box corner closest to the hyperplane where it misses the box).
    """
    w = w * torch.where(c < 0, -1.0, 1.0).to(w.dtype).unsqueeze(1)
    aw = w.abs()
    if bounds is None:
        cap = torch.full_like(t, math.inf)
    else:
        cap = torch.where(w > 0, t - bounds[0], bounds[1] - t).clamp_min(0.0)
    if norm == "linf":
        a, s = aw, cap
    else:
        a, s = w.square(), torch.where(aw > 0, cap / aw, math.inf)
    lam = water_level(a, s, c.abs()).unsqueeze(1)
    # min(lam |w_i|, cap_i) rather than |w_i| min(lam, cap_i / |w_i|): the same, but exactly
    # cap_i at the box's face.
    size = torch.minimum(lam if norm == "linf" else lam * aw, cap)
    # w_i = 0: the coordinate does not move (and inf * 0 must not leak in as NaN).
    return torch.where(aw > 0, -w.sign() * size, 0.0)


def water_level(a: Tensor, s: Tensor, c: Tensor) -> Tensor:
    """(n,) the smallest lam >= 0 with ``sum_i a_i min(lam, s_i) >= c``, inf if none.

    Args:
        a: (n, D) weights >= 0.
        s: (n, D) breakpoints >= 0, inf allowed.
        c: (n,) targets >= 0.

    The left side g(lam) is nondecreasing and linear between sorted breakpoints:
    ``g(s_(k)) = sum_{i<k} a_(i) s_(i) + s_(k) sum_{i>=k} a_(i)``. The first k with
    ``g(s_(k)) >= c`` brackets lam in [s_(k-1), s_(k)], where
    ``lam = (c - sum_{i<k} a_(i) s_(i)) / sum_{i>=k} a_(i)``.
    """
    s, order = s.sort(dim=1)
    a = a.gather(1, order)
    mass = torch.where(a > 0, a * s, 0.0)  # a = 0 with s = inf contributes nothing
    # sum_{i<k} (exclusive, so an inf mass never meets its own -inf); inf only after an inf s.
    below = torch.cat([torch.zeros_like(mass[:, :1]), mass.cumsum(1)[:, :-1]], dim=1)
    rest = a.flip(1).cumsum(1).flip(1)  # sum_{i>=k}
    g = below + torch.where(rest > 0, s * rest, 0.0)
    k = (g < c.unsqueeze(1)).sum(dim=1, keepdim=True)
    kk = k.clamp(max=s.shape[1] - 1)
    gap = (c.unsqueeze(1) - below.gather(1, kk)).clamp_min(0.0)
    lam = gap / rest.gather(1, kk).clamp_min(TINY)
    return torch.where(k[:, 0] >= s.shape[1], math.inf, lam[:, 0])
