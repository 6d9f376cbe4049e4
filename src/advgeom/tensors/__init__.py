"""Tensor helpers every layer shares: per-example norms, eval mode, checks of user arguments.

- :func:`lp_norm`, :func:`unit`, :func:`dual_norm`, :func:`scaled_eps`, :data:`NORMS`,
  :data:`ATTACK_NORMS`, :func:`batch_view`: norms are strings ("l1", "l2", "linf") and are taken
  per example over all non-batch dimensions.
- :func:`eval_mode`: run a model in eval mode and give every submodule its own mode back.
- :mod:`advgeom.tensors.arguments`: the checks of x, y, eps, bounds, steps, ... that raise one
  :class:`~advgeom.errors.InputError` naming the argument.
"""

from advgeom.tensors.modes import Model, eval_mode
from advgeom.tensors.norms import (
    ATTACK_NORMS,
    NORMS,
    TINY,
    batch_view,
    dual_norm,
    lp_norm,
    scaled_eps,
    unit,
)

__all__ = [
    "ATTACK_NORMS",
    "NORMS",
    "TINY",
    "Model",
    "batch_view",
    "dual_norm",
    "eval_mode",
    "lp_norm",
    "scaled_eps",
    "unit",
]
