"""The Ray executor: each missing point of a batch is one Ray task, on this machine or a cluster.

``ray.init()`` without an address starts a local Ray instance (all of this machine's cores); with
``--address`` (or ``RAY_ADDRESS``) it joins a running cluster (``ray start --head`` on one machine).
A task asks for ``--cpus-per-task`` CPUs and ``--gpus-per-task`` GPUs, so Ray places it where they
are free; a task given GPUs computes on ``cuda`` (the GPU Ray assigned it).

A task computes on ``--cpus-per-task`` torch threads (at least one). A point's numbers are those
of the in-process run wherever they do not depend on the thread count; float32 kernels that split
a sum across threads (convolutions, large matrix products) can differ in the last bits between
thread counts, so a local run on as many threads (``OMP_NUM_THREADS=C``) gives the same bits.

Large tensors the closures capture (a data set, a model) go through Ray's object store once per
batch of points rather than once per task (:class:`SharedTensors`); each task gets its own copy.

The task computes its point and writes the point file into the run folder itself (atomically),
then returns only the lines it would have logged; the driver logs them, advances the progress bar
and waits for the next. So the run folder must be on a file system every worker sees at the same
path (a shared one on a cluster); the driver alone writes the catalog and the run's other files.

Faults: a worker killed mid-point is retried by Ray (``max_retries``) and nothing finished is lost
(a retried task whose point is already stored returns at once); Ctrl-C in the driver cancels the
outstanding tasks and the run is marked interrupted; ``--resume`` reuses every stored point.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import socket
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import ray
import torch
from ray import cloudpickle

from advgeom.errors import InputError
from advgeom.runs.context import RunContext, worker_scope
from advgeom.runs.executors import Executor
from advgeom.store.rundir import RunDir

MAX_RETRIES = 3  # a task whose worker died (kill -9, lost node) runs again, up to this many times
CONNECT_TIMEOUT_S = 3.0  # for the TCP check of --address
JOIN_TIMEOUT_S = 5  # for Ray to answer there (about one attempt a second)
SHARE_BYTES = 1 << 20  # captured tensors from this size on travel through the object store once
_MISSING = object()


class RayExecutor(Executor):
    """Submit each missing point as a Ray task; the session lasts while the executor is entered.

    Args:
        address: a cluster's ``HOST:PORT`` (or ``ray://HOST:PORT``, ``auto``); None starts a local
            Ray instance unless ``RAY_ADDRESS`` names one. A Ray session already open in this
            process (``ray.is_initialized()``) is used as it is, and left open.
        cpus_per_task: CPUs each task asks for.
        gpus_per_task: GPUs each task asks for (fractions share a GPU).
    """

    name = "ray"

    def __init__(self, *, address: str | None, cpus_per_task: float, gpus_per_task: float,
                 max_retries: int = MAX_RETRIES) -> None:
        super().__init__()
        self.address, self.max_retries = address, max_retries
        self.cpus_per_task, self.gpus_per_task = cpus_per_task, gpus_per_task
        self._started = False
        self._remote: Any = None

    def __enter__(self) -> RayExecutor:
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        if self.address or not ray.is_initialized():  # an address the user named is checked
            check_reachable(address, option="--address" if self.address else "RAY_ADDRESS")
        if not ray.is_initialized():
            self._init(address)
            self._started = True
        try:
            self._check_resources()
        except BaseException:
            self.close()
            raise
        self._remote = ray.remote(_compute_point)
        return self

    def _init(self, address: str | None) -> None:
        try:
            with _joining(address):
                # Ray's own notices (start-up, token authentication) would break the CLI's
                # one-line errors and clean stderr; its errors still show.
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as err:
            first = (str(err).strip().splitlines() or [""])[0]
            if address is None:
                raise InputError(f"--executor ray: Ray did not start on this machine ({first}); "
                                 "see 'ray start --head' for what it needs") from None
            option = "--address" if self.address else "RAY_ADDRESS"
            raise InputError(f"{option} {address}: cannot join the Ray cluster ({first}); "
                             "check the address 'ray start --head' printed") from None

    def close(self) -> None:
        """Shut Ray down if this executor started it (a session it joined stays open)."""
        if self._started:
            ray.shutdown()
            self._started = False

    def describe(self) -> dict:
        return {"name": self.name,
                "address": self.address or os.environ.get("RAY_ADDRESS") or "local",
                "cpus_per_task": self.cpus_per_task, "gpus_per_task": self.gpus_per_task}

    def _check_resources(self) -> None:
        # A task asking for more than the cluster has would wait forever: refuse it up front.
        have = ray.cluster_resources()
        for option, want, kind in (("--gpus-per-task", self.gpus_per_task, "GPU"),
                                   ("--cpus-per-task", self.cpus_per_task, "CPU")):
            if want > have.get(kind, 0.0):
                raise InputError(
                    f"{option} {want:g}: the Ray cluster has {have.get(kind, 0.0):g} {kind}s in "
                    f"all; ask for at most that" + (" (0 runs on CPUs)" if kind == "GPU" else "")
                )

    def map_points(self, ctx: RunContext, items: list[tuple[str, Callable[[], Any]]]) -> list:
        if self._remote is None:
            raise RuntimeError("RayExecutor used outside 'with executor:'")
        todo: dict[str, Callable[[], Any]] = {}
        for key, compute in items:
            if key in todo:
                continue
            if ctx.run.load_point(key, default=_MISSING) is _MISSING:
                todo[key] = compute
            else:
                ctx.log(f"point {key}: reused from an earlier attempt")
                self._advance()
        run_path, threads = str(ctx.run.path.resolve()), max(1, int(self.cpus_per_task))
        options = {"num_cpus": self.cpus_per_task, "num_gpus": self.gpus_per_task,
                   "max_retries": self.max_retries}
        shared = SharedTensors()
        blobs = {key: shared.dumps(compute) for key, compute in todo.items()}
        stored = shared.put()
        refs = {
            self._remote.options(**options, name=f"point {key}").remote(
                blob, key, run_path, threads, *[stored[i] for i in used]): key
            for key, (blob, used) in blobs.items()
        }
        self._wait(ctx, refs)
        return [ctx.run.load_point(key) for key, _ in items]

    def _wait(self, ctx: RunContext, refs: dict) -> None:
        """Log and count each point as its task finishes; on any error or Ctrl-C cancel the
        tasks still out (their points were not stored, so a resumed run computes them)."""
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    for message in _result(ref, ctx, refs[ref]):
                        ctx.log(message)
                    ctx.log(f"point {refs[ref]}: measured in a Ray task")
                    self._advance()
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise


def _result(ref: Any, ctx: RunContext, key: str) -> list[str]:
    """The task's log lines; a point's own error is raised as it would be in process."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        ctx.log(f"point {key}: failed in its Ray task:\n{err}")
        cause = getattr(err, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise


class SharedTensors:
    """Large tensors the points' closures capture, sent through Ray's object store once.

    A sweep's closures often capture the same data (a training set, a model): pickled with each
    closure, it would travel once per task (MNIST, 190 MB, in every CNN point of
    ``spheres.halfspace``). :meth:`dumps` pickles a closure with each tensor of at least
    ``SHARE_BYTES`` replaced by a slot number; :meth:`put` stores each distinct tensor once; the
    task receives the ones its closure uses as arguments (Ray resolves them) and
    :func:`_loads` puts them back.
    """

    def __init__(self) -> None:
        self._slots: dict[int, tuple[int, torch.Tensor]] = {}  # id(tensor) -> (slot, tensor)

    def dumps(self, compute: Callable[[], Any]) -> tuple[bytes, list[int]]:
        """The pickled closure and the slots it uses, in the order its task receives them."""
        used: list[int] = []
        slots = self._slots

        class Pickler(cloudpickle.CloudPickler):
            def persistent_id(self, obj: Any) -> Any:
                if isinstance(obj, torch.Tensor) and obj.nbytes >= SHARE_BYTES:
                    slot = slots.setdefault(id(obj), (len(slots), obj))[0]
                    if slot not in used:
                        used.append(slot)
                    return ("advgeom-shared-tensor", used.index(slot))
                return None

        buffer = io.BytesIO()
        Pickler(buffer).dump(compute)
        return buffer.getvalue(), used

    def put(self) -> list[Any]:
        """One object-store reference per distinct large tensor, by slot."""
        return [ray.put(t) for _, t in sorted(self._slots.values(), key=lambda st: st[0])]


def _loads(blob: bytes, tensors: tuple[torch.Tensor, ...]) -> Callable[[], Any]:
    """A closure pickled by :meth:`SharedTensors.dumps`, with its shared tensors put back."""

    class Unpickler(pickle.Unpickler):
        def persistent_load(self, pid: Any) -> Any:
            if not (isinstance(pid, tuple) and pid[0] == "advgeom-shared-tensor"):
                raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
            return tensors[pid[1]]

    return Unpickler(io.BytesIO(blob)).load()


def _compute_point(blob: bytes, key: str, run_path: str, threads: int,
                   *tensors: torch.Tensor) -> list[str]:
    """The Ray task: compute point ``key`` and store it in the run folder; return its log."""
    run = RunDir(run_path)
    if run.load_point(key, default=_MISSING) is not _MISSING:  # a retry after the file was written
        return [f"point {key}: stored by an earlier try of its task"]
    torch.set_num_threads(threads)  # the CPUs Ray reserved for this task, no more
    gpu = torch.device("cuda") if ray.get_gpu_ids() else None
    with worker_scope(gpu) as messages:
        compute = _loads(blob, tensors)
        run.save_point(key, compute())
    return list(messages)


@contextlib.contextmanager
def _joining(address: str | None) -> Iterator[None]:
    """While joining a cluster: give up after ``JOIN_TIMEOUT_S`` (Ray's default is a minute of
    retries, each logging a line from C++ straight to file descriptor 2, which is muted here)."""
    if address in (None, "", "local"):
        yield
        return
    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", str(JOIN_TIMEOUT_S))
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def check_reachable(address: str | None, *, option: str = "--address") -> None:
    """Fail within seconds, naming ``option``, when nothing listens at ``HOST:PORT``."""
    if address in (None, "", "auto", "local"):
        return
    rest = address.split("://", 1)[-1]
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"{option} {address}: expected HOST:PORT (e.g. 10.0.0.1:6379, what "
                         "'ray start --head' printed)")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise InputError(f"{option} {address}: no Ray cluster answers there "
                         f"({err.strerror or err}); start one with 'ray start --head' or fix "
                         "the address") from None
