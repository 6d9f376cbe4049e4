"""Minimal distances from the minimal-norm attacks, and the best of several per example.

:func:`~advgeom.attacks.minimal.minimal_distance` with ``method="deepfool"``, ``"fmn"`` or
``"fab"`` runs that attack; ``method="best"`` runs DeepFool, FMN and the PGD path search and keeps,
per example, the smallest perturbation any of them found: each is an upper bound on the true
minimal distance, so their minimum is the tightest of the three, and which method found it says
where one attack is weak (DeepFool stalls on flat regions, PGD overshoots on curved ones).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from advgeom.attacks.deepfool import deepfool
from advgeom.attacks.fab import fab
from advgeom.attacks.fmn import fmn
from advgeom.attacks.result import MinimalResult
from advgeom.tensors import Model, batch_view

ATTACK_METHODS = ("deepfool", "fmn", "fab")
BEST_OF = ("deepfool", "fmn", "path")


def by_attack(
    method: str, model: Model, x: Tensor, y: Tensor, *, max_eps: float, norm: str, steps: int,
    bounds: tuple[float, float] | None,
) -> MinimalResult:
    """The minimal distance one minimal-norm attack finds, capped at ``max_eps`` (else inf)."""
    run: Callable = {"deepfool": deepfool, "fmn": fmn, "fab": fab}[method]
    r = run(model, x, y, norm=norm, steps=steps, bounds=bounds)
    success = r.success & (r.distance <= max_eps)
    inf = torch.full_like(r.distance, float("inf"))
    x_adv = torch.where(batch_view(success, x), r.x_adv, x)
    return MinimalResult(torch.where(success, r.distance, inf), x_adv, success)


def best_of(results: dict[str, MinimalResult]) -> MinimalResult:
    """Per example the smallest distance among ``results`` (name -> result), and whose it was.

    Ties go to the first name; clean errors (distance 0 everywhere) are named "clean".
    """
    names = list(results)
    dist = torch.stack([results[n].distance for n in names])  # (methods, batch)
    best = dist.argmin(dim=0)
    distance = dist.gather(0, best.unsqueeze(0)).squeeze(0)
    x_adv = torch.stack([results[n].x_adv for n in names])
    x_adv = x_adv[best, torch.arange(best.numel(), device=best.device)]
    success = torch.isfinite(distance)
    method = tuple(
        None if not ok else "clean" if d == 0 else names[b]
        for ok, d, b in zip(success.tolist(), distance.tolist(), best.tolist(), strict=True)
    )
    return MinimalResult(distance, x_adv, success, method)
