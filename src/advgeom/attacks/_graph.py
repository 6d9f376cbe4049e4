"""Replay a fixed-shape attack step as a CUDA graph (CUDA only; never used on CPU).

At batch 500 a step of a small MLP is a few dozen kernels of microseconds each, so the GPU waits on
Python and kernel launches; capturing one step once and replaying it removes that overhead.

Contract for the step: it works in place on buffers owned by its loop object (iterates, limits,
labels), does no host synchronisation (no ``.item()``, boolean indexing or ``nonzero``) and
allocates its temporaries afresh each call (the graph's private pool replays those addresses).
A custom ``is_adversarial`` that synchronises cannot be captured: use the eager loop.

One captured graph is cached (it holds its activations' memory), keyed on everything the kernels
depend on: the model object and the addresses of its parameters and buffers, the loss, the
success test, shapes, dtypes, the device and the step's constants. A later call with the same key
copies its inputs into the graph's buffers and only replays. Not thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from itertools import chain
from typing import Protocol

import torch
from torch import Tensor, nn

WARMUP = 2


class Loop(Protocol):
    """A full-length attack loop with static buffers (see ``_engine.FullLoop``)."""

    def one_step(self) -> None: ...

    def reset(self, x_start: Tensor, y: Tensor, state: dict[str, Tensor]) -> None: ...


_cache: dict[Hashable, tuple[Loop, torch.cuda.CUDAGraph]] = {}


def model_key(model: Callable) -> tuple:
    """Identity of a model for the cache: the object and where its tensors live."""
    if isinstance(model, nn.Module):
        tensors = chain(model.parameters(), model.buffers())
        return (id(model), tuple(t.data_ptr() for t in tensors))
    return (id(model),)


def run_graphed(key: Hashable, make_loop: Callable[[], Loop], steps: int, inputs: tuple) -> Loop:
    """Run ``steps`` steps of a loop whose step is captured once per ``key`` and replayed.

    ``inputs`` = (x_start, y, state) are copied into a cached loop's buffers on a hit; on a miss a
    new loop is built from them by ``make_loop`` (which must own copies, not views, of them).
    """
    entry = _cache.get(key)
    if entry is not None:
        loop, graph = entry
        loop.reset(*inputs)
        for _ in range(steps):
            graph.replay()
        return loop
    _cache.clear()  # one graph at a time: free the previous pool before capturing another
    loop = make_loop()
    done, graph = capture(loop.one_step, steps)
    for _ in range(steps - done):
        graph.replay()
    _cache[key] = (loop, graph)
    return loop


def capture(step: Callable[[], None], steps: int) -> tuple[int, torch.cuda.CUDAGraph]:
    """Run up to ``WARMUP`` real steps eagerly on a side stream, then capture one more.

    The warm-up lets autograd and cuBLAS set up their workspaces outside the capture, as the
    CUDA-graph rules require. Capturing executes nothing, so the caller replays the rest.
    Returns (steps already done, graph).
    """
    done = min(WARMUP, steps)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(done):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return done, graph


def clear_cache() -> None:
    """Drop the cached graph and its memory."""
    _cache.clear()
