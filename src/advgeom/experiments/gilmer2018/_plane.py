"""Geometry of 2-D slices through R^n for ``spheres.slices``: plane bases, grids, rays, circles.

The plane through unit directions u, v (Gram-Schmidt of the chosen vectors) maps the coordinates
(a, b) to the point a u + b v of R^n; a model's logit is evaluated at such points (eval mode), and
"inner" means the logit is <= 0 (class 0, the inner sphere).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from advgeom.errors import InputError


def plane_basis(u: Tensor, v: Tensor) -> Tensor:
    """Orthonormal basis (Gram-Schmidt) of the plane spanned by u and v: (2, n), float64.

    The first row is u / ||u||; u and v must be linearly independent.
    """
    u, v = u.detach().double().flatten(), v.detach().double().flatten()
    e1 = u / torch.linalg.vector_norm(u).clamp_min(1e-300)
    w = v - (v @ e1) * e1
    norm = torch.linalg.vector_norm(w)
    if norm <= 1e-8 * torch.linalg.vector_norm(v):
        raise InputError("the two directions are parallel: they span no plane")
    return torch.stack([e1, w / norm])


def plane_points(basis: Tensor, coords: Tensor) -> Tensor:
    """Points of R^n from plane coordinates: coords (m, 2) -> (m, n), a u + b v."""
    return coords.to(basis) @ basis


def grid_coords(extent: float, size: int) -> tuple[np.ndarray, Tensor]:
    """The axis (size,) and the grid's plane coordinates (size * size, 2), row-major in y.

    Row i * size + j is the point (axis[j], axis[i]), so values reshaped to (size, size) are
    indexed [y, x] as imshow and contour expect.
    """
    axis = np.linspace(-extent, extent, size)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    return axis, torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], axis=1))


@torch.no_grad()
def plane_logits(model: nn.Module, basis: Tensor, coords: Tensor, *, batch: int = 4096) -> Tensor:
    """The model's logit (eval mode) at plane coordinates (m, 2) -> (m,), float64."""
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    out = []
    for chunk in coords.split(batch):
        x = plane_points(basis, chunk).to(device=param.device, dtype=param.dtype)
        out.append(model(x).reshape(-1).double().cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


def ray_coords(theta: Tensor, r: Tensor) -> Tensor:
    """Plane coordinates of the points at angles ``theta`` and radii ``r`` (same shape): (m, 2)."""
    return torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=-1).reshape(-1, 2)


def _angles(count: int, phase: float = 0.0) -> Tensor:
    return phase + torch.arange(count, dtype=torch.float64) * (2 * math.pi / count)


def boundary_radii(model: nn.Module, basis: Tensor, *, angles: int = 360, r_max: float = 2.6,
                   scan: int = 128, iters: int = 40) -> np.ndarray:
    """Radius of the first sign change of the logit along each ray of the plane: (angles,).

    Each ray from the origin is scanned at ``scan`` radii up to ``r_max`` for the first sign
    change, which is then refined by bisection; rays without one give nan.
    """
    theta = _angles(angles)
    radii = torch.linspace(0, r_max, scan + 1, dtype=torch.float64)
    t, r = torch.meshgrid(theta, radii, indexing="ij")
    pos = plane_logits(model, basis, ray_coords(t, r)).reshape(angles, scan + 1) > 0
    change = pos[:, 1:] != pos[:, :-1]
    found = change.any(dim=1)
    k = change.to(torch.int8).argmax(dim=1)
    lo, hi = radii[k], radii[k + 1]
    side_lo = pos[torch.arange(angles), k]
    for _ in range(iters):
        mid = (lo + hi) / 2
        same = (plane_logits(model, basis, ray_coords(theta, mid)) > 0) == side_lo
        lo, hi = torch.where(same, mid, lo), torch.where(same, hi, mid)
    out = ((lo + hi) / 2).numpy()
    out[~found.numpy()] = np.nan
    return out


def inner_reach(model: nn.Module, basis: Tensor, *, angles: int = 360, r_max: float = 3.0,
                spacing: float = 0.01, beyond: float = 2.0) -> dict:
    """How far out the model's inner-class region reaches in the plane (up to ``r_max``).

    Each ray is scanned at radii spaced by about ``spacing``. Returns ``largest_inner_norm``: the
    largest scanned radius classified inner on any ray (0.0 if none; ``r_max`` means "at least");
    ``inner_share_beyond``: the share of the scanned points with ``beyond < r <= r_max``
    classified inner; and ``min_logit_beyond``: the lowest logit there (how confidently inner).
    """
    steps = max(1, math.ceil(r_max / spacing))
    radii = torch.linspace(0, r_max, steps + 1, dtype=torch.float64)
    t, r = torch.meshgrid(_angles(angles), radii, indexing="ij")
    logits = plane_logits(model, basis, ray_coords(t, r)).reshape(angles, steps + 1)
    inner = logits <= 0
    far = radii > beyond
    reach = torch.where(inner, r, torch.zeros_like(r)).max()
    return {
        "largest_inner_norm": float(reach),
        "inner_share_beyond": float(inner[:, far].double().mean()) if far.any() else 0.0,
        "min_logit_beyond": float(logits[:, far].min()) if far.any() else None,
        "beyond": beyond,
    }


def circle_phase(marks: list[list[float]], points: int) -> float:
    """Angle of the first of ``points`` equally spaced circle points, chosen so that no sampled
    point is one of the marks (adversarial examples on the circle, plane coordinates (2,) each).

    The sampled angles repeat every spacing 2 pi / points; the phase sits in the middle of the
    widest gap between the marks' angles modulo that spacing, so every mark is at least
    spacing / (2 len(marks)) from the nearest sampled point. The error share then measures the
    arc around each example, not the example itself.
    """
    spacing = 2 * math.pi / points
    if not marks:
        return spacing / 2
    res = sorted(math.atan2(b, a) % spacing for a, b in marks)
    gaps = [(nxt - cur) % spacing or spacing for cur, nxt in zip(res, res[1:] + res[:1],
                                                                  strict=True)]
    k = max(range(len(gaps)), key=gaps.__getitem__)
    return res[k] + gaps[k] / 2


def circle_errors(model: nn.Module, basis: Tensor, *, radius: float, label: int, points: int,
                  phase: float = 0.0) -> float:
    """Error fraction of the model on ``points`` equally spaced points of the circle of
    ``radius`` in the plane (angles start at ``phase``), all of class ``label``."""
    theta = _angles(points, phase)
    logits = plane_logits(model, basis, ray_coords(theta, torch.full_like(theta, radius)))
    return float(((logits > 0).long() != label).double().mean())


def pick_directions(x_adv: Tensor, success: Tensor, loss: Tensor) -> tuple[list[int], int]:
    """Two adversarial examples to span a plane: errors first (else the highest losses), the
    second as close to orthogonal to the first as can be found.

    Args:
        x_adv: (P, n) attack results; success, loss: (P,).

    Returns:
        Their indices, and the number of errors among the P.
    """
    order = sorted(range(len(loss)), key=lambda i: (not bool(success[i]), -float(loss[i])))
    first = order[0]
    d = x_adv / torch.linalg.vector_norm(x_adv, dim=1, keepdim=True)
    pool = [i for i in order[1:] if bool(success[i]) == bool(success[order[1]])]
    second = min(pool, key=lambda i: abs(float(d[i] @ d[first])))
    return [first, second], int(success.sum())


def boundary_gap(radii: list, R: float) -> tuple[float | None, int]:
    """Mean |r - (1 + R)/2| over the rays, and how many rays do not cross the boundary.

    A ray without a crossing up to 2R has its boundary at the origin or beyond 2R, at least
    (1 + R)/2 from the max-margin circle, and counts with that deviation (a lower bound).
    """
    if not radii:
        return None, 0
    margin = (1 + R) / 2
    gaps = [margin if r is None else abs(r - margin) for r in radii]
    return float(np.mean(gaps)), sum(r is None for r in radii)
