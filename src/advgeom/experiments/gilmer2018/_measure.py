"""Measurements shared by the spheres experiments: a model's error rate mu(E) on one sphere.

mu(E) is estimated by Monte Carlo over uniform points of the sphere, drawn and classified in
fixed-size chunks so memory stays flat however many samples are asked for. When no error is seen
in M samples the estimate is not 0 but the 95% upper confidence bound 3/M (the "rule of three":
(1 - p)^M = 0.05 gives p ~ 3/M), flagged as a bound.
"""

from __future__ import annotations

import torch
from torch import nn

from advgeom.attacks.losses import predictions
from advgeom.data.spheres import sample_sphere
from advgeom.errors import check_int, check_positive

RULE_OF_THREE = 3.0  # -ln(0.05) ~ 3: the 95% upper bound on a rate after 0 events in M trials


def error_rate(
    model: nn.Module,
    n: int,
    *,
    radius: float = 1.0,
    label: int = 0,
    samples: int,
    chunk: int = 100_000,
    generator: torch.Generator,
    device: torch.device | str | None = None,
) -> dict:
    """Monte Carlo estimate of the share of the sphere of ``radius`` that ``model`` misclassifies.

    Args:
        model: maps (batch, n) to one logit (batch, 1) (class 1 where the logit is > 0) or to class
            logits (batch, C); evaluated in eval mode without gradients, then restored.
        n: input dimension.
        radius: the sphere's radius (1: the inner sphere of Gilmer et al.).
        label: the true class of every point of that sphere (0 for the inner sphere).
        samples: points M to draw.
        chunk: points drawn and classified at a time.
        generator: the only source of randomness (points are drawn on its device).
        device: where the model runs (default: the generator's device).

    Returns:
        ``{"errors": k, "samples": M, "mu": k / M or 3 / M, "bound": k == 0}``: ``mu`` is the
        estimate, or the 95% upper bound when ``bound`` is True.
    """
    n = check_int("n", n, minimum=1)
    samples = check_int("samples", samples, minimum=1)
    chunk = check_int("chunk", chunk, minimum=1)
    check_positive("radius", radius)
    errors = 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, samples, chunk):
                size = min(chunk, samples - start)
                x = sample_sphere(size, n, radius=radius, generator=generator)
                pred = predictions(model(x.to(device) if device is not None else x))
                errors += int((pred != label).sum())
    finally:
        model.train(was_training)
    return {
        "errors": errors,
        "samples": samples,
        "mu": errors / samples if errors else RULE_OF_THREE / samples,
        "bound": errors == 0,
    }


def describe_rate(result: dict) -> str:
    """``mu = 0.0012 (12 in 10000)`` or ``mu < 3e-06 (0 in 1000000, 95% bound)``."""
    if result["bound"]:
        return f"mu < {result['mu']:.1g} (0 in {result['samples']}, 95% bound)"
    return f"mu = {result['mu']:.2g} ({result['errors']} in {result['samples']})"
