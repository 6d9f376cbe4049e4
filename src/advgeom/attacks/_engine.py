"""The iteration loop shared by the gradient attacks, with per-example early stop.

An attack supplies a ``Step``: an in-place update ``step(xa, grad, state)`` of the iterates ``xa``
(batch, ...) from the loss gradient, reading per-example tensors from ``state`` (each with the batch
as first dimension, e.g. the clean input and the box/ball limits). The loop computes the gradient at
iterates 0 .. steps-1 and applies the step; the caller checks the final iterate in full precision.

Early stop with batch compaction: an example whose iterate is adversarial is recorded and leaves
the batch (``xa``, its gradient, labels and ``state`` are re-indexed), so later steps cost less.
Compaction runs every ``compact_every`` steps: on CPU every step (the check is free), on CUDA every
few steps because reading the mask back synchronises the device; between compactions the first
adversarial iterate is kept with ``torch.where`` so the result does not depend on ``compact_every``.

Without early stop the loop is a :class:`FullLoop`: fixed shapes, no host synchronisation, so on
CUDA it can be captured once as a graph and replayed (see ``_graph``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import torch
from torch import Tensor

from advgeom.attacks._graph import model_key, run_graphed
from advgeom.attacks.problem import Problem
from advgeom.tensors import batch_view

Step = Callable[[Tensor, Tensor, dict[str, Tensor]], None]


@dataclass(frozen=True)
class Trace:
    """What the loop returns.

    Attributes:
        x: (batch, ...) the first adversarial iterate of each stopped example, else the last.
        first: (batch,) long, the first step whose iterate the in-loop check found adversarial
            (0 = the starting point), -1 if none was (the final iterate is checked by the caller).
        x_first: (batch, ...) the first adversarial iterate when ``record_first``, else None.
    """

    x: Tensor
    first: Tensor
    x_first: Tensor | None = None


def default_compact_every(device: torch.device) -> int:
    return 1 if device.type == "cpu" else 4


def run(
    problem: Problem,
    x_start: Tensor,
    y: Tensor,
    state: dict[str, Tensor],
    *,
    steps: int,
    step: Step,
    early_stop: bool,
    compact_every: int | None = None,
    record_first: bool = False,
    graph_key: Hashable | None = None,
) -> Trace:
    """Run ``steps`` gradient steps from ``x_start`` (batch, ...); see the module docstring.

    ``graph_key``: replay the full-length loop as a CUDA graph (CUDA only, no early stop); the key
    names the step's Python constants (norm, eps, step size, bounds), which the graph bakes in.
    """
    if early_stop:
        k = compact_every or default_compact_every(x_start.device)
        return _run_early_stop(problem, x_start, y, state, steps=steps, step=step, k=k)
    if graph_key is not None and x_start.is_cuda:
        return _run_graphed(problem, x_start, y, state, steps, step, record_first, graph_key)
    loop = FullLoop(problem, x_start, y, state, step, record_first)
    for _ in range(steps):
        loop.one_step()
    return Trace(loop.xa.detach(), loop.first, loop.x_first)


class FullLoop:
    """Buffers and one step of a full-length run, in a form a CUDA graph can replay.

    All examples take every step; the first adversarial step is tracked with ``torch.where`` and
    a step counter on the device, so a step never synchronises with the host.
    """

    def __init__(
        self,
        problem: Problem,
        x_start: Tensor,
        y: Tensor,
        state: dict[str, Tensor],
        step: Step,
        record_first: bool,
        *,
        own: bool = False,
    ) -> None:
        def keep(t: Tensor) -> Tensor:  # a cached graph's buffers must not alias the caller's
            return t.clone() if own else t

        self.problem, self.step = problem, step
        self.xa = x_start.detach().clone().requires_grad_(True)
        self.y, self.state = keep(y), {name: keep(v) for name, v in state.items()}
        self.first = torch.full((x_start.shape[0],), -1, dtype=torch.long, device=x_start.device)
        self.t = torch.zeros((), dtype=torch.long, device=x_start.device)
        self.x_first = x_start.detach().clone() if record_first else None

    @torch.no_grad()
    def reset(self, x_start: Tensor, y: Tensor, state: dict[str, Tensor]) -> None:
        self.xa.copy_(x_start)
        self.y.copy_(y)
        for name, value in state.items():
            self.state[name].copy_(value)
        self.first.fill_(-1)
        self.t.zero_()
        if self.x_first is not None:
            self.x_first.copy_(x_start)

    def one_step(self) -> None:
        xa, first = self.xa, self.first
        out, grad = self.problem.loss_grad(xa, self.y)
        with torch.no_grad():
            if self.problem.criterion is not None:
                newly = self.problem.success(out, self.y) & (first < 0)
                if self.x_first is not None:
                    torch.where(batch_view(newly, xa), xa, self.x_first, out=self.x_first)
                torch.where(newly, self.t, first, out=first)
            self.step(xa, grad, self.state)
            self.t.add_(1)


def _run_graphed(
    problem: Problem,
    x_start: Tensor,
    y: Tensor,
    state: dict[str, Tensor],
    steps: int,
    step: Step,
    record_first: bool,
    graph_key: Hashable,
) -> Trace:
    shapes = tuple((t.shape, t.dtype) for t in (x_start, y, *state.values()))
    key = (
        graph_key,
        model_key(problem.model),
        problem.loss_fn,
        problem.criterion,
        problem.ascend,
        problem.precision,
        record_first,
        tuple(state),
        shapes,
        x_start.device,
    )

    def make() -> FullLoop:
        return FullLoop(problem, x_start, y, state, step, record_first, own=True)

    loop = run_graphed(key, make, steps, (x_start, y, state))
    x_first = None if loop.x_first is None else loop.x_first.clone()
    # The buffers belong to the cached graph: hand the caller copies.
    return Trace(loop.xa.detach().clone(), loop.first.clone(), x_first)


def _run_early_stop(
    problem: Problem,
    x_start: Tensor,
    y: Tensor,
    state: dict[str, Tensor],
    *,
    steps: int,
    step: Step,
    k: int,
) -> Trace:
    """Examples leave the batch at their first adversarial iterate (checked every k steps)."""
    x_out = x_start.detach().clone()
    first = torch.full((x_out.shape[0],), -1, dtype=torch.long, device=x_out.device)
    idx = torch.arange(x_out.shape[0], device=x_out.device)  # global index of each active row
    xa = x_out.clone().requires_grad_(True)
    rec_t = first.clone()  # per active row: step of its first adversarial iterate
    rec_x = xa.detach().clone() if k > 1 else None
    for t in range(steps):
        out, grad = problem.loss_grad(xa, y)
        with torch.no_grad():
            newly = problem.success(out, y) & (rec_t < 0)
            rec_t = torch.where(newly, t, rec_t)
            if rec_x is not None:
                rec_x = torch.where(batch_view(newly, xa), xa, rec_x)
            if (t + 1) % k == 0 or k == 1:
                done = rec_t >= 0
                if done.any():  # the one host sync, every k steps
                    src = xa.detach() if rec_x is None else rec_x
                    _write(x_out, first, idx, done, src, rec_t)
                    keep = (~done).nonzero().squeeze(1)
                    if keep.numel() == 0:
                        return Trace(x_out, first)
                    xa, grad, y, idx, rec_t = xa[keep], grad[keep], y[keep], idx[keep], rec_t[keep]
                    rec_x = None if rec_x is None else rec_x[keep]
                    state = {name: v[keep] for name, v in state.items()}
                    xa.requires_grad_(True)
            step(xa, grad, state)
    with torch.no_grad():
        done = rec_t >= 0
        src = xa.detach() if rec_x is None else torch.where(batch_view(done, xa), rec_x, xa)
        _write(x_out, first, idx, torch.ones_like(done), src, rec_t)
    return Trace(x_out, first)


def _write(
    x_out: Tensor, first: Tensor, idx: Tensor, rows: Tensor, src: Tensor, rec_t: Tensor
) -> None:
    """Copy the active ``rows`` (bool mask) of ``src``/``rec_t`` to their global places."""
    sel = rows.nonzero().squeeze(1)
    x_out[idx[sel]] = src[sel]
    first[idx[sel]] = rec_t[sel]
