"""Claims: a paper's number beside ours, and whether they agree.

Each experiment returns a list of claims; the report tabulates them. ``agrees`` is True or False
when this run could test the claim, and None when it could not (e.g. the default scale is too small
to show the effect): the note then says which scale can.
"""

from __future__ import annotations

from typing import Any

CLAIM_KEYS = ("id", "statement", "paper_value", "measured", "agrees", "note")


def claim(
    id: str,
    statement: str,
    *,
    paper_value: Any,
    measured: Any,
    agrees: bool | None,
    note: str = "",
) -> dict:
    """Build one claim record ``{id, statement, paper_value, measured, agrees, note}``."""
    if type(agrees).__module__ == "numpy" and type(agrees).__name__ in ("bool", "bool_"):
        agrees = bool(agrees)  # numpy's bool, from a comparison involving arrays
    if agrees is not None and not isinstance(agrees, bool):
        raise TypeError(f"claim {id!r}: agrees must be True, False or None, not {agrees!r}")
    return {
        "id": id,
        "statement": statement,
        "paper_value": paper_value,
        "measured": measured,
        "agrees": agrees,
        "note": note,
    }


def count(claims: list[dict]) -> dict[str, int]:
    """Counts of claims that agree, disagree and could not be measured."""
    return {
        "claims_total": len(claims),
        "claims_agree": sum(c["agrees"] is True for c in claims),
        "claims_disagree": sum(c["agrees"] is False for c in claims),
        "claims_unmeasured": sum(c["agrees"] is None for c in claims),
    }


def format_value(value: Any) -> str:
    """A claim's value for people: numbers to 4 significant digits, also inside lists and dicts."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def verdict(agrees: bool | None) -> str:
    """A word for a claim's outcome: reproduced, differs, or not measurable at this scale."""
    return {True: "reproduced", False: "differs", None: "not measured"}[agrees]
