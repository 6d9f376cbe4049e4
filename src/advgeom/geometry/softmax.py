"""Adversarial directions of a softmax layer (Zou et al., Definition 1 and Theorem 1).

A final layer ``z = W h + b`` (``W``: ``(m, l)``, PyTorch's ``nn.Linear`` convention; the paper
writes ``W^T h``) followed by softmax ignores a common shift of the logits. So ``h`` and
``h + theta d`` have the same probabilities for every ``theta`` exactly when ``W d`` is a multiple
of the all-ones vector::

    V = {d in R^l : W d in span(1)} = ker(C W),    C = I - 11^T / m  (centres the logits)
    dim V = l - rank(C W) = l - rank(W) + [1 in range(W)]  >=  l - m      (Theorem 1)

Generic heads attain the bound up to one: ``dim V = l - m + 1`` when ``l >= m`` (the kernel of
``W`` plus one direction moving all logits equally), and 0 when ``l < m``. The paper's statement
of Theorem 1 (``S(h + theta d) = S(h)``) leaves ``W`` out; Definition 1 shows it is meant.

Everything here computes in float64 numpy: the basis comes from an SVD of ``C W``; singular values
at most ``rtol * ||W||_F`` count as zero, with ``rtol = max(m, l) * eps_float64`` (numpy's
``matrix_rank`` rule, but measured against W: centring W rounds relative to W's entries, so when
all rows are nearly equal ``C W`` is pure rounding noise and must come out as rank 0). The basis
is orthonormal to rounding error and stable when ``W`` is rank-deficient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from advgeom.errors import InputError, check_positive

Head = nn.Module | tuple  # a final layer with .weight (m, l) and .bias (m,), or a (W, b) pair


def _array(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().to(torch.float64).numpy()
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        kind = type(value).__name__
        raise InputError(f"{name} must be an array of numbers (got {kind})") from err
    if not np.all(np.isfinite(out)):
        raise InputError(f"{name} must be finite (it holds NaN or inf)")
    return out


def head_weights(head: Head) -> tuple[np.ndarray, np.ndarray]:
    """The float64 ``(W, b)`` of a final layer.

    Args:
        head: an ``nn.Linear`` (or any module with ``weight`` ``(m, l)`` and ``bias`` ``(m,)`` or
            None, such as :class:`advgeom.geometry.softmax_parallel.ChainHead`), or a pair
            ``(W, b)`` of arrays/tensors with ``b`` None for no bias.

    Returns:
        ``W`` of shape ``(m, l)`` and ``b`` of shape ``(m,)`` (zeros without a bias), float64.
    """
    if isinstance(head, tuple) and len(head) == 2:
        weight, bias = head
    elif hasattr(head, "weight"):
        weight, bias = head.weight, getattr(head, "bias", None)
    else:
        raise InputError(
            "head must be an nn.Linear, a module with .weight (m, l) and .bias, or a "
            f"(W, b) pair (got {type(head).__name__})"
        )
    W = _array(weight, "head weight")
    if W.ndim != 2 or min(W.shape) < 1:
        raise InputError(f"head weight must have shape (m, l) (got {W.shape})")
    b = np.zeros(W.shape[0]) if bias is None else _array(bias, "head bias")
    if b.shape != (W.shape[0],):
        raise InputError(f"head bias must have shape ({W.shape[0]},) to match W (got {b.shape})")
    return W, b


def softmax64(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis in float64, shifted by the max (no overflow at 1e6 logits)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class AdversarialSubspace:
    """The adversarial directions V of one head and how they were found.

    Attributes:
        basis: ``(l, k)`` orthonormal columns spanning V (``k = dim V``).
        complement: ``(l, l - k)`` orthonormal columns spanning V's orthogonal complement: the only
            directions of the feature space the probabilities depend on.
        singular_values: ``(min(m, l),)`` singular values of the centred weights ``C W``,
            descending.
        tol: the threshold below which a singular value counted as zero.
        m: number of classes.
    """

    basis: np.ndarray
    complement: np.ndarray
    singular_values: np.ndarray
    tol: float
    m: int

    @property
    def dim(self) -> int:
        """dim V."""
        return int(self.basis.shape[1])

    @property
    def l(self) -> int:  # noqa: E743 - the paper's name for the feature width
        """Width of the features (inputs of the head)."""
        return int(self.basis.shape[0])

    @property
    def lower_bound(self) -> int:
        """Theorem 1's bound ``l - m`` (negative when ``l < m``: no guarantee)."""
        return self.l - self.m

    @property
    def margin(self) -> float:
        """Smallest singular value kept over ``tol`` (inf when all fell under it): how clearly
        the rank was decided; a ratio near 1 would mean the tolerance decided it."""
        kept = self.singular_values[self.singular_values > self.tol]
        return float(kept.min() / self.tol) if kept.size and self.tol > 0 else float("inf")


def adversarial_subspace(head: Head, *, rtol: float | None = None) -> AdversarialSubspace:
    """Orthonormal bases of V = {d : W d is a multiple of 1} and of its complement.

    Args:
        head: final layer, see :func:`head_weights`.
        rtol: relative rank tolerance; singular values of ``C W`` at most ``rtol * ||W||_F``
            count as zero (default ``max(m, l) * eps``).

    Returns:
        AdversarialSubspace with ``dim >= l - m`` (Theorem 1).
    """
    W, _ = head_weights(head)
    m, width = W.shape
    if rtol is None:
        rtol = max(m, width) * np.finfo(np.float64).eps
    rtol = check_positive("rtol", rtol, allow_zero=True)
    centred = W - W.mean(axis=0, keepdims=True)  # C W: each column minus its mean over classes
    _, s, vt = np.linalg.svd(centred, full_matrices=True)
    tol = rtol * float(np.linalg.norm(W))
    rank = int(np.sum(s > tol))
    return AdversarialSubspace(
        basis=vt[rank:].T.copy(),
        complement=vt[:rank].T.copy(),
        singular_values=s,
        tol=float(tol),
        m=m,
    )


def dimension_formula(head: Head, *, rtol: float | None = None) -> int:
    """``l - rank(W) + [1 in range(W)]``, computed from W itself (a check on the SVD of C W)."""
    W, _ = head_weights(head)
    m, width = W.shape
    u, s, _ = np.linalg.svd(W, full_matrices=False)
    rtol = max(m, width) * np.finfo(np.float64).eps if rtol is None else rtol
    rank = int(np.sum(s > rtol * float(np.linalg.norm(W))))
    ones = np.ones(m) / np.sqrt(m)
    # 1 is in range(W) when projecting it onto the column space loses nothing.
    residual = np.linalg.norm(ones - u[:, :rank] @ (u[:, :rank].T @ ones))
    return width - rank + int(residual <= np.sqrt(max(m, width)) * np.finfo(np.float64).eps * 16)


def probability_change(
    head: Head,
    points: np.ndarray,
    directions: np.ndarray,
    *,
    thetas: Sequence[float] = (-1e4, -1e2, -1.0, 1.0, 1e2, 1e4),
) -> float:
    """Largest change of any probability when a point moves along a direction, in float64.

    Evaluates ``softmax(W (h + theta d) + b)`` directly (no algebraic shortcut), so rounding in
    the forward pass is part of what is measured.

    Args:
        head: final layer, see :func:`head_weights`.
        points: ``(n, l)`` feature vectors h.
        directions: ``(l, k)`` directions d as columns (e.g. ``adversarial_subspace(...).basis``).
        thetas: step lengths theta.

    Returns:
        ``max |S(W(h + theta d) + b)_j - S(W h + b)_j|`` over points, directions, thetas and j
        (0.0 when there is no direction).
    """
    W, b = head_weights(head)
    h = np.atleast_2d(_array(points, "points"))
    d = _array(directions, "directions").reshape(W.shape[1], -1)
    if d.shape[1] == 0:
        return 0.0
    p0 = softmax64(h @ W.T + b)  # (n, m)
    worst = 0.0
    for theta in thetas:
        moved = h[:, None, :] + float(theta) * d.T[None, :, :]  # (n, k, l)
        p = softmax64(moved @ W.T + b)  # (n, k, m)
        worst = max(worst, float(np.abs(p - p0[:, None, :]).max()))
    return worst


def invariance_bound(head: Head, subspace: AdversarialSubspace, theta_max: float) -> float:
    """A bound on the probability change over every unit ``d`` in V and ``|theta| <= theta_max``.

    Along ``h + theta d`` the logits move by ``theta W d``; only its part outside span(1),
    ``theta C W d``, moves probabilities, and each probability changes by at most a quarter of the
    spread (max - min) of that perturbation. The spread is at most ``2 ||C W d||_2``, so the change
    is at most ``theta_max / 2 * ||C W B||_2`` with B the basis: rounding is all that is left.
    """
    W, _ = head_weights(head)
    if subspace.dim == 0:
        return 0.0
    residual = (W - W.mean(axis=0, keepdims=True)) @ subspace.basis
    return float(theta_max / 2 * np.linalg.norm(residual, ord=2))


def random_unit_directions(basis: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``(l, count)`` random unit vectors of the span of ``basis`` (Gaussian combinations)."""
    if basis.shape[1] == 0:
        return np.zeros((basis.shape[0], 0))
    d = basis @ rng.standard_normal((basis.shape[1], count))
    return d / np.linalg.norm(d, axis=0, keepdims=True)
