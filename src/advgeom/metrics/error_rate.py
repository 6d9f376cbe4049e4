"""mu(E): the share of a sphere a model misclassifies, by Monte Carlo (Gilmer et al.).

Points are drawn uniformly on the sphere and classified in fixed-size chunks, so memory stays flat
however many samples are asked for. When no error is seen in M samples the estimate is not 0 but
the 95% upper confidence bound 3/M (the "rule of three": (1 - p)^M = 0.05 gives p ~ 3/M), flagged
as a bound.

Speed: with ``precision="bf16"`` or ``"tf32"`` every chunk is classified in reduced precision
first, and only the samples whose decision margin is within the reduced precision's error are
classified again in fp32. The error is measured, not assumed: the first chunk is classified both
ways and the tolerance is ``SAFETY`` times the largest logit difference seen there, so the
decisions are those fp32 makes (the count of re-checked samples is returned). An ensemble's
members are all measured on the same points, so sampling is paid once.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from advgeom.attacks.losses import predictions
from advgeom.data.spheres import sample_sphere
from advgeom.devices import PRECISIONS, precision_mode
from advgeom.errors import check_choice, check_int, check_positive
from advgeom.models.ensemble import Ensemble

RULE_OF_THREE = 3.0  # -ln(0.05) ~ 3: the 95% upper bound on a rate after 0 events in M trials
SAFETY = 4.0  # tolerance = SAFETY x the largest reduced-precision logit error seen in calibration


def sphere_error_rate(
    model: nn.Module,
    n: int,
    *,
    radius: float = 1.0,
    label: int = 0,
    samples: int,
    chunk: int = 100_000,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    precision: str = "fp32",
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
        precision: "fp32", or "bf16"/"tf32" for a reduced-precision first pass with fp32 re-checks.

    Returns:
        ``{"errors": k, "samples": M, "mu": k / M or 3 / M, "bound": k == 0, "rechecked": r}``:
        ``mu`` is the estimate, or the 95% upper bound when ``bound`` is True; ``r`` samples were
        classified again in fp32.
    """
    return _rates(lambda x: model(x).unsqueeze(0), model, n, radius=radius, label=label,
                  samples=samples, chunk=chunk, generator=generator, device=device,
                  precision=precision)[0]


def sphere_error_rates(
    ensemble: Ensemble,
    n: int,
    *,
    radius: float = 1.0,
    label: int = 0,
    samples: int,
    chunk: int = 100_000,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    precision: str = "fp32",
) -> list[dict]:
    """:func:`sphere_error_rate` of every member of ``ensemble``, all on the same points.

    Returns:
        One result per member, in member order.
    """
    return _rates(ensemble.forward_shared, ensemble, n, radius=radius, label=label,
                  samples=samples, chunk=chunk, generator=generator, device=device,
                  precision=precision)


def describe_rate(result: dict) -> str:
    """``mu = 0.0012 (12 in 10000)`` or ``mu < 3e-06 (0 in 1000000, 95% bound)``."""
    if result["bound"]:
        return f"mu < {result['mu']:.1g} (0 in {result['samples']}, 95% bound)"
    return f"mu = {result['mu']:.2g} ({result['errors']} in {result['samples']})"


Outputs = Callable[[Tensor], Tensor]  # x (batch, n) -> (members, batch, outputs)


def _rates(outputs: Outputs, module: nn.Module, n: int, *, radius, label, samples, chunk,
           generator, device, precision) -> list[dict]:
    n = check_int("n", n, minimum=1)
    samples = check_int("samples", samples, minimum=1)
    chunk = check_int("chunk", chunk, minimum=1)
    check_positive("radius", radius)
    check_choice("precision", precision, PRECISIONS)
    decide = _Decisions(outputs, label, precision)
    errors = None
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for start in range(0, samples, chunk):
                # float32 draws: a few ulps off the radius changes no decision, and float64
                # Gaussians cost 3x more, often more than classifying them.
                x = sample_sphere(min(chunk, samples - start), n, radius=radius,
                                  generator=generator, draw_float64=False)
                wrong = decide(x.to(device) if device is not None else x).sum(dim=1)
                errors = wrong if errors is None else errors + wrong
    finally:
        module.train(was_training)
    return [{"errors": int(k), "samples": samples,
             "mu": int(k) / samples if k else RULE_OF_THREE / samples, "bound": int(k) == 0,
             "rechecked": decide.rechecked} for k in errors.tolist()]


class _Decisions:
    """Errors (members, batch) of each chunk, in fp32 or by a checked reduced-precision pass."""

    def __init__(self, outputs: Outputs, label: int, precision: str) -> None:
        self.outputs, self.label, self.precision = outputs, label, precision
        self.tolerance: float | None = None
        self.rechecked = 0

    def wrong(self, out: Tensor) -> Tensor:
        members, batch = out.shape[:2]
        return predictions(out.reshape(members * batch, -1)).reshape(members, batch) != self.label

    def __call__(self, x: Tensor) -> Tensor:
        if self.precision == "fp32":
            return self.wrong(self.outputs(x))
        with precision_mode(self.precision, x.device):
            fast = self.outputs(x).float()
        if self.tolerance is None:  # calibrate: how far do reduced-precision logits stray here?
            exact = self.outputs(x)
            self.tolerance = SAFETY * float((fast - exact).abs().max())
            self.rechecked += x.shape[0]
            return self.wrong(exact)
        wrong = self.wrong(fast)
        unsure = (_margin(fast) <= self.tolerance).any(dim=0).nonzero().squeeze(1)
        if unsure.numel():
            wrong[:, unsure] = self.wrong(self.outputs(x[unsure]))
            self.rechecked += unsure.numel()
        return wrong


def _margin(out: Tensor) -> Tensor:
    """How far each decision is from flipping, in logit units: |z| for one logit, else the gap
    between the two largest logits (halved: each of the two may move by the error)."""
    if out.shape[-1] == 1:
        return out[..., 0].abs()
    top = out.topk(2, dim=-1).values
    return (top[..., 0] - top[..., 1]) / 2
