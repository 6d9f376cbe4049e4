"""Checks of user-supplied arguments (x, y, eps, bounds, steps, ...).

Each failure is one :class:`~advgeom.errors.InputError` naming the argument and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from advgeom.devices import PRECISIONS
from advgeom.errors import InputError, check_choice, check_positive
from advgeom.tensors.norms import ATTACK_NORMS

Scalar = float | Tensor
Bounds = tuple[float, float] | None


def check_x(x: Tensor) -> Tensor:
    """x must be a floating tensor with a batch dimension and no NaN; returned detached."""
    if not isinstance(x, Tensor):
        raise InputError(f"x must be a torch.Tensor (got {type(x).__name__})")
    if x.dim() < 2 or x.shape[0] == 0:
        raise InputError(
            f"x must have shape (batch, *input_shape) with batch >= 1 (got {tuple(x.shape)})"
        )
    if not x.is_floating_point():
        raise InputError(
            f"x must be a floating-point tensor (got {x.dtype}): convert it with x.float()"
        )
    if torch.isnan(x).any():
        raise InputError("x contains NaN: remove or replace the NaN inputs before attacking")
    return x.detach()


def check_y(y: Tensor, x: Tensor) -> Tensor:
    """y must be a tensor whose first dimension is the batch; returned on x's device."""
    if not isinstance(y, Tensor):
        raise InputError(f"y must be a torch.Tensor (got {type(y).__name__})")
    if y.dim() == 0 or y.shape[0] != x.shape[0]:
        raise InputError(f"y must have batch size {x.shape[0]} like x (got shape {tuple(y.shape)})")
    return y.to(x.device)


def check_norm(norm: str, choices: Sequence[str] = ATTACK_NORMS) -> None:
    check_choice("norm", norm, tuple(choices))


def check_steps(steps: int, name: str = "steps") -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError(f"{name} must be an integer >= 1 (got {steps!r})")


def check_eps(eps: Scalar, x: Tensor, name: str = "eps", *, allow_zero: bool = True) -> Scalar:
    """eps: a number >= 0 or a (batch,) tensor >= 0; returns a float or a tensor on x's device."""
    if isinstance(eps, Tensor):
        if eps.dim() == 0:
            return check_eps(float(eps), x, name, allow_zero=allow_zero)
        if eps.shape != (x.shape[0],):
            raise InputError(
                f"{name} must be a number or a tensor of shape ({x.shape[0]},) "
                f"(got {tuple(eps.shape)})"
            )
        if (
            not torch.isfinite(eps).all()
            or (eps < 0).any()
            or (not allow_zero and (eps == 0).any())
        ):
            bound = ">= 0" if allow_zero else "> 0"
            raise InputError(
                f"every {name} must be finite and {bound}: fix the negative or NaN entries"
            )
        return eps.to(device=x.device, dtype=x.dtype)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise InputError(f"{name} must be a number (got {eps!r})")
    check_positive(name, float(eps), allow_zero=allow_zero)
    return float(eps)


def check_bounds(bounds: Bounds, x: Tensor) -> Bounds:
    """bounds: None (no clipping) or (lo, hi) with lo < hi, and x inside them."""
    if bounds is None:
        return None
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise InputError(f"bounds must be None or a pair (lo, hi) (got {bounds!r})")
    lo, hi = (float(b) for b in bounds)
    if math.isnan(lo) or math.isnan(hi) or lo >= hi:
        raise InputError(f"bounds must be (lo, hi) with lo < hi (got {bounds!r})")
    x_min, x_max = float(x.min()), float(x.max())
    if x_min < lo or x_max > hi:
        raise InputError(
            f"x has values in [{x_min:g}, {x_max:g}], outside bounds ({lo:g}, {hi:g}): "
            "clip x into bounds or widen bounds"
        )
    return lo, hi


def check_restarts(restarts: int, random_start: bool) -> None:
    check_steps(restarts, "restarts")
    if restarts > 1 and not random_start:
        raise InputError("restarts > 1 repeats the same deterministic run: set random_start=True")


def check_precision(precision: str) -> None:
    check_choice("precision", precision, PRECISIONS)


def check_compact_every(compact_every: int | None) -> None:
    if compact_every is not None:
        check_steps(compact_every, "compact_every")
