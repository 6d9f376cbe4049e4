"""The report as Markdown: the same content as the HTML, figures referenced by relative path.

Figures are linked, not embedded, relative to the folder the Markdown file will live in (the
run folders sit beside ``report/``), so the file stays small and renders on GitHub or in an
editor. Text from runs is escaped for table cells (``|``, line breaks) and inline markup.
"""

from __future__ import annotations

import os
from pathlib import Path

from advgeom.report.model import Block, Figure, Report, Section, claim_groups, section_counts, tally
from advgeom.runs.claims import format_value, kind_of

# Characters that would start markup (emphasis, code, raw HTML) or end a table cell; ">" and
# "[" only matter at a line's start or before "](", which table cells and notes never have.
_ESCAPE = str.maketrans({c: "\\" + c for c in "\\|<*`"})


def render_markdown(report: Report, *, folder: Path) -> str:
    """The whole report as Markdown, figure paths relative to ``folder``."""
    w = report.words
    lines = [f"# {_t(report.title)}", ""]
    lines += [f"- **{_t(k)}**: {_t(v)}" for k, v in report.facts]
    apart = ", ".join(f"{n} {kind}" for kind, n in report.apart().items() if n)
    lines += ["", "## Summary", "", _totals(report, report.counts())
              + (f" Listed apart, not counted: {apart}." if apart else ""), "", f"*{_t(w.legend)}*",
              ""]
    lines += [
        f"| {w.section} | {w.blocks} | {w.agree} | {w.disagree} | {w.unmeasured} | "
        "not completed | time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report.sections:
        c = section_counts(s)
        if not s.blocks:
            lines.append(f"| {_t(s.heading)} (`{s.key}`) | none registered | | | | | |")
            continue
        lines.append(
            f"| {_t(s.heading)} (`{s.key}`) | {c['blocks']} | {c['claims_agree']} | "
            f"{c['claims_disagree']} | {c['claims_unmeasured']} | {c['failed']} | "
            f"{_seconds(s.seconds)} |"
        )
    if not report.one_block_per_section:
        lines += [
            "",
            f"| {w.block} | {w.what} | status | {w.agree} | time |",
            "|---|---|---|---:|---:|",
        ]
    for s in report.sections if not report.one_block_per_section else ():
        for b in s.blocks:
            c = section_counts(Section(s.key, s.heading, blocks=[b]))
            lines.append(
                f"| `{b.id}` | {_t(b.title)} | {b.status} | "
                f"{tally(c)} | {_seconds(b.seconds)} |"
            )
    lines.append("")
    for s in report.sections:
        lines += _section(report, s, folder)
    lines += _environment(report.environment)
    return "\n".join(lines) + "\n"


def _t(value: object) -> str:
    """Text safe inside a table cell or a paragraph."""
    return " ".join(str(value).split()).translate(_ESCAPE)


def _v(value: object) -> str:
    return "\u2014" if value is None else _t(format_value(value))


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _totals(report: Report, counts: dict[str, int]) -> str:
    w = report.words
    return (
        f"**{counts['claims_agree']} {w.agree}**, **{counts['claims_disagree']} "
        f"{w.disagree}**, **{counts['claims_unmeasured']} {w.unmeasured}** "
        f"(of {counts['claims_total']} {w.counted})."
    )


def _section(report: Report, section: Section, folder: Path) -> list[str]:
    lines = [f"## {_t(section.heading)}", ""]
    byline = ", ".join(x for x in (_t(section.byline), f"`{section.key}`") if x)
    lines += [byline, ""]
    if not section.blocks:
        return [*lines, _t(section.empty_note), ""]
    lines += [_totals(report, section_counts(section)), ""]
    for block in section.blocks:
        lines += _block(report, block, folder, titled=block.title != section.heading)
    return lines


def _block(report: Report, block: Block, folder: Path, *, titled: bool = True) -> list[str]:
    w = report.words
    meta = block.status + (f" in {_seconds(block.seconds)}" if block.seconds is not None else "")
    if block.scale:
        meta += f", scale {block.scale}"
    if block.run_id:
        meta += f", run `{block.run_id}`"
    lines = [f"### `{block.id}` — {_t(block.title)}", ""] if titled else []
    lines += [meta, ""]
    if block.error:
        lines += [f"**Error:** {_t(block.error)}", ""]
    for heading, claims in claim_groups(block.claims):
        if heading:
            lines += [f"*{_t(heading)}:*", ""]
        lines += [f"| claim | {w.paper} | {w.ours} | verdict | rule | note |",
                  "|---|---|---|---|---|---|"]
        lines += [
            f"| {_t(c['statement'])} (`{c['id']}`) | {_v(c['paper_value'])} "
            f"| {_v(c['measured'])} | {w.verdict(c['agrees'], kind_of(c))} | "
            f"{_t(c.get('rule') or '-')} | {_t(c['note'])} |"
            for c in claims
        ]
        lines.append("")
    for i, fig in enumerate(block.figures, 1):
        lines += [
            f"![{_t(fig.caption).replace('[', '(').replace(']', ')')}]({_relative(fig, folder)})",
            "",
            f"*Figure {i}. {_t(fig.caption)}*",
            "",
        ]
    if block.settings:
        lines += [
            f"Settings that differ from the {w.paper}:",
            "",
            f"| field | {w.paper} | this run |",
            "|---|---|---|",
        ]
        lines += [f"| `{s.name}` | {_v(s.paper)} | {_v(s.used)} |" for s in block.settings]
        lines.append("")
    elif block.note:
        lines += [_t(block.note), ""]
    return lines


def _relative(fig: Figure, folder: Path) -> str:
    """The PNG (every Markdown viewer shows it) else the first file, relative to ``folder``."""
    path = fig.files.get("png") or next(iter(fig.files.values()))
    rel = os.path.relpath(Path(path).resolve(), Path(folder).resolve())
    return Path(rel).as_posix().replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _environment(env: dict) -> list[str]:
    lines = ["## Environment and versions", "", "| | |", "|---|---|"]
    for key, value in env.items():
        if key != "packages":
            lines.append(f"| {_t(key)} | {_t(format_value(value))} |")
    for name, version in (env.get("packages") or {}).items():
        lines.append(f"| {_t(name)} | {_t(version or 'not installed')} |")
    return [*lines, ""]
