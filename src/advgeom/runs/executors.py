"""Executors: how the points of a run are computed, in this process or as Ray tasks.

The runner hands every batch of independent points (:meth:`RunContext.points`) to one executor:

- :class:`LocalExecutor` (``--executor local``, the default) computes the missing points one after
  another in this process;
- :class:`advgeom.runs.ray_executor.RayExecutor` (``--executor ray``) submits each missing point
  as a Ray task, on a local Ray instance or a cluster (``--address``).

Either way a point's value is written to its own file in the run folder, atomically, the moment it
exists, and points already stored are reused: ``--resume`` continues with either executor, and a
point's numbers do not depend on where it ran (each derives its generator from its own key). Only
the driver writes the catalog, run.json, results.json and the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from advgeom.errors import InputError

if TYPE_CHECKING:
    import torch

    from advgeom.runs.context import RunContext

EXECUTORS = ("local", "ray")
_MISSING = object()


class Executor:
    """What the executors share: the progress callback and the session (``with executor:``)."""

    name = "executor"

    def __init__(self) -> None:
        # Called once per point as it finishes (computed or reused): the driver's one bar.
        self.on_point: Callable[[], None] | None = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the session (nothing to end in process)."""

    def describe(self) -> dict:
        """The record of the executor written to run.json."""
        return {"name": self.name}

    def map_points(self, ctx: RunContext, items: list[tuple[str, Callable[[], Any]]]) -> list:
        """The values of ``items`` (see :meth:`RunContext.points`), in their order."""
        raise NotImplementedError

    def _advance(self) -> None:
        if self.on_point is not None:
            self.on_point()


class LocalExecutor(Executor):
    """Compute the missing points one after another, in this process (resumable)."""

    name = "local"

    def map_points(self, ctx: RunContext, items: list[tuple[str, Callable[[], Any]]]) -> list:
        out = []
        for key, compute in items:
            if ctx.run.load_point(key, default=_MISSING) is _MISSING:
                ctx.run.save_point(key, compute())
                ctx.log(f"point {key}: measured")
            else:
                ctx.log(f"point {key}: reused from an earlier attempt")
            self._advance()
            # Hand back what was stored, so a fresh point and a reused one look exactly alike.
            out.append(ctx.run.load_point(key))
        return out


def create(
    name: str,
    *,
    address: str | None = None,
    cpus_per_task: float | None = None,
    gpus_per_task: float | None = None,
    device: torch.device | None = None,
) -> Executor:
    """The executor the options ask for; InputError for a bad combination or a missing Ray.

    Ray is imported and started only when the executor is entered (``with executor:``).
    """
    if name not in EXECUTORS:
        raise InputError(f"--executor must be one of {', '.join(EXECUTORS)} (got {name!r})")
    if name == "local":
        given = [opt for opt, value in (("--address", address), ("--cpus-per-task", cpus_per_task),
                                        ("--gpus-per-task", gpus_per_task)) if value is not None]
        if given:
            verb = "needs" if len(given) == 1 else "need"
            raise InputError(f"{', '.join(given)} {verb} --executor ray; add it or drop them")
        return LocalExecutor()
    try:
        import ray  # noqa: F401
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'advgeom[ray]'") from None
    from advgeom.runs.ray_executor import RayExecutor

    if gpus_per_task is None:  # a CUDA run's tasks each take a GPU, unless told otherwise
        gpus_per_task = 1.0 if device is not None and device.type == "cuda" else 0.0
    return RayExecutor(address=address, cpus_per_task=1.0 if cpus_per_task is None
                       else cpus_per_task, gpus_per_task=gpus_per_task)
