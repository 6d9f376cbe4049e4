"""Training loops and objectives.

- :func:`train_classifier`: SGD with momentum on any classifier with any objective of
  :mod:`advgeom.train.methods` (plain, gradient penalties q = 1, 2, adversarial augmentation
  l_inf / l2, PGD training, cross-Lipschitz; Simon-Gabriel et al. 2019), per-epoch history.
- :mod:`advgeom.train.spheres`: Gilmer et al.'s sphere networks (Adam, online data).
"""

from advgeom.train.classifier import train_classifier
from advgeom.train.methods import (
    METHODS,
    Method,
    Objective,
    adversarial_augmentation_loss,
    cross_lipschitz,
    cross_lipschitz_loss,
    gradient_penalty,
    gradient_penalty_loss,
    gradient_step,
    objective,
    penalty_weight,
    pgd_training_loss,
    plain_loss,
)

__all__ = [
    "METHODS",
    "Method",
    "Objective",
    "adversarial_augmentation_loss",
    "cross_lipschitz",
    "cross_lipschitz_loss",
    "gradient_penalty",
    "gradient_penalty_loss",
    "gradient_step",
    "objective",
    "penalty_weight",
    "pgd_training_loss",
    "plain_loss",
    "train_classifier",
]
