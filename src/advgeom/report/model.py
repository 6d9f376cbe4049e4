"""What a report holds, independent of how it is rendered (HTML or Markdown).

A :class:`Report` is a list of :class:`Section` (one per paper for a reproduction, one per
instrument for an audit); a section holds :class:`Block` (one per experiment run or instrument),
each with its claims (paper value beside ours), figures and the settings that differ from the
paper's. The renderers only lay this out; everything here is already read from saved files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advgeom.runs import claims as claims_mod


@dataclass(frozen=True)
class Figure:
    """One saved figure: its files by format (``{"png": path, "svg": path}``) and a caption."""

    name: str
    files: dict[str, Path]
    caption: str


FIGURE_FORMATS = ("png", "svg")  # what a report can show (and the HTML embed)


def figure_files(base: Path, paths: list[str]) -> dict[str, dict[str, Path]]:
    """Saved figure files (relative to ``base``) grouped by name: ``{name: {fmt: path}}``.

    Missing files and formats a report cannot show are left out.
    """
    by_name: dict[str, dict[str, Path]] = {}
    for rel in paths:
        path = Path(base) / rel
        fmt = path.suffix.lstrip(".").lower()
        if fmt in FIGURE_FORMATS and path.is_file():
            by_name.setdefault(path.stem, {})[fmt] = path
    return by_name


@dataclass(frozen=True)
class Setting:
    """A config field whose value in this run differs from the paper's (``paper`` may be None)."""

    name: str
    paper: Any
    used: Any


@dataclass
class Block:
    """One experiment run (or one audit instrument): status, claims, figures, settings."""

    id: str
    title: str
    status: str  # done | failed | interrupted | running | missing
    claims: list[dict] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    seconds: float | None = None
    run_id: str | None = None
    scale: str | None = None
    error: str | None = None
    note: str | None = None  # e.g. "settings: same as the paper's"


@dataclass
class Section:
    """A paper (reproduction) or an instrument (audit) and its blocks."""

    key: str
    heading: str
    byline: str = ""
    blocks: list[Block] = field(default_factory=list)
    empty_note: str = "nothing was run for this section"

    @property
    def claims(self) -> list[dict]:
        return [c for b in self.blocks for c in b.claims]

    @property
    def failed(self) -> int:
        return sum(b.status != "done" for b in self.blocks)

    @property
    def seconds(self) -> float:
        return sum(b.seconds or 0.0 for b in self.blocks)


@dataclass(frozen=True)
class Words:
    """The words a kind of report uses for its columns and verdicts."""

    section: str = "paper"
    block: str = "experiment"
    blocks: str = "experiments"
    what: str = "what it reproduces"
    paper: str = "paper"
    ours: str = "ours"
    agree: str = "reproduced"
    disagree: str = "differs"
    unmeasured: str = "not measured"
    counted: str = "reproduction claims"  # what the headline counts
    legend: str = (
        "reproduced: our measurement satisfies the rule printed under the verdict (the paper's "
        "statement, tested on what we measured); differs: it does not; not measured: this scale "
        "cannot show the effect (the note says which scale can). Only these reproduction claims "
        "are counted; checks of our own construction and extensions beyond the paper are listed "
        "apart under each experiment."
    )

    def verdict(self, agrees: bool | None, kind: str = claims_mod.COUNTED) -> str:
        if kind in claims_mod.APART:  # a check of our code or an extension: it holds or not
            return claims_mod.verdict(agrees, kind)
        return {True: self.agree, False: self.disagree, None: self.unmeasured}[agrees]


# The heading of the table of each kind a report lists apart from the counted ones (claims.APART).
APART_HEADINGS = {
    "construction": "Checks of our construction: they hold by how the experiment is built, so they "
    "verify the code, not the paper (not counted above)",
    "beyond": "Beyond the paper: our extension of its question (not counted above)",
}


def claim_groups(claims: list[dict]) -> list[tuple[str | None, list[dict]]]:
    """The claims of a block as (heading, claims) tables: the counted ones (and an audit's plain
    measurements) first with no heading, then one table per kind listed apart."""
    main = [c for c in claims if claims_mod.kind_of(c) not in claims_mod.APART]
    groups: list[tuple[str | None, list[dict]]] = [(None, main)] if main else []
    for kind in claims_mod.APART:
        heading = APART_HEADINGS[kind]
        mine = [c for c in claims if claims_mod.kind_of(c) == kind]
        if mine:
            groups.append((heading, mine))
    return groups


REPRODUCTION_WORDS = Words()
AUDIT_WORDS = Words(
    section="instrument",
    block="instrument",
    blocks="instruments",
    what="what it measures",
    paper="prediction",
    ours="measured",
    agree="as predicted",
    disagree="not as predicted",
    unmeasured="measurement",
    counted="findings",
    legend="as predicted / not as predicted: the measurement against the "
    "prediction the row names, by the rule printed under the verdict; measurement: a "
    "quantity with no prediction to compare with.",
)


@dataclass
class Report:
    """A whole report: title, facts (what was run, how), sections, environment."""

    title: str
    facts: list[tuple[str, str]]
    sections: list[Section]
    environment: dict[str, Any]
    words: Words = REPRODUCTION_WORDS
    generated: str = ""

    @property
    def claims(self) -> list[dict]:
        return [c for s in self.sections for c in s.claims]

    @property
    def one_block_per_section(self) -> bool:
        """Each section holds one block named like it (an audit): a per-block table repeats."""
        return all(len(s.blocks) == 1 and s.blocks[0].title == s.heading for s in self.sections)

    def counts(self) -> dict[str, int]:
        """Counts of the reproduction claims over the whole report (agree, disagree, unmeasured,
        total)."""
        return claims_mod.count(self.claims)

    def apart(self) -> dict[str, int]:
        """How many claims of each kind listed apart (construction, beyond)."""
        kinds = claims_mod.count_kinds(self.claims)
        return {k: kinds[k] for k in claims_mod.APART}


def section_counts(section: Section) -> dict[str, int]:
    """Claim counts of one section, plus its number of blocks and failed blocks."""
    return {
        **claims_mod.count(section.claims),
        "blocks": len(section.blocks),
        "failed": section.failed,
    }


def tally(counts: dict[str, int]) -> str:
    """"3/4" (agreeing of counted claims), or "-" for a block whose claims are all listed apart."""
    return f"{counts['claims_agree']}/{counts['claims_total']}" if counts["claims_total"] else "-"
