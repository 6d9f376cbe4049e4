"""Loading a user's model: ``MODULE:FACTORY`` plus optional safetensors weights.

``MODULE`` is a dotted module name (imported with the current folder on the path, as ``python
-m`` would) or the path of a ``.py`` file; ``FACTORY`` is a callable in it that takes no
arguments and returns an ``nn.Module``. Weights are read with safetensors only: loading a file
never runs code (a pickled checkpoint could). Every way this can go wrong is an InputError that
names the option, the cause and the fix.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from advgeom.errors import InputError

_LISTED = 5  # names listed in a message before "and N more"


def load_model(spec: str, *, weights: str | Path | None = None) -> nn.Module:
    """Build the model ``MODULE:FACTORY`` and load ``weights`` into it; return it in eval mode.

    Raises:
        InputError: a malformed spec, a module that cannot be imported, a missing or failing
            factory, a factory that returns no ``nn.Module``, or weights that cannot be read or
            do not fit (missing or unexpected tensors, shape mismatches: named).
    """
    module_name, factory_name = parse_spec(spec)
    module = import_user_module(module_name, spec=spec)
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        names = sorted(
            n
            for n, v in vars(module).items()
            if callable(v)
            and not n.startswith("_")
            and getattr(v, "__module__", None) == module.__name__
        )
        what = "is not callable" if hasattr(module, factory_name) else "is not defined there"
        raise InputError(
            f"--model {spec}: {factory_name!r} {what}; callables it defines: "
            f"{', '.join(names) or 'none'}"
        )
    try:
        model = factory()
    except (
        Exception,
        SystemExit,
    ) as err:  # the user's code: any failure is theirs to fix, in one line
        raise InputError(f"--model {spec}: {factory_name}() failed: {_first_line(err)}") from err
    if not isinstance(model, nn.Module):
        raise InputError(
            f"--model {spec}: {factory_name}() returned {type(model).__name__}, "
            "not a torch.nn.Module"
        )
    if weights is not None:
        load_weights(model, weights)
    return model.eval()


def parse_spec(spec: str) -> tuple[str, str]:
    """``MODULE:FACTORY`` -> (module, factory); the last colon splits (paths may hold one)."""
    module, sep, factory = str(spec).rpartition(":")
    if not sep or not module or not factory.isidentifier():
        raise InputError(
            f"--model must be MODULE:FACTORY, e.g. mymodels:build or "
            f"models/net.py:make_net (got {spec!r})"
        )
    return module, factory


def import_user_module(name: str, *, spec: str) -> ModuleType:
    """Import a dotted module name (from the current folder too) or a ``.py`` file."""
    is_file = name.endswith(".py") or "/" in name or "\\" in name
    try:
        if is_file:
            return _import_file(Path(name), spec=spec)
        with _cwd_on_path():
            return importlib.import_module(name)
    except InputError:
        raise
    except (Exception, SystemExit) as err:  # SyntaxError, ImportError, whatever its top raises
        raise InputError(f"--model {spec}: cannot import {name!r}: {_first_line(err)}") from err


def _import_file(path: Path, *, spec: str) -> ModuleType:
    if not path.is_file():
        raise InputError(f"--model {spec}: no such file {str(path)!r}")
    # A name of its own per file, so two files called model.py do not collide in sys.modules.
    name = f"advgeom_user_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise InputError(f"--model {spec}: {str(path)!r} cannot be imported as Python")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        with _on_path(path.resolve().parent):  # so the file can import its neighbours
            module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def _cwd_on_path() -> contextlib.AbstractContextManager:
    return _on_path(Path.cwd())


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Load a safetensors file into ``model`` (strict: every tensor must fit exactly).

    Tied parameters (one tensor under two names, which ``safetensors.torch.save_model`` stores
    once) count as present when any of their names is in the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--weights {path}: no such file")
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(
            f"--weights {path}: not a readable safetensors file ({_first_line(err)}); "
            "save weights with safetensors.torch.save_file(model.state_dict(), "
            "PATH)"
        ) from err
    expected = model.state_dict()
    state = _fill_tied(expected, state)
    problems = _mismatches(expected, state)
    if problems:
        raise InputError(f"--weights {path} do not fit the model: {'; '.join(problems)}")
    model.load_state_dict(state, strict=True)


def _fill_tied(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> dict:
    """Copy a stored tensor to the other names of the model's tensors tied to it."""
    by_storage: dict[int, list[str]] = {}
    for name, tensor in expected.items():
        if tensor.numel():
            by_storage.setdefault(tensor.untyped_storage().data_ptr(), []).append(name)
    state = dict(state)
    for names in by_storage.values():
        present = [n for n in names if n in state]
        for name in names:
            if present and name not in state:
                state[name] = state[present[0]]
    return state


def _mismatches(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> list[str]:
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} in the file vs {tuple(v.shape)} in the model"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    for what, names in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("shape mismatch", shapes),
    ):
        if names:
            more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
            problems.append(f"{what}: {', '.join(names[:_LISTED])}{more}")
    return problems


def _first_line(err: BaseException) -> str:
    text = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
