"""A standard robustness evaluation: AutoAttack's ensemble, attack after attack, per example.

Croce & Hein (ICML 2020) showed that single-attack evaluations (PGD with a hand-tuned step)
overestimate robustness, and proposed a fixed, parameter-free ensemble run on the examples still
robust after the previous attacks:

- ``"standard"``: APGD-CE (100 steps), targeted APGD-DLR on the 9 most likely wrong classes (100
  steps each), FAB-T on the same 9 targets (100 steps each), Square (5000 queries, p_init 0.8) —
  AutoAttack's ``version="standard"`` with one restart each;
- ``"fast"``: APGD-CE and targeted APGD-DLR on 3 targets only: the gradient half at about a tenth
  of the cost, for sweeps; a reported number should use ``"standard"``.

An example counts as robust only if every attack failed inside the eps-ball (and the box); it is
broken by the first attack that succeeded. FAB-T is a minimal-norm attack: it breaks an example
when the perturbation it found is within eps. Models with fewer classes than an attack needs run
its closest variant: targeted DLR needs 4 classes (below that targeted CE), and with 2 classes a
targeted attack is the untargeted one, so APGD-T is skipped and FAB runs untargeted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from advgeom import progress
from advgeom.attacks._shared import classifier_problem
from advgeom.attacks.apgd import apgd
from advgeom.attacks.checks import probability_outputs, randomized
from advgeom.attacks.fab import fab
from advgeom.attacks.losses import class_logits, cross_entropy
from advgeom.attacks.square import square
from advgeom.errors import InputError, check_choice
from advgeom.tensors import Model, eval_mode, lp_norm
from advgeom.tensors import arguments as v

CLEAN = "clean error"  # the name of "broken" for an example misclassified without any attack


@dataclass(frozen=True)
class Protocol:
    """Which attacks run, with what budget."""

    attacks: tuple[str, ...]
    steps: int = 100
    targets: int = 9
    queries: int = 5000


PROTOCOLS = {
    "standard": Protocol(("apgd-ce", "apgd-t", "fab-t", "square")),
    "fast": Protocol(("apgd-ce", "apgd-t"), targets=3),
}


@dataclass(frozen=True)
class Evaluation:
    """Per-example outcome of :func:`evaluate`.

    Attributes:
        eps, norm, protocol: what was evaluated.
        attacks: the attacks that ran, in order.
        robust: (batch,) bool, correctly classified and not broken by any attack.
        broken_by: (batch,) long: -1 robust, 0 misclassified clean, k >= 1 broken first by
            ``attacks[k - 1]``.
        x_adv: (batch, *input_shape) the adversarial input where broken (x for clean errors and
            robust examples).
        notes: per attack that ran a variant or was skipped, why; and warnings about the model
            (``probability_outputs``, ``randomized``: see :mod:`advgeom.attacks.checks`).
    """

    eps: float
    norm: str
    protocol: str
    attacks: tuple[str, ...]
    robust: Tensor
    broken_by: Tensor
    x_adv: Tensor
    notes: dict[str, str]

    @property
    def robust_accuracy(self) -> float:
        return self.robust.float().mean().item()

    @property
    def clean_accuracy(self) -> float:
        return (self.broken_by != 0).float().mean().item()

    def breaker(self, i: int) -> str | None:
        """The name of what broke example ``i`` (:data:`CLEAN`, an attack), None if robust."""
        k = int(self.broken_by[i])
        return None if k < 0 else CLEAN if k == 0 else self.attacks[k - 1]

    def counts(self) -> dict[str, int]:
        """How many examples each attack broke first (and how many were clean errors)."""
        codes = self.broken_by.tolist()
        names = (CLEAN, *self.attacks)
        return {name: codes.count(k) for k, name in enumerate(names)}

    def to_dict(self) -> dict:
        """Plain JSON summary (no tensors but the per-example breaker names)."""
        return {
            "eps": self.eps,
            "norm": self.norm,
            "protocol": self.protocol,
            "attacks": list(self.attacks),
            "robust_accuracy": self.robust_accuracy,
            "clean_accuracy": self.clean_accuracy,
            "broken_by": self.counts(),
            "breaker": [self.breaker(i) for i in range(len(self.broken_by))],
            "notes": dict(self.notes),
        }


def evaluate(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: float,
    norm: str = "linf",
    protocol: str = "standard",
    bounds: tuple[float, float] | None = None,
    seed: int = 0,
) -> Evaluation:
    """Robustness of each example at radius eps under an AutoAttack-style ensemble.

    Args:
        model: maps (batch, *input_shape) to C class logits (batch, C) or one logit.
        x: (batch, *input_shape) clean inputs; y: (batch,) true labels in [0, C).
        eps: radius > 0 in ``norm``, at most the box's diameter when ``bounds`` is given.
        norm: "linf" or "l2".
        protocol: "standard" or "fast" (see the module docstring).
        bounds: (lo, hi) box of valid inputs (images: (0, 1)), or None for no clipping.
        seed: the seed of every random start and of Square's search.

    Returns:
        Evaluation: per example robust or not, and which attack broke it.

    Raises:
        InputError: a bad argument, eps larger than the box, labels outside [0, C), an output
            that is not class logits.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_norm(norm)
    check_choice("protocol", protocol, tuple(PROTOCOLS))
    eps = float(v.check_eps(eps, x, allow_zero=False))
    bounds = v.check_bounds(bounds, x)
    _check_eps_scale(eps, norm, bounds, x)
    spec = PROTOCOLS[protocol]
    with eval_mode(model):
        _, classes = classifier_problem(model, x, y, loss=cross_entropy, targeted=False,
                                        attack="evaluate")
        with torch.no_grad():
            logits = class_logits(model(x))
        broken_by = torch.where(logits.argmax(1) == y, -1, 0)
        x_adv, notes = x.clone(), _model_warnings(model, x)
        generator = torch.Generator().manual_seed(seed)
        plan = [(name, _runner(name, spec, classes, notes)) for name in spec.attacks]
        plan = [(name, run) for name, run in plan if run is not None]
        for k, (_, run) in enumerate(progress.track(plan, description="evaluate"), 1):
            idx = (broken_by < 0).nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            won, found = run(model, x[idx], y[idx], logits[idx], eps, norm, bounds, generator)
            rows = idx[won]
            broken_by[rows], x_adv[rows] = k, found[won]
    attacks = tuple(name for name, _ in plan)
    return Evaluation(eps, norm, protocol, attacks, broken_by < 0, broken_by, x_adv, notes)


def evaluate_radii(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: Sequence[float],
    norm: str = "linf",
    protocol: str = "standard",
    bounds: tuple[float, float] | None = None,
    seed: int = 0,
) -> list[Evaluation]:
    """:func:`evaluate` at each of K radii, one Evaluation per radius in the order given.

    The radii run from the smallest up, each on the examples no smaller radius broke: an input
    found within a smaller ball lies within every larger one, so those keep their attack and their
    ``x_adv`` (robustness is then monotone in eps, and the work shrinks as eps grows). A radius of
    0 runs no attack: only the clean errors are broken.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    radii = [float(v.check_eps(e, x)) for e in eps]
    if not radii:
        raise InputError("eps must be a non-empty list of radii")
    with torch.no_grad(), eval_mode(model):
        clean = torch.where(class_logits(model(x)).argmax(1) == y, -1, 0)
    broken_by, x_adv = clean, x.clone()
    found: dict[int, tuple[Tensor, Tensor]] = {}
    attacks, notes = (), {}
    for k in sorted(range(len(radii)), key=radii.__getitem__):
        idx = (broken_by < 0).nonzero().squeeze(1)
        if radii[k] > 0 and idx.numel():
            r = evaluate(model, x[idx], y[idx], eps=radii[k], norm=norm, protocol=protocol,
                         bounds=bounds, seed=seed)
            attacks, notes = r.attacks, r.notes
            broken_by, x_adv = broken_by.clone(), x_adv.clone()
            broken_by[idx], x_adv[idx] = r.broken_by, r.x_adv
        found[k] = (broken_by, x_adv)
    return [
        Evaluation(radii[k], norm, protocol, attacks, found[k][0] < 0, *found[k], notes)
        for k in range(len(radii))
    ]


def _model_warnings(model: Model, x: Tensor) -> dict[str, str]:
    """Notes for models whose evaluation would be silently wrong: probability outputs (margin and
    DLR saturate) and randomness (one draw of a random model is not its robustness)."""
    notes = {}
    for check in (probability_outputs(model, x), randomized(model, x)):
        if check.tripped:
            notes[check.name] = "warning: " + check.message
    return notes


def _check_eps_scale(eps: float, norm: str, bounds, x: Tensor) -> None:
    """An eps beyond the box's diameter reaches every input: a unit mistake, not a radius."""
    if bounds is None:
        return
    width = bounds[1] - bounds[0]
    diameter = width if norm == "linf" else width * math.sqrt(x[0].numel())
    if eps > diameter:
        raise InputError(
            f"eps {eps:g} is larger than the box's {norm} diameter {diameter:g} (bounds "
            f"{bounds}): give eps in the units of x (e.g. 8/255, not 8)"
        )


Runner = Callable[..., tuple[Tensor, Tensor]]


def _runner(name: str, spec: Protocol, classes: int, notes: dict[str, str]) -> Runner | None:
    """The function running attack ``name`` (None: skipped, with the reason in ``notes``)."""
    targets = min(spec.targets, classes - 1)
    if name == "apgd-ce":
        return lambda *a: _apgd(*a, steps=spec.steps, loss="ce", targets=0)
    if name == "apgd-t":
        if classes < 3:
            notes[name] = "skipped: with 2 classes the targeted attack is the untargeted one"
            return None
        loss = "dlr" if classes >= 4 else "ce"
        if loss == "ce":
            notes[name] = "targeted cross-entropy: targeted DLR needs >= 4 classes"
        return lambda *a: _apgd(*a, steps=spec.steps, loss=loss, targets=targets)
    if name == "fab-t":
        if classes < 3:
            notes[name] = "untargeted FAB: with 2 classes the targeted attack is the untargeted one"
        return lambda *a: _fab(*a, steps=spec.steps, targets=targets if classes >= 3 else 0)
    return lambda *a: _square(*a, queries=spec.queries)


def _top_wrong(logits: Tensor, y: Tensor, k: int) -> Tensor:
    """(batch, k) the k most likely wrong classes of each example, most likely first."""
    masked = logits.masked_fill(torch.nn.functional.one_hot(y.long(), logits.shape[1]).bool(),
                                float("-inf"))
    return masked.topk(k, dim=1).indices


def _apgd(model, x, y, logits, eps, norm, bounds, generator, *, steps, loss, targets):
    opts = dict(eps=eps, norm=norm, steps=steps, bounds=bounds, generator=generator)
    if targets == 0:
        r = apgd(model, x, y, loss=loss, **opts)
        return r.success, r.x_adv
    won, found = torch.zeros_like(y, dtype=torch.bool), x.clone()
    wrong = _top_wrong(logits, y, targets)
    for t in range(targets):  # AutoAttack's APGD-T: one run per target, on the unbroken rest
        idx = (~won).nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        r = apgd(model, x[idx], wrong[idx, t], loss=loss, targeted=True, **opts)
        won[idx[r.success]], found[idx[r.success]] = True, r.x_adv[r.success]
    return won, found


def _fab(model, x, y, logits, eps, norm, bounds, generator, *, steps, targets):
    opts = dict(norm=norm, steps=steps, eps=eps, bounds=bounds, generator=generator)
    if targets == 0:
        r = fab(model, x, y, **opts)
    else:
        r = fab(model, x, y, targeted=True, target_classes=targets, **opts)
    # A minimal-norm attack: it breaks the example when what it found lies within eps.
    within = r.success & (lp_norm(r.x_adv - x, norm) <= eps * (1 + 1e-6))
    return within, r.x_adv


def _square(model, x, y, logits, eps, norm, bounds, generator, *, queries):
    r = square(model, x, y, eps=eps, norm=norm, queries=queries, bounds=bounds,
               generator=generator)
    return r.success, r.x_adv
