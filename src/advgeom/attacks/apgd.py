"""Auto-PGD (Croce & Hein, ICML 2020), the step-size-free PGD of AutoAttack, in l_inf and l2.

One run, per example (Algorithm 1 of "Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks"): step size ``eta = 2 eps``; the first step is plain
projected ascent, later ones add momentum,

    z = P(x_k + eta * s(grad_k)),  x_{k+1} = P(x_k + 0.75 (z - x_k) + 0.25 (x_k - x_{k-1})),

with ``s`` the sign (l_inf) or the l2-normalised gradient and ``P`` the projection onto the ball
and the box. At the checkpoints ``w_j = ceil(p_j N)``, ``p_0 = 0``, ``p_1 = 0.22``,
``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``, eta is halved and the iterate restarts from
the best point found when either (1) the loss rose in fewer than ``rho = 0.75`` of the steps since
the last checkpoint, or (2) eta was not reduced at the last checkpoint and the best loss has not
improved since. Momentum restarts with it (torchattacks' port of the reference code keeps the
stale direction).

Losses: cross-entropy or the difference of logits ratio (:func:`~advgeom.attacks.losses.dlr`),
untargeted or targeted. Restarts rerun the examples not yet broken from a fresh random start.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from advgeom.attacks._engine import default_compact_every
from advgeom.attacks._shared import classifier_problem, nonfinite, raise_if_nonfinite
from advgeom.attacks.balls import BALLS
from advgeom.attacks.losses import class_logits, dlr, targeted_dlr
from advgeom.attacks.problem import Problem
from advgeom.attacks.result import AttackResult
from advgeom.errors import InputError, check_choice
from advgeom.tensors import Model, batch_view, eval_mode, lp_norm
from advgeom.tensors import arguments as v

MOMENTUM = 0.75
RHO = 0.75
LOSSES = ("ce", "dlr")


def _ce(output: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(class_logits(output), y.long(), reduction="none")


def _targeted_ce(output: Tensor, target: Tensor) -> Tensor:
    return -_ce(output, target)


# (loss, targeted) -> the objective APGD maximises, and the fewest classes it is defined for.
OBJECTIVES = {
    ("ce", False): (_ce, 2),
    ("ce", True): (_targeted_ce, 2),
    ("dlr", False): (dlr, 3),
    ("dlr", True): (targeted_dlr, 4),
}


def checkpoints(steps: int) -> list[int]:
    """The iterations ``0 = w_0 < w_1 < ... < steps`` at which APGD may halve its step size."""
    points, p_prev, p = [0], 0, 22  # in hundredths, so that ceil(p * steps) is exact
    while p < 100:
        w = -(-p * steps // 100)
        if points[-1] < w < steps:
            points.append(w)
        p_prev, p = p, p + max(p - p_prev - 3, 6)
    return points


def apgd(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: float | Tensor,
    norm: str = "linf",
    loss: str = "ce",
    targeted: bool = False,
    steps: int = 100,
    restarts: int = 1,
    random_start: bool = True,
    bounds: tuple[float, float] | None = None,
    early_stop: bool = False,
    compact_every: int | None = None,
    generator: torch.Generator | None = None,
) -> AttackResult:
    """APGD-CE / APGD-DLR (and their targeted versions) inside the ``norm`` ball of radius eps.

    Args:
        model: maps (batch, *input_shape) to C class logits (batch, C), or one logit (batch,) /
            (batch, 1) read as the two logits [0, z].
        x: (batch, *input_shape) clean inputs.
        y: (batch,) integer labels in [0, C); the target classes when ``targeted``.
        eps: ball radius >= 0, a number or a (batch,) tensor.
        norm: "linf" or "l2".
        loss: "ce" (cross-entropy) or "dlr" (needs C >= 3; targeted C >= 4).
        targeted: maximise ``-CE(target)`` / targeted DLR; success is "predicted as y".
        steps: iterations N after the starting point (N + 1 loss evaluations), >= 1.
        restarts: runs; each after the first reruns only the examples not yet broken, from a new
            random start (needs ``random_start``).
        random_start: start uniformly in the ball (clipped to the box), as AutoAttack does; else
            at x.
        bounds: (lo, hi) box, or None for no clipping (AutoAttack's images use (0, 1)).
        early_stop: stop each example at its first adversarial iterate (it leaves the batch).
        compact_every: with early stop, remove finished examples every this many steps (default 1
            on CPU, 4 on CUDA).
        generator: source of the random starts.

    Returns:
        AttackResult: ``x_adv`` (batch, *input_shape) the first adversarial iterate, else the
        point of highest loss (the highest-loss point itself when it is adversarial and there is
        no early stop); ``success`` checked in full precision (clean errors count, at step 0);
        ``steps_to_success``; ``loss`` the maximised objective at ``x_adv``; ``distance``.

    Raises:
        InputError: a bad argument, too few classes for DLR, labels outside [0, C), an output that
            is not class logits, or a NaN/inf input gradient.
    """
    x = v.check_x(x)
    y = v.check_y(y, x)
    v.check_norm(norm)
    check_choice("loss", loss, LOSSES)
    eps = v.check_eps(eps, x)
    v.check_steps(steps)
    v.check_restarts(restarts, random_start)
    v.check_compact_every(compact_every)
    bounds = v.check_bounds(bounds, x)
    objective, needed = OBJECTIVES[(loss, bool(targeted))]
    with eval_mode(model):
        problem, classes = classifier_problem(
            model, x, y, loss=objective, targeted=targeted, attack="apgd"
        )
        if classes < needed:
            kind = "targeted DLR" if targeted else "DLR"
            raise InputError(
                f"loss 'dlr' ({kind}) needs >= {needed} classes (the model has {classes}): "
                "use loss='ce'"
            )
        k = compact_every or default_compact_every(x.device)
        opts = dict(norm=norm, steps=steps, bounds=bounds, early_stop=early_stop, every=k,
                    random_start=random_start, generator=generator)
        return _with_restarts(problem, x, y, eps, restarts, opts)


def _take(value: float | Tensor, idx: Tensor) -> float | Tensor:
    return value[idx] if isinstance(value, Tensor) else value


def _with_restarts(
    problem: Problem, x: Tensor, y: Tensor, eps: float | Tensor, restarts: int, opts: dict
) -> AttackResult:
    """Clean errors are kept as they are; each run attacks the examples not yet broken."""
    loss, success = problem.evaluate(x, y)
    first = torch.where(success, 0, -1)
    result = AttackResult(x.clone(), success, first, loss, torch.zeros_like(loss))
    for _ in range(restarts):
        idx = (~result.success).nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        part = _Run(problem, x[idx], y[idx], _take(eps, idx), **opts).run()
        result = result.merge(part, idx)
    return result


class _Run:
    """One APGD run over a batch; every per-example tensor lives in ``self.s`` (batch first)."""

    def __init__(
        self,
        problem: Problem,
        x: Tensor,
        y: Tensor,
        eps: float | Tensor,
        *,
        norm: str,
        steps: int,
        bounds: tuple[float, float] | None,
        early_stop: bool,
        every: int,
        random_start: bool,
        generator: torch.Generator | None,
    ) -> None:
        self.problem, self.norm, self.steps, self.bounds = problem, norm, steps, bounds
        self.early_stop, self.every = early_stop, every
        n = x.shape[0]
        e = eps if isinstance(eps, Tensor) else torch.full((n,), eps, dtype=x.dtype,
                                                            device=x.device)
        self.ball = BALLS[norm]
        s = {"x": x, "y": y, "eps": e, "idx": torch.arange(n, device=x.device)}
        s.update(self.ball.limits(x, e, bounds))  # every entry has the batch first: compactable
        self.s = s
        start = x + self.ball.sample(x, e, generator) if random_start else x
        s["xk"] = self._project(start)
        out, s["grad"], s["f"] = self._evaluate(s["xk"], grad=True)
        s["xprev"], s["xbest"], s["gbest"] = s["xk"], s["xk"], s["grad"]
        s["fbest"], s["fbest_ck"] = s["f"], s["f"]
        s["eta"] = 2.0 * e
        s["count"] = torch.zeros(n, dtype=torch.long, device=x.device)
        s["reduced_ck"] = torch.zeros(n, dtype=torch.bool, device=x.device)
        adv = problem.success(out, y)
        s["first"] = torch.where(adv, 0, -1)
        s["xfound"] = s["xk"]
        self.bad = nonfinite(s["grad"])
        self.done: list[dict[str, Tensor]] = []  # finished rows, written out by early stop

    def _project(self, xa: Tensor) -> Tensor:
        return self.ball.project(xa, self.s, None, self.bounds)

    def _evaluate(self, xa: Tensor, *, grad: bool) -> tuple[Tensor, Tensor | None, Tensor]:
        """Output, input gradient (None without ``grad``) and objective (batch,) at xa."""
        y = self.s["y"]
        if grad:
            out, g = self.problem.loss_grad(xa.detach().requires_grad_(True), y)
        else:
            with torch.no_grad():
                out, g = self.problem.model(xa), None
        return out, g, self.problem.loss_fn(out, y).detach()

    def _move(self, k: int) -> None:
        """x_{k+1} from x_k: projected ascent step, then (after the first step) momentum."""
        s = self.s
        g = s["grad"]
        z = self._project(s["xk"] + batch_view(s["eta"], g) * self.ball.direction(g))
        if k > 0:
            z = self._project(s["xk"] + MOMENTUM * (z - s["xk"])
                              + (1 - MOMENTUM) * (s["xk"] - s["xprev"]))
        s["xprev"], s["xk"] = s["xk"], z

    def _observe(self, k: int) -> None:
        """Evaluate x_{k+1}; update the best point, the rise count and the first success."""
        s = self.s
        out, grad, f = self._evaluate(s["xk"], grad=k + 1 < self.steps)
        if grad is not None:
            s["grad"] = grad
            self.bad = self.bad | nonfinite(grad)
        s["count"] = s["count"] + (f > s["f"])
        s["f"] = f
        better = f > s["fbest"]
        s["fbest"] = torch.where(better, f, s["fbest"])
        s["xbest"] = torch.where(batch_view(better, s["xk"]), s["xk"], s["xbest"])
        if grad is not None:
            s["gbest"] = torch.where(batch_view(better, s["xk"]), grad, s["gbest"])
        newly = self.problem.success(out, s["y"]) & (s["first"] < 0)
        s["first"] = torch.where(newly, k + 1, s["first"])
        s["xfound"] = torch.where(batch_view(newly, s["xk"]), s["xk"], s["xfound"])

    def _checkpoint(self, length: int) -> None:
        """Halve eta and restart from the best point where condition 1 or 2 holds."""
        s = self.s
        cond1 = s["count"] < RHO * length
        cond2 = ~s["reduced_ck"] & (s["fbest"] == s["fbest_ck"])
        cut = cond1 | cond2
        s["eta"] = torch.where(cut, s["eta"] / 2, s["eta"])
        view = batch_view(cut, s["xk"])
        s["xk"] = torch.where(view, s["xbest"], s["xk"])
        s["xprev"] = torch.where(view, s["xbest"], s["xprev"])
        s["grad"] = torch.where(view, s["gbest"], s["grad"])
        s["f"] = torch.where(cut, s["fbest"], s["f"])
        s["reduced_ck"], s["fbest_ck"] = cut, s["fbest"]
        s["count"] = torch.zeros_like(s["count"])

    def _compact(self) -> bool:
        """Early stop: finished rows leave the batch. Returns whether any row is left."""
        done = self.s["first"] >= 0
        if not bool(done.any()):  # the one host sync, every ``every`` steps
            return True
        self.done.append({name: t[done] for name, t in self.s.items()})
        keep = (~done).nonzero().squeeze(1)
        self.s = {name: t[keep] for name, t in self.s.items()}
        return keep.numel() > 0

    def run(self) -> AttackResult:
        marks = checkpoints(self.steps)  # the interval ending at each checkpoint:
        length = {w: w - prev for prev, w in zip(marks, marks[1:], strict=False)}
        for k in range(self.steps):
            if self.early_stop and k % self.every == 0 and not self._compact():
                break
            self._move(k)
            self._observe(k)
            if k + 1 in length:
                self._checkpoint(length[k + 1])
        raise_if_nonfinite(self.bad, "apgd")
        return self._result()

    @torch.no_grad()
    def _result(self) -> AttackResult:
        """Reassemble the rows in their original order and check the chosen points in fp32."""
        parts = [*self.done, self.s]
        cat = {name: torch.cat([p[name] for p in parts]) for name in ("idx", "x", "y", "first",
                                                                        "xfound", "xbest")}
        order = torch.argsort(cat["idx"])
        x, y, first = cat["x"][order], cat["y"][order], cat["first"][order]
        found, x_adv = first >= 0, cat["xbest"][order]
        loss, success = self.problem.evaluate(x_adv, y)
        # The best point when it is adversarial (and no early stop), else the first adversarial.
        swap = (found & ~success) if not self.early_stop else found
        rows = swap.nonzero().squeeze(1)
        if rows.numel():
            x_adv[rows] = cat["xfound"][order][rows]
            loss[rows], success[rows] = self.problem.evaluate(x_adv[rows], y[rows])
        first = torch.where(success, torch.where(found, first, self.steps), -1)
        return AttackResult(x_adv, success, first, loss, lp_norm(x_adv - x, self.norm))
