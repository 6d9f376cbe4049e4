"""Choosing the device a run computes on."""

from __future__ import annotations

import torch

from advgeom.errors import InputError


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


def describe_device(device: torch.device) -> str:
    """A readable name, e.g. ``cuda:0 (NVIDIA H100 80GB HBM3)`` or ``cpu``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
