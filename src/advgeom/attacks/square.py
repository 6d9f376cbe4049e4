"""Square Attack (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020): random search, no gradients.

Score-based: only the model's logits are read. From a random vertex-like start, each query
changes the current best point inside one random window of side ``s`` and keeps the change when
the objective (the margin ``z_y - max_{j != y} z_j``, or minus the cross-entropy) decreases or the
point becomes adversarial. The window covers all channels; its side follows AutoAttack's schedule
``s = round(sqrt(p * H * W))`` with ``p = p_init / 2^k`` halved at the query fractions 10, 50,
200, 500, 1000, 2000, 4000, 6000, 8000 of 10000 (as in AutoAttack's reference code, rescaled to
the budget).

- l_inf: start at ``x + eps * sign`` with one random sign per channel and column (vertical
  stripes); a query sets the window to ``x + eps * sign`` with one random sign per channel. A
  proposal that would change nothing takes the opposite signs instead (the authors' original
  code redraws it; AutoAttack's PyTorch port spends the query on it).
- l2: start from a 5 x 5 grid of tiles, each a signed pair of concentric-rectangle bumps, scaled
  to norm eps; a query moves the mass of a second window into the first, reshaped as a new bump
  pair of random signs per channel, then rescales the whole perturbation to norm eps.

Both then clip to the box. Windows, signs and bump orientations are drawn per example (the
reference draws one window for the whole batch).
"""

from __future__ import annotations

from dataclasses import fields

import torch
import torch.nn.functional as F
from torch import Tensor

from advgeom.attacks._shared import classifier_problem, clip
from advgeom.attacks._square_windows import (
    channel_norm,
    grid,
    p_schedule,
    patterns,
    random_signs,
    tiles,
    window,
    window_index,
    window_side,
)
from advgeom.attacks.losses import class_logits, margin
from advgeom.attacks.problem import Problem
from advgeom.attacks.result import AttackResult
from advgeom.errors import InputError, check_choice
from advgeom.tensors import TINY, Model, batch_view, eval_mode, lp_norm
from advgeom.tensors import arguments as v

LOSSES = ("margin", "ce")
def _targeted_margin(output: Tensor, target: Tensor) -> Tensor:
    return -margin(output, target)


def _neg_ce(output: Tensor, y: Tensor) -> Tensor:
    return -F.cross_entropy(class_logits(output), y.long(), reduction="none")


def _ce(output: Tensor, target: Tensor) -> Tensor:
    return F.cross_entropy(class_logits(output), target.long(), reduction="none")


# (loss, targeted) -> the objective the random search minimises.
OBJECTIVES = {
    ("margin", False): margin,
    ("margin", True): _targeted_margin,
    ("ce", False): _neg_ce,
    ("ce", True): _ce,
}


def square(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: float | Tensor,
    norm: str = "linf",
    queries: int = 5000,
    p_init: float = 0.8,
    loss: str = "margin",
    targeted: bool = False,
    restarts: int = 1,
    bounds: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> AttackResult:
    """Square Attack inside the ``norm`` ball of radius eps (AutoAttack's fourth attack).

    Inputs of shape (batch, C, H, W) get H x W windows across channels, as in the paper; any
    other input is viewed as (batch, 1, 1, numel) and gets 1 x s windows along that axis (s from
    the same schedule, so a window covers fewer than p * numel entries). A window whose side
    exceeds H or W is clipped to it (AutoAttack clips it to a min(s, H, W) square; on square
    images the two agree).

    Args:
        model: maps (batch, *input_shape) to C class logits (batch, C), or one logit (batch,) /
            (batch, 1) read as the two logits [0, z]. Only forward passes are used.
        x: (batch, *input_shape) clean inputs.
        y: (batch,) integer labels in [0, C); the target classes when ``targeted``.
        eps: ball radius > 0, a number or a (batch,) tensor.
        norm: "linf" or "l2".
        queries: iterations per example and restart (one forward pass each) after the random
            start, which costs one more, as AutoAttack counts them; >= 1.
        p_init: the window's initial fraction of the image, in (0, 1].
        loss: "margin" (minimise ``z_y - max_{j != y} z_j``) or "ce" (maximise cross-entropy).
        targeted: minimise ``max_{j != t} z_j - z_t`` (or the cross-entropy of t); success is
            "predicted as y". Needs C >= 3.
        restarts: runs; each after the first reruns only the examples not yet broken, from a new
            random start.
        bounds: (lo, hi) box, or None for no clipping (AutoAttack's images use (0, 1)).
        generator: source of every random draw.

    Returns:
        AttackResult: ``x_adv`` (batch, *input_shape) the first adversarial point found (each
        example leaves the batch there), else the point of lowest objective; ``success`` checked
        by one final forward pass (clean errors count, at step 0, with ``x_adv = x``);
        ``steps_to_success`` the example's query count at success (1 = the random start, counted
        across restarts; -1 if none); ``loss`` the (targeted) margin at ``x_adv``; ``distance``
        ``||x_adv - x||`` in ``norm``.

    Raises:
        InputError: a bad argument, labels outside [0, C), too few classes for a targeted attack,
            or an output that is not class logits.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_norm(norm)
    check_choice("loss", loss, LOSSES)
    eps = v.check_eps(eps, x, allow_zero=False)
    v.check_steps(queries, "queries")
    if isinstance(p_init, bool) or not isinstance(p_init, (int, float)) or not 0 < p_init <= 1:
        raise InputError(f"p_init must be a number in (0, 1] (got {p_init!r}); the paper uses 0.8")
    v.check_steps(restarts, "restarts")
    bounds = v.check_bounds(bounds, x)
    scored = _targeted_margin if targeted else margin
    with eval_mode(model):
        problem, classes = classifier_problem(model, x, y, loss=scored, targeted=targeted,
                                              attack="square")
        if targeted and classes < 3:
            raise InputError(
                f"targeted needs >= 3 classes (the model has {classes}): with 2, use "
                "targeted=False and y = the other class"
            )
        opts = dict(norm=norm, queries=queries, p_init=p_init, bounds=bounds,
                    objective=OBJECTIVES[(loss, bool(targeted))], generator=generator)
        return _with_restarts(problem, x, y, eps, restarts, opts)


def _with_restarts(
    problem: Problem, x: Tensor, y: Tensor, eps: float | Tensor, restarts: int, opts: dict
) -> AttackResult:
    """Clean errors stay at x; each run attacks the examples not yet broken."""
    loss, success = problem.evaluate(x, y)
    zero = torch.zeros_like(loss)
    result = AttackResult(x.clone(), success, torch.where(success, 0, -1), loss, zero)
    for r in range(restarts):
        idx = (~result.success).nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        e = eps[idx] if isinstance(eps, Tensor) else eps
        # steps_to_success counts the queries of the earlier runs too.
        part = _Run(problem, x[idx], y[idx], e, **opts).run(offset=r * (opts["queries"] + 1))
        result = _merge(result, part, idx, everything=r == 0)
    return result


def _merge(old: AttackResult, new: AttackResult, idx: Tensor, *, everything: bool) -> AttackResult:
    """Rows ``idx`` of ``old`` replaced by ``new`` where it is adversarial or of lower margin.

    The first run replaces every attacked row: its x_adv is a perturbed point even where the
    clean point had a lower margin.
    """
    s, m = old.success[idx], old.loss[idx]
    take = (new.success & ~s) | ((new.success == s) & (new.loss < m)) | everything
    merged = {}
    for f in fields(AttackResult):
        merged[f.name] = getattr(old, f.name).clone()
        merged[f.name][idx[take]] = getattr(new, f.name)[take]
    return AttackResult(**merged)


class _Run:
    """One random-search run; every per-example tensor lives in ``self.s`` (batch first)."""

    def __init__(self, problem: Problem, x: Tensor, y: Tensor, eps: float | Tensor, *,
                 norm: str, queries: int, p_init: float, bounds: tuple[float, float] | None,
                 objective, generator: torch.Generator | None) -> None:
        self.problem, self.objective, self.norm, self.bounds = problem, objective, norm, bounds
        self.queries, self.p_init, self.generator = queries, p_init, generator
        self.shape = x.shape[1:]
        n = x.shape[0]
        x4 = x.reshape(n, *grid(x))
        e = eps if isinstance(eps, Tensor) else torch.full((n,), eps, dtype=x.dtype,
                                                            device=x.device)
        s = {"x": x4, "y": y, "eps": e, "idx": torch.arange(n, device=x.device)}
        if norm == "linf":  # ball and box are both boxes: their intersection, once
            lo, hi = x4 - batch_view(e, x4), x4 + batch_view(e, x4)
            s["lo"], s["hi"] = (lo, hi) if bounds is None else (lo.clamp(min=bounds[0]),
                                                               hi.clamp(max=bounds[1]))
        self.s = s
        s["xbest"] = self._linf_start() if norm == "linf" else self._l2_start()
        f, adv = self._query(s["xbest"])
        s["fbest"], s["first"] = f, torch.where(adv, 1, -1)
        self.done: list[dict[str, Tensor]] = []  # rows that left the batch

    @torch.no_grad()
    def _query(self, x4: Tensor) -> tuple[Tensor, Tensor]:
        """Objective (batch,) and success (batch,) bool at x4, one forward pass."""
        out = self.problem.model(x4.reshape(x4.shape[0], *self.shape))
        return self.objective(out, self.s["y"]), self.problem.success(out, self.s["y"])

    def _linf_start(self) -> Tensor:
        s = self.s
        n, c, _, w = s["x"].shape
        stripes = random_signs((n, c, 1, w), s["x"], self.generator)
        return self._in_box(s["x"] + batch_view(s["eps"], s["x"]) * stripes)

    def _l2_start(self) -> Tensor:
        """A grid of (at most) 5 x 5 tiles of bump pairs with random signs, at norm eps."""
        x = self.s["x"]
        n, c, h, w = x.shape
        (kh, th, oh), (kw, tw, ow) = tiles(h), tiles(w)
        delta = torch.zeros_like(x)
        for i in range(kh):
            for j in range(kw):
                bumps = patterns(n, th, tw, x, self.generator)
                signs = random_signs((n, c, 1, 1), x, self.generator)
                delta[:, :, oh + i * th:oh + (i + 1) * th, ow + j * tw:ow + (j + 1) * tw] = (
                    bumps * signs)
        return self._at_radius(delta)

    def _at_radius(self, delta: Tensor) -> Tensor:
        """x + delta rescaled to l2 norm eps, clipped to the box."""
        x = self.s["x"]
        scale = self.s["eps"] / lp_norm(delta, "l2").clamp_min(TINY)
        return clip(x + delta * batch_view(scale, delta), self.bounds)

    def _propose_linf(self, sh: int, sw: int) -> Tensor:
        """One window set to ``x + eps * sign`` per channel (clipped to the box).

        Where that changes nothing (the window is already there), the opposite signs are taken:
        they change every cell of the window, so no query is spent on a no-op.
        """
        s = self.s
        x, best = s["x"], s["xbest"]
        n, c, h, w = x.shape
        mask, _, _ = window(n, h, w, sh, sw, x, self.generator)
        signs = random_signs((n, c, 1, 1), x, self.generator)
        step = batch_view(s["eps"], x) * signs
        new = self._in_box(torch.where(mask, x + step, best))
        same = (new == best).flatten(1).all(dim=1)
        flipped = self._in_box(torch.where(mask, x - step, best))
        return torch.where(batch_view(same, x), flipped, new)

    def _in_box(self, xa: Tensor) -> Tensor:
        return torch.minimum(torch.maximum(xa, self.s["lo"]), self.s["hi"])

    def _propose_l2(self, sh: int, sw: int) -> Tensor:
        """Move the mass of window 2 into window 1 as a new bump pair; rescale to norm eps."""
        s = self.s
        x = s["x"]
        n, c, h, w = x.shape
        delta = s["xbest"] - x
        m1, top, left = window(n, h, w, sh, sw, x, self.generator)
        m2, _, _ = window(n, h, w, sh, sw, x, self.generator)
        index = window_index(top, left, sh, sw, c)
        old = delta[index]
        old = old / channel_norm(old).clamp_min(TINY)
        bumps = patterns(n, sh, sw, x, self.generator)
        bumps = bumps * random_signs((n, c, 1, 1), x, self.generator)
        new = bumps + old
        # The window gets its own and window 2's mass, plus a share of the unused radius.
        spare = (s["eps"].square() - lp_norm(delta, "l2").square()).clamp_min(0) / c
        mass = (batch_view(spare, delta) + channel_norm(delta * (m1 | m2)).square()).sqrt()
        new = new / channel_norm(new).clamp_min(TINY) * mass
        delta = delta.masked_fill(m2, 0.0)
        delta[index] = new
        return self._at_radius(delta)

    def _compact(self) -> bool:
        """Broken rows leave the batch. Returns whether any row is left."""
        done = self.s["first"] >= 0
        if not bool(done.any()):
            return True
        self.done.append({name: t[done] for name, t in self.s.items()})
        keep = (~done).nonzero().squeeze(1)
        self.s = {name: t[keep] for name, t in self.s.items()}
        return keep.numel() > 0

    def run(self, offset: int = 0) -> AttackResult:
        """The search; ``offset`` is added to every success's query count."""
        h, w = self.s["x"].shape[2:]
        propose = self._propose_linf if self.norm == "linf" else self._propose_l2
        for i in range(self.queries):
            if not self._compact():
                break
            cand = propose(*window_side(p_schedule(i, self.queries, self.p_init), h, w,
                                        self.norm))
            f, adv = self._query(cand)
            s = self.s
            better = adv | (f < s["fbest"])
            s["fbest"] = torch.where(better, f, s["fbest"])
            s["xbest"] = torch.where(batch_view(better, cand), cand, s["xbest"])
            s["first"] = torch.where(adv, i + 2, s["first"])  # query 1 was the start
        return self._result(offset)

    @torch.no_grad()
    def _result(self, offset: int) -> AttackResult:
        """Reassemble the rows in their original order; check the chosen points in fp32."""
        parts = [*self.done, self.s]
        cat = {k: torch.cat([p[k] for p in parts]) for k in ("idx", "x", "y", "first", "xbest")}
        order = torch.argsort(cat["idx"])
        x, y, first = cat["x"][order], cat["y"][order], cat["first"][order]
        x_adv = cat["xbest"][order].reshape(x.shape[0], *self.shape)
        x = x.reshape(x_adv.shape)
        loss, success = self.problem.evaluate(x_adv, y)
        first = torch.where(first >= 0, first, self.queries + 1)  # found only by the last check
        first = torch.where(success, first + offset, -1)
        return AttackResult(x_adv, success, first, loss, lp_norm(x_adv - x, self.norm))


