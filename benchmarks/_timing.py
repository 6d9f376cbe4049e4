"""Timing helpers shared by the benchmark scripts: alternating rounds, medians, machine line.

Scripts run as ``python benchmarks/NAME.py``, so this module is importable as ``_timing``.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable

import torch


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """(wall-clock, process CPU) seconds of one call. On a shared machine the CPU time is the
    steadier of the two: time spent descheduled by other processes does not count."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, time.process_time() - c0


def measure(
    fns: dict[str, Callable[[], object]], repeats: int, device, *, warmup: bool = True
) -> dict[str, list[tuple[float, float]]]:
    """One warm-up call each (optional), then ``repeats`` rounds, rotating the order each round."""
    names = list(fns)
    for name in names if warmup else ():
        fns[name]()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(timed(fns[name], device))
    return times


def report(title: str, times: dict[str, list[tuple[float, float]]], baseline: tuple[str, ...]):
    """Medians, minimum, and speed = (fastest baseline's median) / (this row's median)."""
    wall = {name: statistics.median(w for w, _ in t) for name, t in times.items()}
    cpu = {name: statistics.median(c for _, c in t) for name, t in times.items()}
    refs = [n for n in baseline if n in wall]
    ref = min(refs, key=wall.get) if refs else None
    ref_cpu = min(cpu[n] for n in refs) if refs else None
    print(f"\n{title}")
    print(
        f"{'variant':<26}{'median ms':>10}{'min ms':>9}{'cpu ms':>9}{'speed':>8}{'speed(cpu)':>12}"
    )
    for name, t in times.items():
        speed = f"{wall[ref] / wall[name]:.2f}" if ref else "-"
        speed_cpu = f"{ref_cpu / cpu[name]:.2f}" if ref else "-"
        line = f"{name:<26}{1e3 * wall[name]:>10.1f}{1e3 * min(w for w, _ in t):>9.1f}"
        print(f"{line}{1e3 * cpu[name]:>9.1f}{speed:>8}{speed_cpu:>12}")
    if ref:
        print(f"(speed = median of the fastest of {', '.join(refs)} / this row's median)")


def describe(device: torch.device, packages: Iterable[str] = ()) -> None:
    """Print the versions of torch and ``packages``, the CPU, thread count and device."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [f"torch {torch.__version__}"]
    for name in packages:
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            versions.append(f"{name} missing")
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    print(f"{', '.join(versions)}")
    print(f"{cpu}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, {device}{gpu}")
