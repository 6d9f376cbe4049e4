"""Rules: how a claim's verdict is decided from what was measured.

A claim never computes its own True/False. It declares a :class:`Rule`, and the verdict is
``rule.decide(measured, paper_value)``, so the report can print the rule beside the verdict and a
test can check that the rule is able to fail. Every rule also names

- ``passing(paper_value)``: a value it must accept (the paper's own number, where the rule is
  about the paper's number), or None when there is none to name, and
- ``failing(paper_value)``: a clearly different value it must reject (10x the tolerance off, the
  opposite sign, ...).

The contract test applies both to every claim of every experiment: a rule that no value can fail
is a defect, and so is a rule that rejects the paper's own number.

>>> within(rel=0.3).decide(1.2, 1.0), within(rel=0.3).text
(True, "agrees when measured is within 30% of the paper's value")
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Rule",
    "at_least",
    "at_most",
    "between",
    "contract_problems",
    "equals",
    "factor",
    "predicate",
    "same_sign",
    "slope_near",
    "within",
]


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None (non-numbers, bools, nan, inf)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _fmt(x: float) -> str:
    return f"{x:.4g}"


class Rule:
    """Decides a verdict. Subclasses define :meth:`test`, :attr:`text` and the two examples."""

    text: str = ""

    def decide(self, measured: Any, paper_value: Any) -> bool:
        """True when ``measured`` agrees with the paper's statement under this rule."""
        return bool(self.test(measured, paper_value))

    def test(self, measured: Any, paper_value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def passing(self, paper_value: Any) -> Any:
        """A value the rule must accept, or None when there is none to name."""
        return None

    def failing(self, paper_value: Any) -> Any:  # pragma: no cover - abstract
        """A clearly different value the rule must reject."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<rule: {self.text}>"


@dataclass(frozen=True, repr=False)
class _Within(Rule):
    rel: float
    abs: float
    of: float | None  # a reference other than the paper's value (a theory's prediction)
    what: str

    def _ref(self, paper_value: Any) -> float:
        ref = self.of if self.of is not None else _number(paper_value)
        if ref is None:
            raise ValueError(f"{self.text}: needs a numeric paper value or of= (got "
                             f"{paper_value!r})")
        return ref

    def _tol(self, ref: float) -> float:
        return self.abs + self.rel * abs(ref)

    def test(self, measured, paper_value) -> bool:
        m, ref = _number(measured), self._ref(paper_value)
        return m is not None and abs(m - ref) <= self._tol(ref)

    def passing(self, paper_value):
        return self._ref(paper_value)

    def failing(self, paper_value):
        ref = self._ref(paper_value)
        # Ten tolerances off, and at least a visible step (a tolerance below float resolution
        # would otherwise round the example back onto the reference).
        return ref + 10 * self._tol(ref) + 1e-6 * max(1.0, abs(ref))

    @property
    def text(self) -> str:
        parts = []
        if self.rel:
            parts.append(f"{self.rel:.0%}" if self.rel >= 0.01 else f"{self.rel:g} (relative)")
        if self.abs:
            parts.append(_fmt(self.abs))
        tol = " + ".join(parts) if parts else "exactly"
        target = "the paper's value" if self.of is None else _fmt(self.of)
        return f"agrees when {self.what} is within {tol} of {target}"


def within(rel: float = 0.0, abs: float = 0.0, *, of: float | None = None,
           what: str = "measured") -> Rule:
    """|measured - ref| <= abs + rel * |ref|, ref being the paper's value (or ``of``)."""
    if rel < 0 or abs < 0:
        raise ValueError("within: rel and abs must be >= 0")
    return _Within(float(rel), float(abs), None if of is None else float(of), what)


def slope_near(target: float, abs: float) -> Rule:
    """A fitted (log-log) slope within ``abs`` of ``target``."""
    return within(abs=abs, of=target, what="the fitted slope")


@dataclass(frozen=True, repr=False)
class _Factor(Rule):
    f: float

    def test(self, measured, paper_value) -> bool:
        m, p = _number(measured), _number(paper_value)
        if p is None or p <= 0:
            raise ValueError(f"{self.text}: needs a positive paper value (got {paper_value!r})")
        return m is not None and m > 0 and p / self.f <= m <= p * self.f

    def passing(self, paper_value):
        return paper_value

    def failing(self, paper_value):
        return float(paper_value) * self.f**2

    @property
    def text(self) -> str:
        return f"agrees when measured is within a factor {self.f:g} of the paper's value"


def factor(f: float) -> Rule:
    """paper / f <= measured <= paper * f (positive values)."""
    if f <= 1:
        raise ValueError("factor: f must be > 1")
    return _Factor(float(f))


@dataclass(frozen=True, repr=False)
class _Bound(Rule):
    x: float
    lower: bool  # True: measured >= x
    what: str

    def test(self, measured, paper_value) -> bool:
        m = _number(measured)
        return m is not None and (m >= self.x if self.lower else m <= self.x)

    def passing(self, paper_value):
        return paper_value if _number(paper_value) is not None else self.x

    def failing(self, paper_value):
        gap = max(1.0, abs(self.x))
        return self.x - gap if self.lower else self.x + gap

    @property
    def text(self) -> str:
        return f"agrees when {self.what} {'>=' if self.lower else '<='} {_fmt(self.x)}"


def at_least(x: float, *, what: str = "measured") -> Rule:
    """measured >= x."""
    return _Bound(float(x), True, what)


def at_most(x: float, *, what: str = "measured") -> Rule:
    """measured <= x."""
    return _Bound(float(x), False, what)


@dataclass(frozen=True, repr=False)
class _Between(Rule):
    lo: float
    hi: float
    what: str

    def test(self, measured, paper_value) -> bool:
        m = _number(measured)
        return m is not None and self.lo <= m <= self.hi

    def passing(self, paper_value):
        p = _number(paper_value)
        return p if p is not None else (self.lo + self.hi) / 2

    def failing(self, paper_value):
        return self.hi + max(self.hi - self.lo, 1.0)

    @property
    def text(self) -> str:
        return f"agrees when {self.what} lies in [{_fmt(self.lo)}, {_fmt(self.hi)}]"


def between(lo: float, hi: float, *, what: str = "measured") -> Rule:
    """lo <= measured <= hi."""
    if not lo <= hi:
        raise ValueError("between: needs lo <= hi")
    return _Between(float(lo), float(hi), what)


@dataclass(frozen=True, repr=False)
class _SameSign(Rule):
    def test(self, measured, paper_value) -> bool:
        m, p = _number(measured), _number(paper_value)
        if p is None or p == 0:
            raise ValueError(f"{self.text}: needs a non-zero paper value (got {paper_value!r})")
        return m is not None and m * p > 0

    def passing(self, paper_value):
        return paper_value

    def failing(self, paper_value):
        return -float(paper_value)

    @property
    def text(self) -> str:
        return "agrees when measured has the sign of the paper's value"


same_sign: Rule = _SameSign()


@dataclass(frozen=True, repr=False)
class _Equals(Rule):
    value: Any

    def test(self, measured, paper_value) -> bool:
        return type(measured) is type(self.value) and measured == self.value

    def passing(self, paper_value):
        return self.value

    def failing(self, paper_value):
        if isinstance(self.value, bool):
            return not self.value
        if isinstance(self.value, numbers.Real):
            return self.value + 1
        return None  # a non-number is failed by None (type differs)

    @property
    def text(self) -> str:
        return f"agrees when measured equals {self.value!r}"


def equals(value: Any) -> Rule:
    """measured == value (same type: True is not 1)."""
    return _Equals(value)


@dataclass(frozen=True, repr=False)
class _Predicate(Rule):
    fn: Callable[[Any], Any]
    description: str
    fails_on: Any
    holds_on: Any

    def test(self, measured, paper_value) -> bool:
        return bool(self.fn(measured))

    def passing(self, paper_value):
        return self.holds_on

    def failing(self, paper_value):
        return self.fails_on

    @property
    def text(self) -> str:
        return f"agrees when {self.description}"


def predicate(fn: Callable[[Any], Any], text: str, *, fails_on: Any, holds_on: Any = None) -> Rule:
    """A qualitative rule ``fn(measured)``; ``text`` completes "agrees when ...".

    ``fails_on`` is a measurement the rule must reject (required: it shows the rule can fail);
    ``holds_on`` one it must accept, where one can be named.
    """
    return _Predicate(fn, text, fails_on, holds_on)


def contract_problems(rule: Rule, paper_value: Any) -> list[str]:
    """Why ``rule`` cannot be trusted with this paper value: [] when it rejects its ``failing``
    example and accepts its ``passing`` one (where it names one)."""
    problems = []
    try:
        fail = rule.failing(paper_value)
        if rule.decide(fail, paper_value):
            problems.append(f"accepts its failing example {fail!r}: no value can fail it")
        ok = rule.passing(paper_value)
        if ok is not None and not rule.decide(ok, paper_value):
            problems.append(f"rejects its passing example {ok!r} (the paper's own value where "
                            "it is a number)")
    except Exception as err:  # a rule that cannot even be applied is as bad as one that cannot fail
        problems.append(f"cannot be applied: {type(err).__name__}: {err}")
    return problems
