"""Claims on expansion curves (growth, order, limit), each decided by a declared rule.

Shared by ``discontinuity.expansion`` and ``discontinuity.generative``. Every claim measures r
in float64 (Eq. 6, the paper's definition; float64 so rounding does not pass for geometry) and
its note gives e_a, float32 and the part of the curve above the paper's range.
"""

from __future__ import annotations

from collections.abc import Sequence

from advgeom.experiments.badger2023._curves import describe, growths
from advgeom.runs import rules
from advgeom.runs.claims import claim

ORDER_MARGIN = 1.1  # "more growth" must beat the first model's growth by 10% (draw noise)


def saturation(curve: dict, eta_from: float) -> str:
    """The part of the curve above the paper's range, ``q(eta_from) / q(1)``, for the notes."""
    top = max(curve["float64"]["eta"])
    if top <= eta_from * (1 + 1e-9):
        return ""
    return (
        f"; outside the paper's range, q({eta_from:g}) / q({top:g}): "
        f"{describe(growths(curve, top, eta_from))} (a step of {top:g} on every pixel: "
        "saturation, not the behaviour as eta -> 0)"
    )


def growth_claim(
    id: str,
    statement: str,
    curve: dict,
    *,
    expect_growth: bool,
    factor: float,
    eta_from: float,
    eta_to: float,
    measurable: bool,
    note: str,
) -> dict:
    """A claim that r grows (x >= factor) or stays flat (x <= factor) over eta_from -> eta_to.

    Measured: the growth of r in float64. r (Eq. 6) is the paper's definition and float64
    separates geometry from rounding; the note gives e_a, float32 and the part above the range.
    """
    g = growths(curve, eta_from, eta_to)
    what = f"the growth of r (float64) from eta {eta_from:g} to {eta_to:g}"
    rule = rules.at_least(factor, what=what) if expect_growth else rules.at_most(factor, what=what)
    return claim(
        id,
        statement,
        paper_value="r grows as eta -> 0" if expect_growth else "little or no growth of r",
        measured=g["r_float64"],
        rule=rule,
        measurable=measurable,
        note=f"growth q({eta_to:g}) / q({eta_from:g}): {describe(g)}"
        f"{saturation(curve, eta_from)}; {note}",
    )


def _ordered(values: list, margin: float) -> bool:
    """Never decreasing along the order, and the last beats the first by ``margin``."""
    if any(v is None for v in values):
        return False
    steps = all(a <= b for a, b in zip(values, values[1:], strict=False))
    return steps and values[-1] >= margin * values[0]


def order_rule(names: Sequence[str], *, what: str) -> rules.Rule:
    """The growth never falls along ``names`` and the last beats the first by ORDER_MARGIN."""
    names = list(names)
    return rules.predicate(
        lambda m: isinstance(m, dict) and _ordered([m.get(n) for n in names], ORDER_MARGIN),
        f"{what} never decreases along {' <= '.join(names)} and the last exceeds the first by "
        f"{ORDER_MARGIN - 1:.0%}",
        fails_on={n: float(len(names) - i) for i, n in enumerate(names)},
        holds_on={n: float(1 + i) for i, n in enumerate(names)},
    )


def order_claim(
    id: str,
    statement: str,
    named: dict[str, dict],
    *,
    eta_from: float,
    eta_to: float,
    measurable: bool,
    note: str,
) -> dict:
    """A claim that the growth of r (float64) increases along the order of ``named``."""
    g = {name: growths(c, eta_from, eta_to) for name, c in named.items()}
    r32 = [g[n]["r_float32"] for n in named]
    ea = [g[n]["e_a_float64"] for n in named]
    keeps = {True: "keeps", False: "breaks"}
    return claim(
        id,
        statement,
        paper_value=" < ".join(named),
        measured={n: g[n]["r_float64"] for n in named},
        rule=order_rule(named, what=f"the growth of r (float64) from eta {eta_from:g} to "
                        f"{eta_to:g}"),
        measurable=measurable,
        note=f"growth of r (float64) over eta {eta_from:g} -> {eta_to:g}, in that order; float32 "
        f"{keeps[_ordered(r32, ORDER_MARGIN)]} the order ({_fmt(r32)}); e_a (float64) "
        f"{keeps[_ordered(ea, ORDER_MARGIN)]} it ({_fmt(ea)}); {note}",
    )


def limit_claim(
    id: str,
    statement: str,
    named: dict[str, dict],
    *,
    eta_from: float,
    eta_to: float,
    factor: float,
    measurable: bool,
    note: str,
) -> dict:
    """A ``beyond`` claim: r keeps growing below the paper's range (``eta_from`` down to the
    smallest step ``eta_to``) for every model of ``named``.

    The paper's statements are about 1e-1..1e-5 ("approximate" discontinuity); a continuous
    map has a finite limit of r in exact arithmetic, so this asks whether the growth is geometry
    that continues or has stopped. Judged on r in float64 (float32 moves there by rounding).
    """
    g = {name: growths(c, eta_from, eta_to) for name, c in named.items()}
    names = list(named)
    per = "; ".join(f"{name}: {describe(v)}" for name, v in g.items())
    return claim(
        id,
        statement,
        paper_value=f"keeps growing below eta = {eta_from:g}",
        measured={name: v["r_float64"] for name, v in g.items()},
        rule=rules.predicate(
            lambda m: isinstance(m, dict)
            and all(m.get(n) is not None and m[n] >= factor for n in names),
            f"the growth of r (float64) from eta {eta_from:g} to {eta_to:g} is >= {factor:g} "
            f"for each of {', '.join(names)}",
            fails_on=dict.fromkeys(names, 1.0),
            holds_on=dict.fromkeys(names, 10.0 * factor),
        ),
        kind="beyond",
        measurable=measurable,
        note=f"growth q({eta_to:g}) / q({eta_from:g}), ~1 where the curve has reached a finite "
        f"limit (a smooth map, not a discontinuity): {per}; the paper reads growth within "
        f"1e-1..1e-5 only and notes numerical instabilities below 1e-7; {note}",
    )


def _fmt(values: list) -> str:
    return ", ".join("n/a" if v is None else f"{v:.3g}" for v in values)
