"""Norms used by the measurements: per-example l_p norms, dual norms, and eps_p = eps_inf d^(1/p).

Simon-Gabriel et al. (2019), eq. 3: for perturbations of a given pixel-wise size, an l_p threshold
should scale as ``eps_p = eps_inf * d^(1/p)`` with the input dimension d.
"""

from __future__ import annotations

from torch import Tensor

from advgeom.attacks._core import per_sample_norm
from advgeom.errors import InputError, check_choice, check_positive

NORMS = ("l1", "l2", "linf")
_DUAL = {"l1": "linf", "l2": "l2", "linf": "l1"}
_P = {"l1": 1.0, "l2": 2.0, "linf": float("inf")}


def lp_norm(v: Tensor, norm: str) -> Tensor:
    """Per-example norm over all non-batch dimensions.

    Args:
        v: (batch, ...) tensor.
        norm: "l1", "l2" or "linf".

    Returns:
        (batch,) tensor of norms.
    """
    check_choice("norm", norm, NORMS)
    if v.dim() < 1:
        raise InputError(f"v must have a batch dimension (got shape {tuple(v.shape)})")
    if v.dim() == 1:
        return v.abs()
    return per_sample_norm(v, norm)


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
