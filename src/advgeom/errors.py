"""Errors a user can cause, and the one-line messages they get.

Library code raises these for anything a user typed or supplied (an option, a config value, a data
folder, a model). The CLI turns them into a single ``error: ...`` line and exit code 2, with no
traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import math
from typing import Any


class AdvgeomError(Exception):
    """Base class of every error advgeom raises on purpose."""


class InputError(AdvgeomError, ValueError):
    """A bad value for a named argument, option or config field.

    The message names the field and says how to fix it, e.g.
    ``"n must be >= 1 (got 0): set n to a positive integer"``.
    """


class DataError(AdvgeomError):
    """A data set that cannot be found, read or trusted (missing, truncated, corrupt, wrong checksum)."""


def check_finite(name: str, value: Any) -> None:
    """Raise InputError if a number is NaN or infinite."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{name} must be a finite number (got {value})")


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise InputError unless ``value`` is finite and > 0 (or >= 0 with ``allow_zero``)."""
    check_finite(name, value)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be {bound} (got {value})")


def check_choice(name: str, value: Any, choices: tuple | list) -> None:
    """Raise InputError unless ``value`` is one of ``choices``, listing them."""
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))} (got {value!r})")
