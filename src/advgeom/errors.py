"""Errors a user can cause, and the one-line messages they get.

Library code raises these for anything a user typed or supplied (an option, a config value, a data
folder, a model). The CLI turns them into a single ``error: ...`` line and exit code 2, with no
traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


class AdvgeomError(Exception):
    """Base class of every error advgeom raises on purpose."""


class InputError(AdvgeomError, ValueError):
    """A bad value for a named argument, option or config field.

    The message names the field and says how to fix it, e.g.
    ``"n must be >= 1 (got 0): set n to a positive integer"``.
    """


class DataError(AdvgeomError):
    """A data set that cannot be found, read or trusted (missing, truncated, corrupt, bad hash)."""


def check_int(name: str, value: Any, *, minimum: int) -> int:
    """Return ``value`` as an int, or raise InputError unless it is an integer >= ``minimum``.

    Bools are refused although they are ints, because ``n=True`` is always a mistake; integral
    floats such as ``1e6`` are accepted because configs and ``--set`` often spell sizes that way.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be an integer >= {minimum} (got {value!r})")
    if not isinstance(value, numbers.Integral) and not (
        math.isfinite(value) and float(value).is_integer()
    ):
        raise InputError(
            f"{name} must be an integer >= {minimum} (got {value!r}): use a whole number"
        )
    value = int(value)
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum} (got {value})")
    return value


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise InputError unless it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a real number (got {value!r})")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number (got {value})")
    return value


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, or raise InputError unless it is finite and > 0 (>= 0)."""
    value = check_real(name, value)
    if value < 0 or (value == 0 and not allow_zero):
        raise InputError(f"{name} must be {'>= 0' if allow_zero else '> 0'} (got {value})")
    return value


def check_choice(name: str, value: Any, choices: tuple | list) -> None:
    """Raise InputError unless ``value`` is one of ``choices``, listing them."""
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))} (got {value!r})")


def check_fields(
    obj: Any, names: tuple[str, ...], *, minimum: int = 1, optional: bool = False
) -> None:
    """Raise InputError for the first of ``obj``'s attributes ``names`` that is below ``minimum``.

    The loop every config's ``__post_init__`` runs over its counts and sizes. With ``optional``,
    a field may also be None (meaning "all" or "unbounded") and is then skipped.
    """
    for name in names:
        value = getattr(obj, name)
        if optional and value is None:
            continue
        if value < minimum:
            none = "None or " if optional else ""
            raise InputError(f"{name} must be {none}>= {minimum} (got {value})")


def check_positive_fields(obj: Any, names: tuple[str, ...]) -> None:
    """Raise InputError for the first of ``obj``'s attributes ``names`` not finite and > 0.

    The loop configs run over learning rates, step sizes and tolerances; NaN fails too.
    """
    for name in names:
        value = getattr(obj, name)
        if not 0 < value < math.inf:
            raise InputError(f"{name} must be > 0 (got {value})")
