"""Boundary tilting (Tanay): the tilting plane and angle of a linear classifier, and a local
tilting angle for any differentiable model.

For a binary problem the nearest-centroid classifier has the unit weight vector
``z_hat = (mu_pos - mu_neg) / ||mu_pos - mu_neg||``. Any other linear classifier ``w.x + b`` is
seen in the *tilting plane* spanned by ``z_hat`` and ``w``, with the orthonormal basis
``(z_hat, n_hat)`` from Gram-Schmidt, ``n = w - (w.z_hat) z_hat``, ``n_hat = n / ||n||``. The
tilting angle is the angle between ``w`` and ``z_hat``. Because ``w`` lies in the plane, the
projection of a point into the plane decides its class exactly, and its distance to the boundary
``|w.x + b| / ||w||`` (its minimal l2 adversarial perturbation) is read off the plane too.

Beyond the article: :func:`local_tilting` takes any differentiable classifier and, at each input,
the input gradient of the logit margin ``f_y - f_k`` (true class y against the runner-up k, or a
given class) and measures its angle with the centroid direction ``mu_y - mu_k`` of that pair. For a
linear model it equals the tilting angle of the pair.

Conventions: inputs ``x`` are ``(N, *input_shape)`` and weight vectors ``(n,)`` or
``input_shape``, flattened internally; computations are in float64; angles are in degrees unless
``degrees=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from advgeom.errors import InputError, check_real
from advgeom.tensors import eval_mode

PARALLEL_TOL = 1e-12  # ||n|| below this (relative to ||w||): w is along z_hat, no plane


def _flat(x: Tensor) -> Tensor:
    """(N, *shape) -> (N, n) float64."""
    if not isinstance(x, Tensor) or x.dim() < 2:
        raise InputError(f"x must be a tensor of shape (N, *input_shape) (got {_shape(x)})")
    return x.reshape(len(x), -1).to(torch.float64)


def _vec(w: Tensor, name: str = "w") -> Tensor:
    """A weight vector of any shape -> (n,) float64."""
    if not isinstance(w, Tensor) or w.numel() == 0:
        raise InputError(f"{name} must be a non-empty tensor (got {_shape(w)})")
    return w.reshape(-1).to(torch.float64)


def _shape(t: object) -> object:
    return tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__


def class_centroids(x: Tensor, y: Tensor, *, num_classes: int | None = None) -> Tensor:
    """Mean input of each class.

    Args:
        x: (N, *input_shape) inputs.
        y: (N,) integer labels in 0..C-1.
        num_classes: C; ``y.max() + 1`` when None.

    Returns:
        (C, *input_shape) float64 centroids (NaN rows for classes without examples).
    """
    flat = _flat(x)
    if not isinstance(y, Tensor) or y.shape != (len(x),) or y.is_floating_point():
        raise InputError(f"y must be (N,) integer labels with N = {len(x)} (got {_shape(y)})")
    c = int(y.max()) + 1 if num_classes is None else num_classes
    if int(y.min()) < 0 or int(y.max()) >= c:
        raise InputError(f"labels must lie in 0..{c - 1} (got {int(y.min())}..{int(y.max())})")
    sums = torch.zeros(c, flat.shape[1], dtype=torch.float64, device=x.device)
    sums.index_add_(0, y.to(x.device), flat)
    counts = torch.bincount(y.to(x.device), minlength=c).to(torch.float64)
    return (sums / counts[:, None]).reshape(c, *x.shape[1:])


def centroid_direction(x: Tensor, y: Tensor, *, pos: int = 1, neg: int = 0) -> Tensor:
    """``z_hat``: unit vector from the centroid of class ``neg`` to that of class ``pos``.

    Args:
        x: (N, *input_shape) inputs; y: (N,) integer labels.
        pos, neg: the two classes (default: labels 1 and 0 of a binary problem).

    Returns:
        (n,) float64 unit vector, the weight of the nearest-centroid classifier.
    """
    flat = _flat(x)
    masks = [y.to(x.device) == c for c in (pos, neg)]
    for cls, mask in zip((pos, neg), masks, strict=True):
        if not mask.any():
            raise InputError(f"class {cls} has no examples in y")
    z = flat[masks[0]].mean(dim=0) - flat[masks[1]].mean(dim=0)
    norm = torch.linalg.vector_norm(z)
    if norm == 0:
        raise InputError("the two class centroids coincide: z_hat is undefined")
    return z / norm


def tilting_angle(w: Tensor, z_hat: Tensor, *, degrees: bool = True) -> Tensor:
    """Angle between weight vector(s) ``w`` and the centroid direction ``z_hat``.

    Args:
        w: one weight vector of n elements (any shape), or (K, n) weight vectors.
        z_hat: (n,) direction (need not be unit).

    Returns:
        () for one w, else (K,): float64 angles in [0, 180] (degrees) or [0, pi].
    """
    z = _vec(z_hat, "z_hat")
    if w.numel() % z.numel():
        raise InputError(f"w has {w.numel()} elements, not a multiple of z_hat's {z.numel()}")
    W = w.to(torch.float64).reshape(-1, z.numel())
    cos = (W @ z) / (torch.linalg.vector_norm(W, dim=1) * torch.linalg.vector_norm(z))
    angle = torch.arccos(cos.clamp(-1.0, 1.0))
    angle = torch.rad2deg(angle) if degrees else angle
    return angle[0] if w.numel() == z.numel() else angle


def tilting_basis(w: Tensor, z_hat: Tensor) -> Tensor:
    """Orthonormal basis ``(z_hat, n_hat)`` of the tilting plane, by Gram-Schmidt of w.

    Args:
        w: (n,) classifier weight (any shape with n elements).
        z_hat: (n,) centroid direction (normalised here).

    Returns:
        (2, n) float64, rows ``z_hat`` and ``n_hat``; ``w`` is in their span.

    Raises:
        InputError: w is parallel to z_hat (tilting angle 0 or 180): the plane is undefined.
    """
    z, wv = _vec(z_hat, "z_hat"), _vec(w)
    if z.numel() != wv.numel():
        raise InputError(f"w has {wv.numel()} elements but z_hat has {z.numel()}")
    z = z / torch.linalg.vector_norm(z)
    n = wv - (wv @ z) * z
    n = n - (n @ z) * z  # a second pass removes the rounding left by the first
    norm = torch.linalg.vector_norm(n)
    if norm <= PARALLEL_TOL * torch.linalg.vector_norm(wv):
        raise InputError("w is parallel to z_hat (tilting angle 0): the tilting plane is undefined")
    return torch.stack([z, n / norm])


def project(x: Tensor, basis: Tensor) -> Tensor:
    """Coordinates of inputs in a plane (or any orthonormal basis): (N, *shape) -> (N, k)."""
    return _flat(x) @ basis.to(torch.float64).T


def plane_boundary(w: Tensor, b: float, basis: Tensor) -> tuple[float, float, float]:
    """The boundary ``w.x + b = 0`` in plane coordinates (u, v): ``a u + c v + b = 0``.

    Exact for every input when w lies in the plane (a tilting basis of w): then ``w.x`` only
    depends on the projection of x. Returns ``(a, c, b)``.
    """
    a, c = (basis.to(torch.float64) @ _vec(w)).tolist()
    return a, c, float(b)


def decision(x: Tensor, w: Tensor, b: float) -> Tensor:
    """``w.x + b`` per input, (N, *shape) -> (N,) float64."""
    return _flat(x) @ _vec(w) + float(b)


def boundary_distance(x: Tensor, w: Tensor, b: float, *, signed: bool = False) -> Tensor:
    """l2 distance of each input to the hyperplane ``w.x + b = 0``: ``|w.x + b| / ||w||``.

    For a linear classifier this is the exact minimal l2 adversarial perturbation (no box).
    With ``signed`` the sign of ``w.x + b`` is kept. Returns (N,) float64.
    """
    f = decision(x, w, b) / torch.linalg.vector_norm(_vec(w))
    return f if signed else f.abs()


def _step_to(x: Tensor, w: Tensor, b: float, factor: float) -> Tensor:
    """x - factor * (w.x + b) / ||w||^2 * w, in x's shape, dtype promoted with w's."""
    wv = _vec(w)
    if not torch.any(wv != 0):
        raise InputError("w is zero: the classifier has no boundary")
    coef = factor * decision(x, wv, b) / (wv @ wv)
    out = _flat(x) - coef[:, None] * wv[None, :]
    return out.reshape(x.shape).to(torch.promote_types(x.dtype, w.dtype))


def minimal_perturbation(x: Tensor, w: Tensor, b: float, *, overshoot: float = 0.0) -> Tensor:
    """Smallest l2 perturbation moving each input onto (``overshoot`` > 0: across) the boundary.

    ``delta = -(1 + overshoot) (w.x + b) / ||w||^2 * w``: along w, of norm
    ``(1 + overshoot) |w.x + b| / ||w||``. ``x + delta`` is the adversarial image.

    Args:
        x: (N, *input_shape); w: (n,); b: bias; overshoot: >= 0 (e.g. 0.02 to cross).

    Returns:
        (N, *input_shape) perturbations (dtype promoted from x and w).
    """
    overshoot = check_real("overshoot", overshoot)
    if overshoot < 0:
        raise InputError(f"overshoot must be >= 0 (got {overshoot})")
    return _step_to(x, w, b, 1.0 + overshoot) - x.to(torch.promote_types(x.dtype, w.dtype))


def mirror_image(x: Tensor, w: Tensor, b: float) -> Tensor:
    """Reflection of each input through the boundary: ``x - 2 (w.x + b) / ||w||^2 * w``.

    The mirror image is classified with the opposite score ``-(w.x + b)``. (N, *input_shape).
    """
    return _step_to(x, w, b, 2.0)


@dataclass(frozen=True)
class LocalTilting:
    """Local tilting measurements, one value per example.

    Attributes:
        angle: (batch,) angle between grad_x (f_y - f_k) and mu_y - mu_k (NaN where the
            gradient is zero).
        cosine: (batch,) its cosine.
        margin: (batch,) f_y - f_k (negative: misclassified against k).
        grad_norm: (batch,) ||grad_x (f_y - f_k)||.
        distance: (batch,) margin / grad_norm, the first-order (linearised) distance to the
            boundary between y and k.
        other: (batch,) the class k of each pair.
    """

    angle: Tensor
    cosine: Tensor
    margin: Tensor
    grad_norm: Tensor
    distance: Tensor
    other: Tensor


def _margins(out: Tensor, y: Tensor, other: Tensor | None) -> tuple[Tensor, Tensor]:
    """Logit margin f_y - f_k per example and k (runner-up unless given)."""
    if out.dim() == 1 or (out.dim() == 2 and out.shape[1] == 1):  # one logit: classes 1 vs 0
        f = out.reshape(-1)
        if ((y != 0) & (y != 1)).any():
            raise InputError("a one-logit model needs labels 0/1")
        k = 1 - y
        if other is not None and not torch.equal(other.to(k), k):
            raise InputError("with a one-logit model the other class is always 1 - y")
        return torch.where(y == 1, f, -f), k
    if out.dim() != 2:
        raise InputError(
            f"model output must be (batch,), (batch, 1) or (batch, C), not {tuple(out.shape)}"
        )
    if other is None:
        masked = out.detach().clone()
        masked.scatter_(1, y[:, None], -math.inf)
        k = masked.argmax(dim=1)
    else:
        k = other.to(y)
        if (k == y).any():
            raise InputError("other must differ from y for every example")
    return out.gather(1, y[:, None])[:, 0] - out.gather(1, k[:, None])[:, 0], k


def local_tilting(
    model, x: Tensor, y: Tensor, *, centroids: Tensor, other: Tensor | None = None
) -> LocalTilting:
    """Local tilting angle of any differentiable classifier at each input (beyond the article).

    Args:
        model: maps (batch, *input_shape) to C logits (batch, C), or one logit (batch,) /
            (batch, 1) for classes 1 (positive) vs 0; evaluated in eval mode.
        x: (batch, *input_shape) inputs.
        y: (batch,) true labels.
        centroids: (C, *input_shape) or (C, n) class means (see :func:`class_centroids`); a
            one-logit model needs C = 2.
        other: (batch,) class k of each pair; the runner-up logit when None.

    Returns:
        LocalTilting with float64 (batch,) tensors.
    """
    if not isinstance(y, Tensor) or y.shape != (len(x),):
        raise InputError(f"y must be (batch,) labels with batch = {len(x)} (got {_shape(y)})")
    y = y.to(x.device).long()
    cents = centroids.to(device=x.device, dtype=torch.float64).reshape(len(centroids), -1)
    if cents.shape[1] != x[0].numel():
        raise InputError(f"centroids have {cents.shape[1]} features, x has {x[0].numel()}")
    with eval_mode(model), torch.enable_grad():
        xa = x.detach().clone().requires_grad_(True)
        margin, k = _margins(model(xa), y, other)
        (grad,) = torch.autograd.grad(margin.sum(), xa)
    if int(torch.maximum(y, k).max()) >= len(cents):
        raise InputError(
            f"labels need {int(torch.maximum(y, k).max()) + 1} centroids, got {len(cents)}"
        )
    g = _flat(grad)
    direction = cents[y] - cents[k]
    g_norm = torch.linalg.vector_norm(g, dim=1)
    cos = (g * direction).sum(dim=1) / (g_norm * torch.linalg.vector_norm(direction, dim=1))
    cos = torch.where(g_norm > 0, cos.clamp(-1.0, 1.0), torch.nan)
    margin = margin.detach().to(torch.float64)
    return LocalTilting(
        angle=torch.rad2deg(torch.arccos(cos)),
        cosine=cos,
        margin=margin,
        grad_norm=g_norm,
        distance=margin / g_norm,
        other=k,
    )


def local_tilting_angle(
    model,
    x: Tensor,
    y: Tensor,
    *,
    centroids: Tensor,
    other: Tensor | None = None,
    degrees: bool = True,
) -> Tensor:
    """(batch,) local tilting angles; see :func:`local_tilting`."""
    angle = local_tilting(model, x, y, centroids=centroids, other=other).angle
    return angle if degrees else torch.deg2rad(angle)
