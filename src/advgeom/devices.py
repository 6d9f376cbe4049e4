"""Choosing the device a run computes on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from advgeom.errors import InputError

PRECISIONS = ("fp32", "tf32", "bf16")


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:K``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {name}: no CUDA device is available here; use cpu or auto")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        return device
    raise InputError(f"--device must be auto, cpu, cuda or cuda:K (got {name!r})")


@contextlib.contextmanager
def single_thread_on_cpu(device: torch.device) -> Iterator[None]:
    """Run the block on one torch thread when ``device`` is the CPU, then restore the count.

    Small-batch loops (batch 50 through a 1000-wide MLP with batch-norm) gain nothing from
    intra-op threads and lose much when a core is busy: on a 2-core machine one batch-norm call
    took 23 us with 1 thread and 2-33 ms with 2 (the second figure with another process running).
    """
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def precision_mode(precision: str, device: torch.device) -> Iterator[None]:
    """Run the block in ``precision``: "fp32", "bf16" autocast, or "tf32" matmuls on CUDA.

    Callers use it for the steps where speed matters more than the last bits (attack gradient
    steps, a first pass of Monte Carlo decisions) and re-check what must be exact in fp32.
    """
    if precision == "bf16":
        # No weight-cast cache: each weight is used once per forward, and a cache held across
        # a CUDA-graph capture would be unsafe.
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, cache_enabled=False):
            yield
    elif precision == "tf32" and device.type == "cuda":
        old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
    else:  # fp32, or tf32 on a device without TF32
        yield


def describe_device(device: torch.device) -> str:
    """A readable name, e.g. ``cuda:0 (NVIDIA H100 80GB HBM3)`` or ``cpu``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
