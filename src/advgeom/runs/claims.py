"""Claims: a paper's number beside ours, and a verdict decided by a declared rule.

Each experiment returns a list of claims; the report tabulates them. A claim never computes its
own verdict: it names a :class:`~advgeom.runs.rules.Rule`, and ``agrees`` is
``rule.decide(measured, paper_value)``, or None when this run could not measure (``measured`` is
None, or ``measurable=False`` because e.g. the default scale is too small to show the effect: the
note then says which scale can).

Kinds (:data:`KINDS`) say what a verdict is evidence of:

- ``reproduction``: the paper's statement, tested on our measurement. Of an experiment's claims,
  only these are counted as "reproduced / differs" in reports.
- ``construction``: a check that holds by how the experiment is built (it verifies the code, not
  the paper), e.g. a ratio fixed analytically.
- ``beyond``: our own extension of a paper's question.
- ``measurement``: a number reported without a verdict (``rule=None``), e.g. an audit's findings.
"""

from __future__ import annotations

from typing import Any

from advgeom.runs.rules import Rule

CLAIM_KEYS = ("id", "kind", "statement", "paper_value", "measured", "agrees", "rule", "note")
KINDS = ("reproduction", "construction", "beyond", "measurement")
COUNTED = "reproduction"  # the default kind
APART = ("construction", "beyond")  # kinds reports list apart and never count


class Claim(dict):
    """One claim record: a plain dict (what results.json holds) that also keeps its Rule object
    as ``.decided_by``, so tests can apply the rule to other values."""

    decided_by: Rule | None = None


def claim(
    id: str,
    statement: str,
    *,
    paper_value: Any,
    measured: Any,
    rule: Rule | None,
    kind: str = "reproduction",
    measurable: bool = True,
    note: str = "",
) -> Claim:
    """Build one claim record ``{id, kind, statement, paper_value, measured, agrees, rule, note}``.

    Args:
        rule: decides ``agrees`` from ``measured`` (and ``paper_value``); None only for kind
            ``measurement``.
        kind: one of :data:`KINDS`.
        measurable: False when this run cannot show the effect: ``agrees`` is None whatever was
            measured (``measured`` is still reported).
    """
    if kind not in KINDS:
        raise ValueError(f"claim {id!r}: kind must be one of {', '.join(KINDS)} (got {kind!r})")
    if rule is None and kind != "measurement":
        raise ValueError(f"claim {id!r}: a {kind} claim needs a rule (only a 'measurement' "
                         "has none)")
    if rule is not None and not isinstance(rule, Rule):
        raise TypeError(f"claim {id!r}: rule must be a Rule (see advgeom.runs.rules), "
                        f"not {type(rule).__name__}")
    decided = None  # the rule's verdict; None when nothing could be measured
    if rule is not None and measurable and measured is not None:
        decided = rule.decide(measured, paper_value)
    text = rule.text if rule is not None else ""
    record = Claim(zip(CLAIM_KEYS, (id, kind, statement, paper_value, measured, decided, text,
                                    note), strict=True))
    record.decided_by = rule
    return record


def kind_of(c: dict) -> str:
    """A saved claim's kind (results written before kinds existed are reproductions)."""
    return c.get("kind") or COUNTED


def count(claims: list[dict]) -> dict[str, int]:
    """Counts of the claims that agree, disagree and could not be measured, leaving out the kinds
    listed apart (:data:`APART`): reproductions, and an audit's plain measurements."""
    counted = [c for c in claims if kind_of(c) not in APART]
    return {
        "claims_total": len(counted),
        "claims_agree": sum(c["agrees"] is True for c in counted),
        "claims_disagree": sum(c["agrees"] is False for c in counted),
        "claims_unmeasured": sum(c["agrees"] is None for c in counted),
    }


def count_kinds(claims: list[dict]) -> dict[str, int]:
    """How many claims of each kind (every kind listed, zeros included)."""
    return {k: sum(kind_of(c) == k for c in claims) for k in KINDS}


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


def verdict(agrees: bool | None, kind: str = COUNTED) -> str:
    """A word for a claim's outcome: reproduced, differs, or not measurable at this scale (a check
    listed apart holds or fails)."""
    if kind in APART:
        return {True: "holds", False: "fails", None: "not measured"}[agrees]
    return {True: "reproduced", False: "differs", None: "not measured"}[agrees]
