"""d(E) as ``spheres.dimension`` and ``spheres.bound`` measure it: the manifold attack from fixed
inner-sphere points, with the paper's step and (beside it) our tangent step.

d(E) is the mean distance to the first error found over the points where one was found, so it is
always reported with ``found``, the share of such points: a mean over a few points is not the
paper's d(E) (the claims compare a d(E) only when ``found`` reaches their ``min_found``).
"""

from __future__ import annotations

import torch
from torch import nn

from advgeom.attacks.manifold import manifold_pgd

STEPS = {"": False, "_tangent": True}  # key suffix in the saved snapshots -> manifold_pgd tangent=


def d_E_and_found(model: nn.Module, x: torch.Tensor, *, steps: int, step_size: float,
                  tangent: bool, mode: str = "first_error",
                  groups: int = 1) -> list[tuple[float | None, float]]:
    """Per group of rows: (d(E) over the rows where an error was found or None, found share).

    Args:
        model: the classifier (an ensemble's ``as_single_model()`` for several members).
        x: (groups * P, n) starting points on the inner sphere (label 0); group i owns rows
            [i P, (i + 1) P).
        tangent: False: the paper's step; True: the tangent step (see ``attacks.manifold``).
        mode: "first_error" (stops each row at its first error) or "worst_case" (all steps, the
            batch kept whole; the first error is still recorded).
    """
    y = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    res = manifold_pgd(model, x, y, steps=steps, step_size=step_size, mode=mode, tangent=tangent)
    dist = res.first_error_distance.detach().cpu().reshape(groups, -1)
    found = torch.isfinite(dist)
    return [(float(d[f].mean()) if f.any() else None, float(f.float().mean()))
            for d, f in zip(dist, found, strict=True)]
