"""Tables and summaries the CLI prints (rich), kept apart from the command logic."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from advgeom.runs.claims import format_value as fmt
from advgeom.runs.claims import kind_of, verdict
from advgeom.runs.registry import PAPERS, Experiment
from advgeom.store.catalog import RunRecord

_VERDICT_STYLE = {True: "green", False: "red", None: "yellow"}


def experiments_table(experiments: Iterable[Experiment]) -> list[Any]:
    """Experiments grouped by paper: a heading per paper, then one line per experiment."""
    out: list[Any] = []
    by_paper: dict[str, list[Experiment]] = {}
    for exp in experiments:
        by_paper.setdefault(exp.paper, []).append(exp)
    for key, exps in by_paper.items():
        paper = PAPERS[key]
        table = Table(
            title=f"{paper.authors.split(',')[0]} et al. — {paper.title}  [{key}]",
            title_justify="left",
            show_header=False,
            box=None,
            pad_edge=False,
        )
        table.add_column("id", style="bold cyan", no_wrap=True)
        table.add_column("scales", style="dim", no_wrap=True)
        table.add_column("what it reproduces")
        for exp in exps:
            table.add_row(f"  {exp.id}", "smoke default paper", exp.title)
        out.append(table)
    return out


def claims_table(claims: list[dict], *, title: str = "Claims") -> Table:
    """The paper's value beside ours, with the verdict."""
    table = Table(title=title, title_justify="left")
    for col in ("claim", "paper", "ours", "verdict", "rule"):
        table.add_column(col, style="dim" if col == "rule" else None)
    for c in claims:
        style = _VERDICT_STYLE[c["agrees"]]
        kind = kind_of(c)
        table.add_row(
            escape(c["id"]) + ("" if kind == "reproduction" else f" [dim]({kind})[/dim]"),
            escape(fmt(c["paper_value"])),
            escape(fmt(c["measured"])),
            f"[{style}]{verdict(c['agrees'], kind)}[/{style}]",
            escape(c.get("rule") or "-"),
        )
    return table


def runs_table(records: list[RunRecord]) -> Table:
    table = Table(title="Runs", title_justify="left")
    for col in ("run id", "experiment", "scale", "status", "started", "ended", "claims ok/all"):
        table.add_column(col, no_wrap=col == "run id")
    style = {"done": "green", "failed": "red", "interrupted": "yellow", "running": "cyan"}
    for r in records:
        claims = f"{r.claims_agree}/{r.claims_total}" if r.status == "done" else "-"
        table.add_row(
            r.id,
            r.experiment,
            r.scale,
            f"[{style[r.status]}]{r.status}[/]",
            _short_time(r.started),
            _short_time(r.ended),
            claims,
        )
    return table


def _short_time(iso: str | None) -> str:
    """``2026-11-23T10:44:09+00:00`` -> ``2026-11-23 10:44:09`` (the catalog stores UTC)."""
    return iso[:19].replace("T", " ") if iso else "-"


def scalar_metrics(metrics: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten nested metrics to (dotted name, value), leaving out long arrays (plot data)."""
    rows: list[tuple[str, Any]] = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += scalar_metrics(value, prefix=f"{name}.")
        elif isinstance(value, list) and len(value) > 8:
            continue
        else:
            rows.append((name, value))
    return rows


def print_all(console: Console, items: Iterable[Any]) -> None:
    for item in items:
        console.print(item)


def run_details(run_dir, results: dict | None) -> list[Any]:
    """What 'advgeom show' prints: status, config, then claims, notes, metrics and figures."""
    status, saved = run_dir.read("run"), run_dir.read("config")
    lines: list[Any] = [
        f"[bold]{run_dir.id}[/bold]  {status['experiment']}  scale {status['scale']}  "
        f"status {status['status']}  {status['started']} -> {status['ended'] or '-'}",
    ]
    if status.get("error"):
        lines.append(escape(f"error: {status['error']}"))
    config_text = ", ".join(f"{k}={fmt(v)}" for k, v in saved["config"].items())
    lines.append(escape(f"config: {config_text}"))
    if results is None:
        lines.append(
            f"no results yet: {len(run_dir.points())} points measured "
            f"(continue with --resume {run_dir.id})"
        )
        return lines
    lines.append(claims_table(results["claims"]))
    lines += [f"[dim]{escape(c['id'])}: {escape(c['note'])}[/dim]" for c in results["claims"]]
    lines.append(
        escape(
            "metrics: " + ", ".join(f"{k}={fmt(v)}" for k, v in scalar_metrics(results["metrics"]))
        )
    )
    lines.append("figures: " + ", ".join(str(run_dir.path / f) for f in results["figures"]))
    return lines


def findings_table(results: list[dict], *, title: str) -> Table:
    """An audit's findings: instrument, finding, prediction beside measurement, verdict."""
    words = {True: "as predicted", False: "not as predicted", None: "measurement"}
    table = Table(title=title, title_justify="left")
    for col in ("instrument", "finding", "prediction", "measured", "verdict"):
        table.add_column(col)
    for r in results:
        for c in r["findings"]:
            style = "dim" if c["agrees"] is None else _VERDICT_STYLE[c["agrees"]]
            table.add_row(
                escape(r["id"]),
                escape(c["id"]),
                escape(_cell(c["paper_value"])),
                escape(_cell(c["measured"])),
                f"[{style}]{words[c['agrees']]}[/{style}]",
            )
    return table


def _cell(value: object) -> str:
    """A table cell: "-" for a value there is none of (a bare measurement has no prediction)."""
    return "-" if value is None else fmt(value)
