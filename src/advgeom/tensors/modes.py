"""Running any PyTorch model (or plain function) the way a measurement needs it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from torch import Tensor, nn

# What the instruments accept as a model: anything mapping a batch to a batch of outputs.
Model = Callable[[Tensor], Tensor]


@contextlib.contextmanager
def eval_mode(model: Model) -> Iterator[None]:
    """Put every submodule in eval mode and restore each one's own mode afterwards."""
    if not isinstance(model, nn.Module):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training
