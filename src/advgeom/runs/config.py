"""Experiment configs: paper defaults, scale overrides and ``--set key=value``.

A config is a frozen dataclass whose defaults are the paper's settings. A scale (``smoke``,
``default``) overrides some fields; ``--set`` overrides any field last. Values are parsed with
``ast.literal_eval`` and checked against the field's type, so ``--set n=abc`` fails with a message
naming ``n`` and its type instead of failing deep inside a run.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import hashlib
import json
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union

from advgeom.errors import InputError

SCALES = ("smoke", "default", "paper")


def field_types(config_cls: type) -> dict[str, Any]:
    """Field name -> resolved type annotation."""
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls)}


def type_name(tp: Any) -> str:
    """A short readable name for a type annotation, for error messages."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        inner = type_name(args[0]) if args else "value"
        return f"tuple of {inner}"
    words = {int: "an integer", float: "a number", str: "a string", bool: "True or False",
             type(None): "None"}
    return words.get(tp, getattr(tp, "__name__", str(tp)))


def coerce(name: str, value: Any, tp: Any) -> Any:
    """Check ``value`` against annotation ``tp``; return it converted (int -> float, list -> tuple).

    Raises:
        InputError: naming ``name`` and the expected type.
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        for arg in args:
            try:
                return coerce(name, value, arg)
            except InputError:
                continue
        raise _type_error(name, value, tp)
    if origin is Literal:
        if value in args:
            return value
        raise InputError(f"{name} must be one of {', '.join(map(repr, args))} (got {value!r})")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            value = (value,)  # --set sizes=100 means the one-element tuple (100,)
        inner = args[0] if args else Any
        return tuple(coerce(f"{name}[{i}]", v, inner) for i, v in enumerate(value))
    if tp is type(None):
        if value is None:
            return None
        raise _type_error(name, value, tp)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(name, value, tp)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)  # allow 1e4 for counts
        raise _type_error(name, value, tp)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isnan(value):
                raise InputError(f"{name} must be a number, not NaN")
            return float(value)
        raise _type_error(name, value, tp)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _type_error(name, value, tp)
    raise TypeError(f"config field {name}: unsupported annotation {tp!r}")


def _type_error(name: str, value: Any, tp: Any) -> InputError:
    return InputError(f"{name} must be {type_name(tp)} (got {value!r})")


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``key=value`` and parse the value as a Python literal (bare words stay strings)."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise InputError(f"--set expects key=value (got {text!r})")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        if raw.lower() == "nan":
            value = math.nan
        elif raw.lower() in ("inf", "+inf", "infinity", "+infinity"):
            value = math.inf
        elif raw.lower() in ("-inf", "-infinity"):
            value = -math.inf
        else:
            value = raw  # `--set dataset=mnist` needs no quotes
    return key, value


def resolve(
    config_cls: type,
    *,
    scale_overrides: Mapping[str, Any] | None = None,
    assignments: Sequence[str] = (),
) -> Any:
    """Build a config: defaults, then a scale's overrides, then ``--set`` assignments.

    Raises:
        InputError: an unknown key (the message lists valid keys), a value of the wrong type, or a
            value the config's own ``__post_init__`` check refuses.
    """
    types_ = field_types(config_cls)
    # Scale overrides go through the same checks as --set, so a resumed run (rebuilt from JSON)
    # gets exactly the same typed config and hash.
    overrides = scale_overrides or {}
    values: dict[str, Any] = {k: coerce(k, v, types_[k]) for k, v in overrides.items()}
    for text in assignments:
        key, value = parse_assignment(text)
        if key not in types_:
            close = difflib.get_close_matches(key, types_, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise InputError(
                f"unknown config key {key!r}.{hint} Valid keys: {', '.join(types_)}"
            )
        values[key] = coerce(key, value, types_[key])
    return config_cls(**values)


def to_dict(config: Any) -> dict[str, Any]:
    """A config as plain JSON data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(config_cls: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a config saved by :func:`to_dict` (for ``--resume``)."""
    types_ = field_types(config_cls)
    return config_cls(**{k: coerce(k, v, types_[k]) for k, v in data.items() if k in types_})


def config_hash(config: Any) -> str:
    """A short stable hash of a config's values."""
    text = json.dumps(to_dict(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
