"""Sweeps on the local executor against `--executor ray`: speed-up, Ray start-up, per-point cost.

A throwaway experiment of ``--points`` CPU-bound points (each one torch thread of matrix products,
about half a second here) runs through the real runner, once in process and once as Ray tasks on a
local Ray of ``--workers`` CPUs, in alternating rounds; then a sweep of trivial points measures
what each point costs the Ray executor beyond the in-process one (submit, schedule, pickle the
closure, write the point file in the worker, wait). Ray's start-up is ``ray.init`` plus the first
task (its worker process starting).

    python benchmarks/sweeps.py [--points 16] [--workers 2] [--steps 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from _timing import describe

from advgeom.devices import single_thread_on_cpu
from advgeom.runs import registry, runner
from advgeom.runs.executors import Executor, LocalExecutor


@dataclass(frozen=True)
class SweepConfig:
    points: int = 16
    size: int = 256
    steps: int = 1000  # matrix products per point (about 0.46 s on one thread here)


def busy_point(size: int, steps: int, key: str, ctx) -> float:
    """One CPU-bound point on one torch thread: ``steps`` products of ``size`` x ``size``."""
    with single_thread_on_cpu(torch.device("cpu")):
        gen = ctx.generator(key)
        x = torch.randn(size, size, generator=gen)
        w = torch.randn(size, size, generator=gen) / size**0.5
        for _ in range(steps):
            x = torch.tanh(x @ w)
        return float(x.sum())


def sweep_run(cfg: SweepConfig, ctx) -> dict:
    values = ctx.points([
        (f"p{i}", functools.partial(busy_point, cfg.size, cfg.steps, f"p{i}", ctx))
        for i in range(cfg.points)
    ])
    return {"claims": [], "metrics": {"values": values}}


EXPERIMENT = registry.Experiment(id="bench.sweep", paper="gilmer", title="benchmark sweep",
                                 config=SweepConfig, run=sweep_run, plot=lambda results: {})


def run_once(cfg: SweepConfig, root: Path, executor: Executor) -> tuple[float, list]:
    """Wall-clock seconds of one whole run (new run folder, every point computed)."""
    request = runner.RunRequest(experiment=EXPERIMENT, config=cfg, scale="default", root=root,
                                executor=executor)
    began = time.perf_counter()
    results = runner.execute(request, runner.start(request))
    return time.perf_counter() - began, results["metrics"]["values"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--trivial-points", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import ray

    from advgeom.runs.ray_executor import RayExecutor

    describe(torch.device("cpu"), ("ray",))
    began = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    ray.get(ray.remote(lambda: None).remote())
    startup = time.perf_counter() - began
    local, on_ray = LocalExecutor(), RayExecutor(address=None, cpus_per_task=1, gpus_per_task=0)
    with on_ray, tempfile.TemporaryDirectory() as tmp:
        busy = SweepConfig(points=args.points, steps=args.steps)
        times: dict[str, list[float]] = {"local": [], "ray": []}
        values = {}
        for r in range(args.repeats):  # alternate, so both see the same machine load
            for name in ("local", "ray") if r % 2 == 0 else ("ray", "local"):
                seconds, values[name] = run_once(busy, Path(tmp) / name, on_ray if name ==
                                                 "ray" else local)
                times[name].append(seconds)
        assert values["ray"] == values["local"], "Ray gave other numbers than the local run"
        trivial = SweepConfig(points=args.trivial_points, steps=0, size=1)
        per_point = {}
        for name, executor in (("local", local), ("ray", on_ray)):
            run_once(trivial, Path(tmp) / f"warm-{name}", executor)
            per_point[name] = run_once(trivial, Path(tmp) / f"t-{name}", executor)[0]
    ray.shutdown()
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"\n{args.points} CPU-bound points ({args.steps} products of {busy.size}^2 each), "
          f"median of {args.repeats} runs:")
    print(f"  local (in process, 1 thread per point): {med['local']:.2f} s "
          f"(min {min(times['local']):.2f})")
    print(f"  ray, {args.workers} workers:                    {med['ray']:.2f} s "
          f"(min {min(times['ray']):.2f})")
    print(f"  speed-up local / ray:                   {med['local'] / med['ray']:.2f}x")
    print(f"Ray start-up (ray.init + first task):     {startup:.2f} s")
    n = args.trivial_points
    print(f"{n} trivial points, per point: local {1e3 * per_point['local'] / n:.1f} ms, ray "
          f"{1e3 * per_point['ray'] / n:.1f} ms -> Ray's overhead per point "
          f"{1e3 * (per_point['ray'] - per_point['local']) / n:+.1f} ms")


if __name__ == "__main__":
    main()
