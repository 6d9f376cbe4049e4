"""The search of ``softmax.universality``: move x so that g(x) reaches ``T = g(x') + V``.

V is the head's adversarial subspace (Zou et al., Definition 1): on T the softmax output equals
that of x'. The distance from g(x*) to T is ``||(g(x*) - g(x')) Q||`` with Q an orthonormal basis
of V's complement, so the search is targeted PGD on the squared error between the projected
features ``g(x*) Q`` and ``g(x') Q``, judged a success as soon as the projected features give the
class of x'. Beside it, plain targeted PGD on the cross-entropy with the same budget.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from advgeom.attacks import pgd
from advgeom.experiments.zou2018 import _model
from advgeom.geometry import softmax as sm


def projection(head, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``Q`` (l, l - dim V), the orthonormal complement of V, and ``W Q``, ``b``.

    ``g Q`` is where g sits modulo V, and ``(g Q) (W Q)^T + b`` are the logits up to a common
    shift (``W`` maps V into span(1)), so their argmax is the head's class: the search can judge
    success from the projected features alone. Tensors take ``like``'s dtype and device.
    """
    V = sm.adversarial_subspace(head)
    W, b = (torch.as_tensor(a, dtype=like.dtype, device=like.device) for a in sm.head_weights(head))
    Q = torch.as_tensor(V.complement, dtype=like.dtype, device=like.device)
    return Q, W @ Q, b


def attack_pairs(
    model: nn.Sequential,
    x: Tensor,
    x_target: Tensor,
    y_target: Tensor,
    *,
    eps: float,
    steps: int,
    step_size: float,
) -> dict:
    """The feature-space search towards ``T = g(x') + V`` and targeted PGD, at one l_inf radius.

    Args:
        model: the classifier: ``model[-1]`` is the softmax head, ``_model.features`` gives g.
        x, x_target: (pairs, d) the starting points and the points x' whose class is wanted.
        y_target: (pairs,) the class of each x'.

    Returns:
        ``{"feature": r, "pgd": r}``, each r with per-pair lists: ``success`` (some iterate was
        classified y'), ``success_last`` (the last one is) and ``residual`` (distance of the
        last iterate's features to T over that of g(x)).
    """
    Q, headQ, b = projection(model[-1], x)

    def project(inp):
        return _model.features(model, inp) @ Q

    def same_class(out, target):
        return (out @ headQ.T).add(b).argmax(1) == (target @ headQ.T).add(b).argmax(1)

    with torch.no_grad():
        target, start = project(x_target), project(x)
    opts = dict(eps=eps, steps=steps, step_size=step_size, bounds=(0.0, 1.0), targeted=True)
    out = {}
    for name, res in (
        ("feature", pgd(project, x, target, loss="mse", is_adversarial=same_class, **opts)),
        ("pgd", pgd(model, x, y_target, **opts)),
    ):
        with torch.no_grad():
            last = model(res.x_adv).argmax(1) == y_target
            gap = (project(res.x_adv) - target).norm(dim=1) / (start - target).norm(dim=1)
        # Success: some iterate inside the ball was classified y' (the conjecture asks for
        # existence); the distance to T is the last iterate's, the one the search ends on.
        out[name] = {
            "success": (res.steps_to_success >= 0).cpu().tolist(),
            "success_last": last.cpu().tolist(),
            "residual": gap.cpu().tolist(),
        }
    return out
