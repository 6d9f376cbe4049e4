"""The checks every config shares: the first bad field is named, with its value."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from advgeom.errors import InputError, check_fields, check_positive_fields


def test_check_fields_names_the_first_field_below_the_minimum():
    cfg = SimpleNamespace(steps=10, seeds=0, chunk=-1)
    check_fields(cfg, ("steps",))
    with pytest.raises(InputError, match=r"^seeds must be >= 1 \(got 0\)$"):
        check_fields(cfg, ("steps", "seeds", "chunk"))
    with pytest.raises(InputError, match=r"steps must be >= 20 \(got 10\)"):
        check_fields(cfg, ("steps",), minimum=20)


def test_optional_fields_may_be_none():
    cfg = SimpleNamespace(train_examples=None, test_examples=0)
    check_fields(cfg, ("train_examples",), optional=True)
    with pytest.raises(InputError, match=r"test_examples must be None or >= 1 \(got 0\)"):
        check_fields(cfg, ("train_examples", "test_examples"), optional=True)


@pytest.mark.parametrize("value", [0.0, -1e-3, math.nan, math.inf])
def test_positive_fields_refuse_zero_negative_nan_and_inf(value):
    with pytest.raises(InputError, match=r"^lr must be > 0"):
        check_positive_fields(SimpleNamespace(step_size=0.1, lr=value), ("step_size", "lr"))
    check_positive_fields(SimpleNamespace(lr=1e-4), ("lr",))
