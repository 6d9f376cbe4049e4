"""d(E) as ``spheres.dimension`` and ``spheres.bound`` measure it: the manifold attack from fixed
sphere points, with the paper's step and (beside it) our tangent step.

d(E) is the mean distance to the first error found over the points where one was found, so it is
always reported with ``found``, the share of such points: a mean over a few points is not the
paper's d(E) (the claims compare a d(E) only when ``found`` reaches their ``min_found``).
"""

from __future__ import annotations

import torch
from torch import nn

from advgeom.attacks.manifold import manifold_pgd

STEPS = {"": False, "_tangent": True}  # key suffix in the saved snapshots -> manifold_pgd tangent=


def first_error_distances(model: nn.Module, x: torch.Tensor, *, steps: int, step_size: float,
                          tangent: bool, mode: str = "first_error",
                          label: int = 0) -> torch.Tensor:
    """d(x, E) as the manifold attack estimates it, one value per starting point.

    Args:
        model: the classifier (an ensemble's ``as_single_model()`` for several members).
        x: (P, n) starting points, all on one sphere whose class is ``label`` (0: the inner one).
        tangent: False: the paper's step; True: the tangent step (see ``attacks.manifold``).
        mode: "first_error" (stops each row at its first error) or "worst_case" (all steps, the
            batch kept whole; the first error is still recorded).

    Returns:
        (P,) float32 on the CPU: the l2 distance from each point to the first error found (0 for
        a point that is itself an error), ``inf`` where none was found.
    """
    y = torch.full((x.shape[0],), label, dtype=torch.long, device=x.device)
    res = manifold_pgd(model, x, y, steps=steps, step_size=step_size, mode=mode, tangent=tangent)
    return res.first_error_distance.detach().float().cpu()


def d_E_and_found(model: nn.Module, x: torch.Tensor, *, steps: int, step_size: float,
                  tangent: bool, mode: str = "first_error",
                  groups: int = 1) -> list[tuple[float | None, float]]:
    """Per group of rows: (d(E) over the rows where an error was found or None, found share).

    Args:
        model, steps, step_size, tangent, mode: as in :func:`first_error_distances`.
        x: (groups * P, n) starting points on the inner sphere (label 0); group i owns rows
            [i P, (i + 1) P).
    """
    dist = first_error_distances(model, x, steps=steps, step_size=step_size, tangent=tangent,
                                 mode=mode).reshape(groups, -1)
    found = torch.isfinite(dist)
    return [(float(d[f].mean()) if f.any() else None, float(f.float().mean()))
            for d, f in zip(dist, found, strict=True)]
