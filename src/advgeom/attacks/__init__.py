"""Adversarial attacks on any PyTorch model: functions with keyword-only options.

- :func:`fgsm`, :func:`fgm`: one gradient step (l_inf sign / l2 normalised).
- :func:`pgd`: projected gradient descent (l_inf, l2) with uniform random start, restarts,
  targeted mode, per-example early stop with batch compaction, optional CUDA graph and reduced
  precision.
- :func:`manifold_pgd`: Gilmer et al.'s attack on the sphere ||x_hat|| = ||x||.
- :func:`minimal_distance`, :func:`robustness_curve`: smallest adversarial eps per example and
  the K x N success matrix for a list of eps from one run.
- :func:`deepfool`: DeepFool (l2, l_inf), batched over examples and candidate classes, with a
  search back along the found segment; :func:`fmn`: the fast minimum-norm attack (l2, l_inf).
  Both return the smallest perturbation found per example (distance inf where none).
- :func:`apgd`: Auto-PGD (Croce & Hein), APGD-CE / APGD-DLR, untargeted or targeted, the
  step-size-free attack of AutoAttack; :func:`fab`: FAB and FAB-T (minimal-norm, l_inf / l2);
  :func:`square`: the Square attack (score-based, no gradients).
- :func:`evaluate`, :func:`evaluate_radii`: the AutoAttack-style ensemble (APGD-CE, APGD-T,
  FAB-T, Square), per example robust or broken and by which attack.
- :mod:`advgeom.attacks.checks`: sanity checks behind a robustness number (probability outputs,
  randomness, zero gradients, PGD at the box's diameter, noise beating the gradient attacks).
- :mod:`advgeom.attacks.balls`: each norm's ball (random start, step direction, projection).

The device comes from ``x``; the model runs in eval mode and gets its modes back. Randomness comes
only from an explicit ``torch.Generator``. Losses and the notion of success are in
:mod:`advgeom.attacks.losses`.
"""

from advgeom.attacks import checks
from advgeom.attacks._graph import clear_cache as clear_graph_cache
from advgeom.attacks.apgd import apgd
from advgeom.attacks.deepfool import deepfool
from advgeom.attacks.evaluate import PROTOCOLS, Evaluation, evaluate, evaluate_radii
from advgeom.attacks.fab import fab
from advgeom.attacks.fgsm import fgm, fgsm
from advgeom.attacks.fmn import fmn
from advgeom.attacks.losses import (
    binary_cross_entropy,
    cross_entropy,
    default_is_adversarial,
    dlr,
    margin,
    mse,
    predictions,
    targeted_dlr,
)
from advgeom.attacks.manifold import ManifoldResult, manifold_pgd
from advgeom.attacks.minimal import (
    MinimalResult,
    RobustnessCurve,
    minimal_distance,
    robustness_curve,
)
from advgeom.attacks.pgd import pgd
from advgeom.attacks.random import uniform_ball
from advgeom.attacks.result import AttackResult
from advgeom.attacks.square import square

__all__ = [
    "PROTOCOLS",
    "AttackResult",
    "Evaluation",
    "ManifoldResult",
    "MinimalResult",
    "RobustnessCurve",
    "apgd",
    "checks",
    "binary_cross_entropy",
    "clear_graph_cache",
    "cross_entropy",
    "deepfool",
    "default_is_adversarial",
    "dlr",
    "evaluate",
    "evaluate_radii",
    "fab",
    "fgm",
    "fgsm",
    "fmn",
    "manifold_pgd",
    "margin",
    "minimal_distance",
    "mse",
    "pgd",
    "predictions",
    "robustness_curve",
    "square",
    "targeted_dlr",
    "uniform_ball",
]
