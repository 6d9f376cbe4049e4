"""The report as one self-contained HTML file: inline CSS, figures as data URIs, no scripts.

Everything taken from runs (statements, notes, values, errors) is escaped; the only URLs in the
file are ``data:`` URIs and ``#fragment`` links, so it opens offline, from a mail attachment or
a CI artifact, exactly as it was written.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable

from advgeom import __version__
from advgeom.report.model import Block, Figure, Report, Section, claim_groups, section_counts, tally
from advgeom.runs.claims import format_value, kind_of

_MIME = {"svg": "image/svg+xml", "png": "image/png"}

_CSS = """
:root { --ok: #1a7f37; --bad: #c0392b; --na: #9a6700; --line: #d0d7de; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: #1f2328; background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 28px; margin: 0 0 8px; }
h2 { font-size: 22px; margin: 40px 0 4px; padding-bottom: 6px;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 17px; margin: 28px 0 4px; }
h3 code { font-size: 15px; }
h4 { font-size: 14px; margin: 16px 0 4px; text-transform: uppercase; letter-spacing: .04em;
     color: #57606a; }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       background: var(--soft); padding: 1px 4px; border-radius: 4px; }
.byline, .meta { color: #57606a; margin: 0 0 8px; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0 0; }
.facts dt { color: #57606a; } .facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.value { font-variant-numeric: tabular-nums; min-width: 6em; max-width: 16em;
           overflow-wrap: break-word; }
td.short, .kv { white-space: nowrap; }
table.settings, #environment table { width: auto; min-width: 60%; }
td.note { color: #57606a; font-size: 13px; }
.stmt { margin-bottom: 2px; }
.rule { color: #57606a; font-size: 12px; margin-top: 3px; max-width: 16em; }
.apart { font-weight: 600; margin: 14px 0 4px; color: #57606a; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 13px;
         font-weight: 600; white-space: nowrap; color: #fff; }
.ok { background: var(--ok); } .bad { background: var(--bad); } .na { background: var(--na); }
.totals { font-size: 16px; margin: 8px 0 12px; }
.totals .badge { font-size: 15px; padding: 2px 10px; }
.error { color: var(--bad); background: #ffebe9; border: 1px solid #ffcecb; padding: 6px 10px;
         border-radius: 6px; overflow-wrap: anywhere; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: #57606a; font-size: 13px; margin-top: 4px; }
nav ul { columns: 2; margin: 4px 0; } nav a, td a { color: #0969da; text-decoration: none; }
footer { margin-top: 48px; color: #57606a; font-size: 13px; }
"""


def render_html(report: Report) -> str:
    """The whole report as an HTML document (a string)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{_e(report.title)}</h1>{_facts(report.facts)}</header>",
        _summary(report),
        _contents(report),
        *(_section(report, s) for s in report.sections),
        _environment(report.environment),
        f"<footer>Written by advgeom {_e(__version__)}"
        + (f" on {_e(report.generated)}" if report.generated else "")
        + ". Self-contained: the figures are embedded; nothing is fetched.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def anchor(kind: str, key: str) -> str:
    """A fragment id for a section or block, e.g. ``paper-simon-gabriel``."""
    return f"{kind}-" + re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


def _facts(facts: Iterable[tuple[str, str]]) -> str:
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    return f'<dl class="facts">{rows}</dl>' if rows else ""


def _badges(counts: dict[str, int], report: Report) -> str:
    w = report.words
    return (
        f'<span class="badge ok">{counts["claims_agree"]} {_e(w.agree)}</span> '
        f'<span class="badge bad">{counts["claims_disagree"]} {_e(w.disagree)}</span> '
        f'<span class="badge na">{counts["claims_unmeasured"]} {_e(w.unmeasured)}</span>'
    )


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _summary(report: Report) -> str:
    w = report.words
    blocks = [b for s in report.sections for b in s.blocks]
    failed = sum(b.status != "done" for b in blocks)
    total_time = sum(b.seconds or 0.0 for b in blocks)
    head = (
        f'<p class="totals">{_badges(report.counts(), report)} &middot; '
        f"{report.counts()['claims_total']} {_e(w.counted)} from {len(blocks)} {_e(w.blocks)}"
        + _apart_words(report)
        + (f', <span class="badge bad">{failed} not completed</span>' if failed else "")
        + f" &middot; {_seconds(total_time)} in all</p>"
        f'<p class="meta">{_e(w.legend)}</p>'
    )
    rows = []
    for s in report.sections:
        c = section_counts(s)
        if not s.blocks:
            rows.append(
                f'<tr><td><a href="#{anchor("section", s.key)}">{_e(s.heading)}</a>'
                f'<br><code>{_e(s.key)}</code></td><td colspan="6">none registered</td>'
                "</tr>"
            )
            continue
        rows.append(
            f'<tr><td><a href="#{anchor("section", s.key)}">{_e(s.heading)}</a>'
            f'<br><code>{_e(s.key)}</code></td><td class="num">{c["blocks"]}</td>'
            f'<td class="num">{c["claims_agree"]}</td><td class="num">{c["claims_disagree"]}</td>'
            f'<td class="num">{c["claims_unmeasured"]}</td><td class="num">{c["failed"]}</td>'
            f'<td class="num">{_seconds(s.seconds)}</td></tr>'
        )
    table = (
        "<table><thead><tr>"
        f"<th>{_e(w.section)}</th><th>{_e(w.blocks)}</th><th>{_e(w.agree)}</th>"
        f"<th>{_e(w.disagree)}</th><th>{_e(w.unmeasured)}</th><th>not completed</th>"
        f"<th>time</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return f'<section id="summary"><h2>Summary</h2>{head}{table}{_runs_table(report)}</section>'


def _runs_table(report: Report) -> str:
    if report.one_block_per_section:
        return ""  # the table of sections already lists every block
    rows = []
    for s in report.sections:
        for b in s.blocks:
            c = section_counts(Section(s.key, s.heading, blocks=[b]))
            status = (
                b.status if b.status == "done" else f'<span class="badge bad">{_e(b.status)}</span>'
            )
            rows.append(
                f'<tr><td><a href="#{anchor("block", b.id)}"><code>{_e(b.id)}</code></a></td>'
                f"<td>{_e(b.title)}</td><td>{status}</td>"
                f'<td class="num">{tally(c)}</td>'
                f'<td class="num">{_seconds(b.seconds)}</td></tr>'
            )
    if not rows:
        return ""
    return (
        f"<table><thead><tr><th>{_e(report.words.block)}</th>"
        f"<th>{_e(report.words.what)}</th><th>status</th>"
        f"<th>{_e(report.words.agree)}</th><th>time</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _contents(report: Report) -> str:
    items = "".join(
        f'<li><a href="#{anchor("section", s.key)}">{_e(s.heading)}</a></li>'
        for s in report.sections
    )
    return (
        f"<nav><h4>Contents</h4><ul>{items}"
        '<li><a href="#environment">Environment and versions</a></li></ul></nav>'
    )


def _section(report: Report, section: Section) -> str:
    parts = [f'<section id="{anchor("section", section.key)}"><h2>{_e(section.heading)}</h2>']
    byline = " &middot; ".join(
        x for x in (_e(section.byline), f"<code>{_e(section.key)}</code>") if x
    )
    parts.append(f'<p class="byline">{byline}</p>')
    if not section.blocks:
        parts.append(f"<p>{_e(section.empty_note)}</p></section>")
        return "".join(parts)
    parts.append(f'<p class="totals">{_badges(section_counts(section), report)}</p>')
    parts += [_block(report, b, titled=b.title != section.heading) for b in section.blocks]
    parts.append("</section>")
    return "\n".join(parts)


def _block(report: Report, block: Block, *, titled: bool = True) -> str:
    meta = [f"status {block.status}" if block.status != "done" else "done"]
    if block.seconds is not None:
        meta[0] += f" in {_seconds(block.seconds)}"
    if block.scale:
        meta.append(f"scale {block.scale}")
    if block.run_id:
        meta.append(f"run <code>{_e(block.run_id)}</code>")
    parts = [
        f'<article id="{anchor("block", block.id)}">',
        f"<h3><code>{_e(block.id)}</code> &mdash; {_e(block.title)}</h3>" if titled else "",
        f'<p class="meta">{" &middot; ".join(m if "<code>" in m else _e(m) for m in meta)}</p>',
    ]
    if block.error:
        parts.append(f'<p class="error">{_e(block.error)}</p>')
    for heading, claims in claim_groups(block.claims):
        if heading:
            parts.append(f'<p class="apart">{_e(heading)}</p>')
        parts.append(_claims_table(report, claims))
    for i, fig in enumerate(block.figures, 1):
        parts.append(_figure(fig, i))
    if block.settings:
        parts.append(_settings(report, block))
    elif block.note:
        parts.append(f'<p class="meta">{_e(block.note)}</p>')
    parts.append("</article>")
    return "\n".join(parts)


def _claims_table(report: Report, claims: list[dict]) -> str:
    w = report.words
    style = {True: "ok", False: "bad", None: "na"}
    rows = "".join(
        f'<tr><td><div class="stmt">{_e(c["statement"])}</div><code>{_e(c["id"])}</code></td>'
        f"{_value(c['paper_value'])}{_value(c['measured'])}"
        f'<td><span class="badge {style[c["agrees"]]}">{_e(w.verdict(c["agrees"], kind_of(c)))}'
        f'</span>{_rule(c)}</td>'
        f'<td class="note">{_e(c["note"])}</td></tr>'
        for c in claims
    )
    return (
        f"<table><thead><tr><th>claim</th><th>{_e(w.paper)}</th><th>{_e(w.ours)}</th>"
        f"<th>verdict</th><th>note</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _rule(c: dict) -> str:
    """The rule that decided the verdict, under the badge (absent from older results)."""
    return f'<div class="rule">{_e(c["rule"])}</div>' if c.get("rule") else ""


def _apart_words(report: Report) -> str:
    """ ", plus 3 construction checks and 2 beyond the paper, listed apart" (or nothing)."""
    apart = report.apart()
    words = [f"{apart['construction']} construction checks" if apart["construction"] else "",
             f"{apart['beyond']} beyond the paper" if apart["beyond"] else ""]
    words = [x for x in words if x]
    return f", plus {' and '.join(words)}, listed apart" if words else ""


def _value(value: object) -> str:
    """A value cell: short values (numbers) never break inside, a dict gets one line per key,
    long lists wrap between items."""
    if isinstance(value, dict) and value:
        lines = "<br>".join(
            f'<span class="kv">{_e(k)}: {_e(format_value(v))}</span>' for k, v in value.items()
        )
        return f'<td class="value">{lines}</td>'
    text = "\u2014" if value is None else format_value(value)
    return f'<td class="value{" short" if len(text) <= 16 else ""}">{_e(text)}</td>'


def _figure(fig: Figure, number: int) -> str:
    fmt, path = smallest_file(fig)
    raw = path.read_bytes()
    width = _png_css_width(raw) if fmt == "png" else None
    size = f' width="{width}"' if width else ""
    data = base64.b64encode(raw).decode("ascii")
    return (
        f'<figure><img src="data:{_MIME[fmt]};base64,{data}"{size} alt="{_e(fig.caption)}">'
        f"<figcaption>Figure {number}. {_e(fig.caption)}</figcaption></figure>"
    )


def _png_css_width(png: bytes) -> int | None:
    """The width a PNG should have on screen (CSS px at 96 per inch), from its pHYs density.

    Matplotlib saves at 150 dpi: shown pixel for pixel, a figure would be 1.5 times its size
    (an SVG already states its size in points).
    """
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        return None
    width, pos = int.from_bytes(png[16:20], "big"), 8
    while pos + 8 <= len(png):
        length, kind = int.from_bytes(png[pos : pos + 4], "big"), png[pos + 4 : pos + 8]
        if kind == b"pHYs" and png[pos + 16] == 1:  # unit 1: pixels per metre
            dpi = int.from_bytes(png[pos + 8 : pos + 12], "big") * 0.0254
            return round(width * 96 / dpi) if dpi > 0 else None
        if kind in (b"IDAT", b"IEND"):
            return None  # pHYs must come before the image data
        pos += 12 + length
    return None


def smallest_file(fig: Figure) -> tuple[str, object]:
    """The embeddable format of a figure with the smallest file (SVG or PNG)."""
    usable = [(path.stat().st_size, fmt, path) for fmt, path in fig.files.items() if fmt in _MIME]
    if not usable:
        raise ValueError(f"figure {fig.name!r} has no PNG or SVG file")
    _, fmt, path = min(usable)
    return fmt, path


def _settings(report: Report, block: Block) -> str:
    w = report.words
    rows = "".join(
        f"<tr><td><code>{_e(s.name)}</code></td>{_value(s.paper)}{_value(s.used)}</tr>"
        for s in block.settings
    )
    return (
        f"<h4>Settings that differ from the {_e(w.paper)}</h4>"
        '<table class="settings"><thead><tr><th>field</th>'
        f"<th>{_e(w.paper)}</th><th>this run</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _environment(env: dict) -> str:
    rows, packages = [], env.get("packages") or {}
    for key, value in env.items():
        if key != "packages":
            rows.append(f"<tr><th>{_e(key)}</th><td>{_e(format_value(value))}</td></tr>")
    for name, version in packages.items():
        rows.append(f"<tr><th>{_e(name)}</th><td>{_e(version or 'not installed')}</td></tr>")
    return (
        f'<section id="environment"><h2>Environment and versions</h2>'
        f"<table><tbody>{''.join(rows)}</tbody></table></section>"
    )
