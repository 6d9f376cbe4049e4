"""Sanity checks that say when a robustness number may be wrong (before a user reads it).

Gradient attacks under-report an adversary when the model masks its gradients, is randomized,
returns probabilities to a logit loss, or when the attack is simply too weak (Carlini et al. 2019,
"On evaluating adversarial robustness"; the checks of AutoAttack, Croce & Hein 2020). Each check
is a few batched forward/backward passes over x and returns one :class:`CheckResult`; ``tripped``
means "the number may be wrong". Thresholds (module constants) follow AutoAttack where it has one:
any zero gradient and any example broken by noise but not by the gradient attacks trip; a
probability row must sum to 1 within 1e-4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from advgeom.attacks._shared import classifier_problem
from advgeom.attacks.losses import check_output, class_logits, cross_entropy
from advgeom.attacks.pgd import pgd
from advgeom.attacks.random import uniform_ball
from advgeom.errors import InputError
from advgeom.tensors import Model, eval_mode
from advgeom.tensors import arguments as v

PROBABILITY_TOL = 1e-4  # max |row sum - 1| (or |logsumexp|) of a probability output
RANDOM_RTOL = 1e-6  # max |f(x) - f(x)| over two passes, relative to max |f(x)|
ZERO_GRADIENT_SHARE = 0.0  # AutoAttack warns at the first example with an all-zero gradient
UNBROKEN_SHARE = 0.01  # examples an unbounded attack may leave unbroken
NOISE_SHARE = 0.0  # examples broken by noise but not by gradients (any is evidence)
STEP_FACTOR = 2.5  # PGD step = 2.5 eps / steps (Madry et al.): the box is crossed in time
CHUNK_ROWS = 8192  # rows per forward pass of the noise check, so memory stays bounded


@dataclass(frozen=True)
class CheckResult:
    """One finding of the audit report.

    Attributes:
        name: the check, e.g. ``"probability_outputs"``.
        tripped: True when the number the user is about to read may be wrong.
        value: what was measured (a share, a difference, a max deviation); NaN when nothing was.
        threshold: the declared threshold ``value`` was compared with.
        message: one sentence: what was measured, and what to do when tripped.
    """

    name: str
    tripped: bool
    value: float
    threshold: float
    message: str

    def to_dict(self) -> dict:
        """Plain JSON types; a non-finite value or threshold becomes None (strict JSON has none)."""

        def num(a: float) -> float | None:
            return float(a) if math.isfinite(a) else None

        return {
            "name": self.name,
            "tripped": bool(self.tripped),
            "value": num(self.value),
            "threshold": num(self.threshold),
            "message": self.message,
        }


@torch.no_grad()
def probability_outputs(model: Model, x: Tensor) -> CheckResult:
    """Whether the model returns probabilities or log-probabilities instead of logits.

    Tripped when every output of a (batch, C) model lies in [0, 1] with rows summing to 1, or is
    <= 0 with rows of logsumexp 0 (both within ``PROBABILITY_TOL``): margin and DLR losses then
    saturate and the attacks under-report. The value is the smaller of the two deviations (from
    normalised rows or from the range), so ``tripped == value <= PROBABILITY_TOL``. One-logit
    and non-classifier outputs cannot be told apart from logits; for them the check does not
    apply (not tripped, value NaN).

    Args:
        model: maps x (batch, *input_shape) to its output.
        x: (batch, *input_shape) inputs.
    """
    name = "probability_outputs"
    x = v.check_x(x)
    with eval_mode(model):
        out = model(x.clone())
    check_output(out, x.shape[0])
    if out.dim() != 2 or out.shape[1] < 2:
        return CheckResult(name, False, math.nan, PROBABILITY_TOL,
                           f"does not apply: model output has shape {tuple(out.shape)}, not "
                           "(batch, classes) logits")
    out = out.double()  # a sum over many classes must not itself drift by 1e-4
    # One deviation per reading, so that the value alone decides: how far the rows are from
    # normalised, or the entries from [0, 1] (probabilities) / (-inf, 0] (log-probabilities).
    below, above = float((-out).clamp_min(0).max()), float(out.clamp_min(0).max())
    dev_p = max(float((out.sum(1) - 1).abs().max()), below, float((out - 1).clamp_min(0).max()))
    dev_lp = max(float(out.logsumexp(1).abs().max()), above)
    probs, log_probs = dev_p <= PROBABILITY_TOL, dev_lp <= PROBABILITY_TOL
    if probs or log_probs:
        kind, dev = ("probabilities", dev_p) if probs else ("log-probabilities", dev_lp)
        return CheckResult(name, True, dev, PROBABILITY_TOL,
                           f"the outputs look like {kind} (rows normalised to within {dev:.1e}): "
                           "attack the logits (remove the final softmax/log-softmax)")
    return CheckResult(name, False, min(dev_p, dev_lp), PROBABILITY_TOL,
                       "the outputs are not normalised like probabilities or log-probabilities")


@torch.no_grad()
def randomized(model: Model, x: Tensor) -> CheckResult:
    """Whether two forward passes in eval mode differ (a randomized model needs EOT attacks).

    Tripped when ``max |f(x) - f(x)| > RANDOM_RTOL * max |f(x)|`` (dropout left on in eval,
    random input transforms, stochastic defences). Any output shape is compared as it is. The
    threshold in the result is the absolute one, ``RANDOM_RTOL * max |f(x)|``.

    Args:
        model: maps x (batch, *input_shape) to its output.
        x: (batch, *input_shape) inputs.
    """
    x = v.check_x(x)
    with eval_mode(model):
        first = model(x.clone())
        check_output(first, x.shape[0])
        second = model(x.clone())
    scale = float(first.abs().max()) if first.numel() else 0.0
    diff = float((first.double() - second.double()).abs().max()) if first.numel() else 0.0
    threshold = RANDOM_RTOL * scale
    tripped = not diff <= threshold  # NaN differences trip too
    msg = (f"two eval-mode passes differ by up to {diff:.3g} (scale {scale:.3g}): the model is "
           "randomized, so attack it with expectation over transformation (EOT) or make it "
           "deterministic" if tripped else
           f"two eval-mode passes agree to within {diff:.3g} (scale {scale:.3g})")
    return CheckResult("randomized", tripped, diff, threshold, msg)


def _setup(model: Model, x: Tensor, y: Tensor, check: str) -> tuple[Tensor, Tensor]:
    """Validated x, y; the model must give class logits and y its class labels."""
    x = v.check_x(x)
    y = v.check_y(y, x)
    with eval_mode(model):
        classifier_problem(model, x, y, loss=cross_entropy, targeted=False, attack=check)
    return x, y


def zero_gradients(model: Model, x: Tensor, y: Tensor) -> CheckResult:
    """Share of examples whose cross-entropy input gradient is exactly zero (or not finite).

    Gradient attacks cannot move such an example (gradient masking: quantisation, a saturated
    softmax, dead units). Tripped when that share exceeds ``ZERO_GRADIENT_SHARE`` (0: any
    example, as in AutoAttack). One batched backward in eval mode, wrt x only.

    Args:
        model: maps x (batch, *input_shape) to class logits (batch, C) or one logit.
        x: (batch, *input_shape) inputs; y: (batch,) their labels.
    """
    name = "zero_gradients"
    x, y = _setup(model, x, y, name)
    xg = x.clone().requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        loss = F.cross_entropy(class_logits(model(xg)), y.long(), reduction="sum")
        (grad,) = torch.autograd.grad(loss, xg)
    flat = grad.flatten(1)
    bad = ~torch.isfinite(flat).all(1)
    zero = (flat == 0).all(1)
    share = float((bad | zero).double().mean())
    if bool(bad.any()):
        msg = (f"{int(bad.sum())} of {len(x)} examples have NaN or inf input gradients: make "
               "the model differentiable and finite there before trusting gradient attacks")
        return CheckResult(name, True, share, ZERO_GRADIENT_SHARE, msg)
    tripped = share > ZERO_GRADIENT_SHARE
    msg = (f"{int(zero.sum())} of {len(x)} examples have an all-zero input gradient: gradient "
           "attacks cannot move them, so use a gradient-free or adaptive attack (e.g. BPDA, "
           "Square)" if tripped else
           f"no example of {len(x)} has an all-zero input gradient")
    return CheckResult(name, tripped, share, ZERO_GRADIENT_SHARE, msg)


def box_diameter_attack(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    norm: str,
    bounds: tuple[float, float] | None,
    steps: int = 50,
    generator: torch.Generator | None = None,
) -> CheckResult:
    """Share of examples untargeted PGD leaves unbroken when eps is the box's diameter.

    Every input of the box is then reachable, so a working gradient attack breaks (nearly) every
    example; tripped when the unbroken share exceeds ``UNBROKEN_SHARE`` (the attack fails for
    reasons other than robustness, or the model predicts one class on the whole box). PGD starts
    at x, without a random start: a random point of the box is itself likely misclassified and
    would hide a gradient that does not work.

    Args:
        model: maps x (batch, *input_shape) to class logits (batch, C) or one logit.
        x: (batch, *input_shape) inputs in ``bounds``; y: (batch,) their labels.
        norm: "linf" (eps = hi - lo) or "l2" (eps = (hi - lo) * sqrt(d)).
        bounds: (lo, hi), required.
        steps: PGD steps, each of length 2.5 eps / steps.
        generator: accepted for a uniform signature; the deterministic start does not use it.
    """
    name = "box_diameter_attack"
    if bounds is None:
        raise InputError("box_diameter_attack needs bounds: pass bounds=(lo, hi) of the inputs")
    x, y = _setup(model, x, y, name)
    v.check_norm(norm)
    v.check_steps(steps)
    lo, hi = v.check_bounds(bounds, x)
    eps = (hi - lo) * (math.sqrt(x[0].numel()) if norm == "l2" else 1.0)
    result = pgd(model, x, y, eps=eps, norm=norm, steps=steps,
                 step_size=STEP_FACTOR * eps / steps, bounds=(lo, hi), early_stop=True,
                 generator=generator)
    unbroken = int((~result.success).sum())
    share = unbroken / len(x)
    tripped = share > UNBROKEN_SHARE
    msg = (f"PGD with eps = the box's {norm} diameter ({eps:.3g}) left {unbroken} of {len(x)} "
           "examples unbroken although any input is reachable: the gradient attack is failing "
           "(masked gradients?), so do not trust its robust accuracy" if tripped else
           f"PGD with eps = the box's {norm} diameter ({eps:.3g}) broke {len(x) - unbroken} of "
           f"{len(x)} examples")
    return CheckResult(name, tripped, share, UNBROKEN_SHARE, msg)


def _mask(mask: Tensor | None, x: Tensor, field: str, *, required: bool) -> Tensor | None:
    if mask is None and not required:
        return None
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != (x.shape[0],):
        got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise InputError(f"{field} must be a bool tensor of shape ({x.shape[0]},) (got {got})")
    return mask.to(x.device)


@torch.no_grad()
def _noise_success(model: Model, x: Tensor, y: Tensor, eps: float | Tensor, norm: str,
                   bounds: tuple[float, float] | None, draws: int,
                   generator: torch.Generator | None) -> Tensor:
    """(batch,) bool: some of ``draws`` uniform points of the eps-ball is misclassified."""
    batch = x.shape[0]
    per = max(1, CHUNK_ROWS // batch)
    broken = torch.zeros(batch, dtype=torch.bool, device=x.device)
    done = 0
    while done < draws:
        k = min(per, draws - done)
        xs = x.repeat(k, *([1] * (x.dim() - 1)))  # row j * batch + i is example i
        e = eps.repeat(k) if isinstance(eps, Tensor) else eps
        xs = xs + uniform_ball(xs, eps=e, norm=norm, generator=generator)
        if bounds is not None:
            xs = xs.clamp(*bounds)
        pred = class_logits(model(xs)).argmax(1).view(k, batch)
        broken |= (pred != y.view(1, batch)).any(0)
        done += k
    return broken


def noise_beats_gradients(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: float | Tensor,
    norm: str,
    gradient_success: Tensor,
    bounds: tuple[float, float] | None = None,
    draws: int = 100,
    generator: torch.Generator | None = None,
    extra_success: Tensor | None = None,
) -> CheckResult:
    """Share of examples that random noise (or ``extra_success``) breaks and gradients did not.

    A gradient attack should beat ``draws`` uniform points of the eps-ball; an example broken by
    noise, or by a score-based attack, but not by the gradient attacks is evidence of masking.
    Tripped when the share exceeds ``NOISE_SHARE`` (0: any such example).

    Args:
        model: maps x (batch, *input_shape) to class logits (batch, C) or one logit.
        x: (batch, *input_shape) inputs; y: (batch,) their labels.
        eps: ball radius, a number or a (batch,) tensor; norm: "linf" or "l2".
        gradient_success: (batch,) bool, the examples the gradient attacks broke at eps.
        bounds: (lo, hi) the noisy points are clipped to, or None.
        draws: uniform points per example, >= 1.
        generator: source of the noise.
        extra_success: (batch,) bool, e.g. a Square attack's success mask, or None.
    """
    x, y = _setup(model, x, y, "noise_beats_gradients")
    v.check_norm(norm)
    eps = v.check_eps(eps, x)
    bounds = v.check_bounds(bounds, x)
    v.check_steps(draws, "draws")
    gradient_success = _mask(gradient_success, x, "gradient_success", required=True)
    extra_success = _mask(extra_success, x, "extra_success", required=False)
    with eval_mode(model):
        broken = _noise_success(model, x, y, eps, norm, bounds, draws, generator)
    if extra_success is not None:
        broken |= extra_success
    count = int((broken & ~gradient_success).sum())
    share = count / len(x)
    tripped = share > NOISE_SHARE
    others = "noise or the extra attack" if extra_success is not None else "random noise"
    msg = (f"{others} broke {count} of {len(x)} examples that the gradient attacks did not: "
           "their gradients are likely masked, so run stronger or adaptive attacks before "
           "trusting the robust accuracy" if tripped else
           f"{others} broke no example that the gradient attacks missed ({draws} draws each)")
    return CheckResult("noise_beats_gradients", tripped, share, NOISE_SHARE, msg)


def run_checks(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: float | Tensor,
    norm: str,
    bounds: tuple[float, float] | None = None,
    gradient_success: Tensor | None = None,
    extra_success: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> list[CheckResult]:
    """Every check that applies, in a fixed order: probability_outputs, randomized,
    zero_gradients, box_diameter_attack (with ``bounds``), noise_beats_gradients (with
    ``gradient_success``). Arguments as in the checks; all are validated first.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_norm(norm)
    eps = v.check_eps(eps, x)
    bounds = v.check_bounds(bounds, x)
    if extra_success is not None and gradient_success is None:
        raise InputError("extra_success needs gradient_success: pass the gradient attacks' mask")
    _mask(gradient_success, x, "gradient_success", required=False)  # fail before the slow checks
    _mask(extra_success, x, "extra_success", required=False)
    results = [probability_outputs(model, x), randomized(model, x), zero_gradients(model, x, y)]
    if bounds is not None:
        results.append(box_diameter_attack(model, x, y, norm=norm, bounds=bounds,
                                           generator=generator))
    if gradient_success is not None:
        results.append(noise_beats_gradients(
            model, x, y, eps=eps, norm=norm, gradient_success=gradient_success, bounds=bounds,
            generator=generator, extra_success=extra_success))
    return results
