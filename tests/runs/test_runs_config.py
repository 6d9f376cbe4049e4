"""Config parsing: ``--set key=value``, type checks, scale overrides and the config hash."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advgeom.errors import InputError
from advgeom.runs.config import (
    coerce,
    config_hash,
    field_types,
    from_dict,
    parse_assignment,
    resolve,
    to_dict,
    type_name,
)


@dataclass(frozen=True)
class Cfg:
    n: int = 10
    R: float = 1.3
    name: str = "mnist"
    norm: Literal["l2", "linf"] = "l2"
    sizes: tuple[int, ...] = (1, 2)
    limit: Optional[int] = None  # noqa: UP045 - the typing spelling is what is tested here
    cap: float | None = None
    flag: bool = False

    def __post_init__(self) -> None:
        if self.n < 1:
            raise InputError(f"n must be >= 1 (got {self.n})")


# -- parse_assignment ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n=5", ("n", 5)),
        (" n = 5 ", ("n", 5)),
        ("R=1.3", ("R", 1.3)),
        ("n=1e4", ("n", 1e4)),
        ("name='cifar'", ("name", "cifar")),
        ("name=mnist", ("name", "mnist")),  # a bare word is a string
        ("name=a=b", ("name", "a=b")),  # only the first = splits
        ("sizes=(1, 2)", ("sizes", (1, 2))),
        ("sizes=[3]", ("sizes", [3])),
        ("flag=True", ("flag", True)),
        ("limit=None", ("limit", None)),
        ("x=-2", ("x", -2)),
        ("x=", ("x", "")),
    ],
)
def test_parse_assignment_literals(text, expected):
    key, value = parse_assignment(text)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


@pytest.mark.parametrize("raw", ["nan", "NaN", "NAN"])
def test_parse_assignment_nan(raw):
    key, value = parse_assignment(f"R={raw}")
    assert key == "R" and isinstance(value, float) and math.isnan(value)


@pytest.mark.parametrize("raw", ["inf", "Inf", "+inf", "infinity"])
def test_parse_assignment_inf(raw):
    assert parse_assignment(f"R={raw}") == ("R", math.inf)


@pytest.mark.parametrize("raw", ["-inf", "-Infinity"])
def test_parse_assignment_negative_inf(raw):
    assert parse_assignment(f"R={raw}") == ("R", -math.inf)


@pytest.mark.parametrize("text", ["n", "=5", "", " = "])
def test_parse_assignment_needs_key_and_equals(text):
    with pytest.raises(InputError, match="key=value"):
        parse_assignment(text)


# -- coerce -------------------------------------------------------------------------------------
def test_coerce_int():
    assert coerce("n", 5, int) == 5
    value = coerce("n", 1e4, int)  # 1e4 is accepted for a count
    assert value == 10_000 and type(value) is int
    assert type(coerce("n", 3.0, int)) is int
    for bad in (1.5, True, False, "5", None, [1], math.nan, math.inf):
        with pytest.raises(InputError, match=r"^n must be an integer"):
            coerce("n", bad, int)


def test_coerce_float():
    value = coerce("R", 2, float)  # an int is accepted for a float
    assert value == 2.0 and type(value) is float
    assert coerce("R", 1.25, float) == 1.25
    assert coerce("R", math.inf, float) == math.inf  # range checks are the config's business
    with pytest.raises(InputError, match="R must be a number, not NaN"):
        coerce("R", math.nan, float)
    for bad in (True, "1.3", None, (1.0,)):
        with pytest.raises(InputError, match=r"^R must be a number"):
            coerce("R", bad, float)


def test_coerce_str_and_bool():
    assert coerce("name", "x", str) == "x"
    with pytest.raises(InputError, match="name must be a string"):
        coerce("name", 3, str)
    assert coerce("flag", True, bool) is True
    assert coerce("flag", False, bool) is False
    for bad in (1, 0, "True", None):
        with pytest.raises(InputError, match="flag must be True or False"):
            coerce("flag", bad, bool)


def test_coerce_literal_lists_choices():
    assert coerce("norm", "linf", Literal["l2", "linf"]) == "linf"
    with pytest.raises(InputError, match=r"norm must be one of 'l2', 'linf' \(got 'l1'\)"):
        coerce("norm", "l1", Literal["l2", "linf"])


def test_coerce_tuple():
    assert coerce("sizes", [1, 2.0], tuple[int, ...]) == (1, 2)
    assert coerce("sizes", (5,), tuple[int, ...]) == (5,)
    assert coerce("sizes", 100, tuple[int, ...]) == (100,)  # --set sizes=100
    assert coerce("sizes", [], tuple[int, ...]) == ()
    with pytest.raises(InputError, match=r"sizes\[1\] must be an integer"):
        coerce("sizes", [1, "x"], tuple[int, ...])


@pytest.mark.parametrize("tp", [Optional[int], int | None])  # noqa: UP045
def test_coerce_optional(tp):
    assert coerce("limit", None, tp) is None
    assert coerce("limit", 3, tp) == 3
    with pytest.raises(InputError, match="limit must be an integer | None"):
        coerce("limit", "x", tp)


def test_coerce_any_and_unsupported():
    marker = object()
    assert coerce("x", marker, Any) is marker
    with pytest.raises(TypeError, match="unsupported annotation"):
        coerce("x", {}, dict)


def test_type_names():
    assert type_name(int) == "an integer"
    assert type_name(tuple[float, ...]) == "tuple of a number"
    assert type_name(Literal["a", "b"]) == "'a' | 'b'"
    assert type_name(int | None) == "an integer | None"


def test_field_types_resolve_string_annotations():
    types_ = field_types(Cfg)
    assert types_["n"] is int and types_["R"] is float
    assert list(types_) == ["n", "R", "name", "norm", "sizes", "limit", "cap", "flag"]


# -- resolve ------------------------------------------------------------------------------------
def test_resolve_defaults_then_scale_then_assignments():
    assert resolve(Cfg) == Cfg()
    cfg = resolve(Cfg, scale_overrides={"n": 3, "name": "digits"})
    assert (cfg.n, cfg.name) == (3, "digits")
    cfg = resolve(Cfg, scale_overrides={"n": 3, "name": "digits"},
                  assignments=["n=7", "R=2", "sizes=[4, 5]", "norm=linf", "limit=9", "cap=0.5"])
    assert cfg == Cfg(n=7, R=2.0, name="digits", norm="linf", sizes=(4, 5), limit=9, cap=0.5)
    assert type(cfg.R) is float and type(cfg.sizes) is tuple
    assert resolve(Cfg, assignments=["n=1", "n=4"]).n == 4  # the last one wins


def test_resolve_unknown_key_lists_valid_keys():
    with pytest.raises(InputError) as info:
        resolve(Cfg, assignments=["sise=3"])
    message = str(info.value)
    assert "'sise'" in message and "Did you mean sizes" in message
    assert "Valid keys: n, R, name, norm, sizes, limit, cap, flag" in message


def test_resolve_type_errors_and_config_checks():
    with pytest.raises(InputError, match="n must be an integer"):
        resolve(Cfg, assignments=["n=abc"])
    with pytest.raises(InputError, match="n must be >= 1"):
        resolve(Cfg, assignments=["n=0"])


# -- to_dict / from_dict / config_hash ----------------------------------------------------------
def test_to_dict_from_dict_round_trip():
    cfg = Cfg(n=4, R=2.5, sizes=(7, 8), limit=3, flag=True)
    data = to_dict(cfg)
    assert data["sizes"] == [7, 8]  # plain JSON: tuples become lists
    assert from_dict(Cfg, data) == cfg
    assert from_dict(Cfg, {**data, "removed_field": 1}) == cfg  # old runs' extra keys ignored


def test_config_hash_is_stable_and_sensitive():
    a, b = Cfg(), resolve(Cfg, assignments=["n=10"])
    assert config_hash(a) == config_hash(b) == config_hash(Cfg())
    assert len(config_hash(a)) == 16
    assert config_hash(from_dict(Cfg, to_dict(a))) == config_hash(a)
    changed = {config_hash(Cfg(n=11)), config_hash(Cfg(R=1.31)), config_hash(Cfg(name="x")),
               config_hash(Cfg(sizes=(2, 1))), config_hash(Cfg(flag=True))}
    assert len(changed) == 5 and config_hash(a) not in changed


def test_config_hash_is_a_known_value():
    """The hash is of the sorted JSON values, so it does not change between processes/versions."""
    import hashlib
    import json

    @dataclass(frozen=True)
    class Small:
        b: int = 1
        a: float = 0.5

    text = json.dumps({"a": 0.5, "b": 1}, sort_keys=True)
    assert config_hash(Small()) == hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Numbers:
    count: int = 0
    scale: float = 0.0
    sizes: tuple[int, ...] = ()


@given(
    count=st.integers(min_value=-(2**62), max_value=2**62),
    scale=st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                    st.integers(min_value=-(2**53), max_value=2**53)),
    sizes=st.lists(st.integers(min_value=-1000, max_value=1000), max_size=5),
)
def test_coerce_round_trips_through_to_dict_from_dict(count, scale, sizes):
    cfg = Numbers(count=coerce("count", count, int), scale=coerce("scale", scale, float),
                  sizes=coerce("sizes", sizes, tuple[int, ...]))
    assert type(cfg.count) is int and type(cfg.scale) is float
    again = from_dict(Numbers, to_dict(cfg))
    assert again == cfg
    assert type(again.count) is int and type(again.scale) is float
    assert config_hash(again) == config_hash(cfg)
