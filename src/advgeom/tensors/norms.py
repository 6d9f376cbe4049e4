"""Per-example norms, their duals, and the l_p radius matching a pixel-wise size.

Norms are strings everywhere: ``"l1"``, ``"l2"``, ``"linf"``. Simon-Gabriel et al. (2019), eq. 3:
for perturbations of a given pixel-wise size an l_p threshold scales as
``eps_p = eps_inf * d^(1/p)`` with the input dimension d.
"""

from __future__ import annotations

import torch
from torch import Tensor

from advgeom.errors import InputError, check_choice, check_positive

NORMS = ("l1", "l2", "linf")
# The norms the attacks optimise in (l1 balls need their own projections; none is built).
ATTACK_NORMS = ("linf", "l2")
_DUAL = {"l1": "linf", "l2": "l2", "linf": "l1"}
_P = {"l1": 1.0, "l2": 2.0, "linf": float("inf")}

# Norms below this are treated as zero when normalising (avoids 0/0 without biasing ordinary
# vectors, unlike torchattacks' additive 1e-10).
TINY = 1e-20


def batch_view(v: Tensor, like: Tensor) -> Tensor:
    """A (batch,) tensor viewed as (batch, 1, ..., 1) to broadcast against ``like``."""
    return v.view(-1, *([1] * (like.dim() - 1)))


def lp_norm(v: Tensor, norm: str) -> Tensor:
    """Per-example norm over all non-batch dimensions.

    Args:
        v: (batch, ...) tensor; a (batch,) tensor is read as one coordinate per example.
        norm: "l1", "l2" or "linf".

    Returns:
        (batch,) tensor of norms.
    """
    if v.dim() < 1:
        raise InputError(f"v must have a batch dimension (got shape {tuple(v.shape)})")
    flat = v.reshape(v.shape[0], -1)
    if norm == "l2":
        return torch.linalg.vector_norm(flat, ord=2, dim=1)
    if norm == "l1":
        return flat.abs().sum(dim=1)
    if norm == "linf":
        return flat.abs().amax(dim=1)
    raise InputError(f"norm must be one of 'l1', 'l2', 'linf' (got {norm!r})")


def unit(v: Tensor, norm: str) -> Tensor:
    """Each row of v divided by its ``norm`` (rows of norm 0 stay 0)."""
    return v / batch_view(lp_norm(v, norm).clamp_min(TINY), v)


def dual_norm(norm: str) -> str:
    """The dual norm: l1 <-> linf, l2 <-> l2 (an eps-sized l_p attack raises the loss by
    eps * ||grad||_q to first order, with 1/p + 1/q = 1)."""
    check_choice("norm", norm, NORMS)
    return _DUAL[norm]


def scaled_eps(eps_inf: float, *, d: int, norm: str) -> float:
    """``eps_p = eps_inf * d^(1/p)``: the l_p radius matching a per-coordinate size eps_inf.

    Args:
        eps_inf: per-coordinate (l_inf) size, >= 0.
        d: input dimension, >= 1.
        norm: "l1" (eps * d), "l2" (eps * sqrt(d)) or "linf" (eps).
    """
    check_positive("eps_inf", eps_inf, allow_zero=True)
    check_choice("norm", norm, NORMS)
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise InputError(f"d must be an integer >= 1 (got {d!r})")
    return float(eps_inf) * d ** (1.0 / _P[norm])
