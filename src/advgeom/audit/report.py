"""The audit's report: one section per instrument, in the same layout as a reproduction's."""

from __future__ import annotations

from pathlib import Path

from advgeom.report import AUDIT_WORDS, Block, Figure, Report, Section
from advgeom.report.model import figure_files


def audit_report(document: dict, env: dict, *, folder: Path) -> Report:
    """Build the report of an audit from its results (``document``) and environment.

    Args:
        document: what results.json holds (header and ``instruments``).
        env: the environment record.
        folder: the audit folder (figure paths in ``document`` are relative to it).
    """
    sections = []
    for r in document["instruments"]:
        block = Block(
            id=r["id"],
            title=r["title"],
            status="done",
            claims=r["findings"],
            figures=_figures(folder, r),
            seconds=r["seconds"],
        )
        sections.append(
            Section(key=r["id"], heading=r["title"], byline=r["source"], blocks=[block])
        )
    return Report(
        title=f"advgeom audit of {document['model']}",
        facts=_facts(document),
        sections=sections,
        environment=env,
        words=AUDIT_WORDS,
        generated=document.get("written", ""),
    )


def _figures(folder: Path, result: dict) -> list[Figure]:
    by_name = figure_files(folder, result.get("figures") or [])
    return [
        Figure(name, files, f"{result['title']} ({name.removeprefix(result['id'] + '-')})")
        for name, files in by_name.items()
    ]


def _facts(doc: dict) -> list[tuple[str, str]]:
    weights = doc.get("weights")
    shape = "x".join(str(s) for s in doc["input_shape"])
    box = f"inputs in [{doc['bounds'][0]:g}, {doc['bounds'][1]:g}]" if doc["bounds"] else "no box"
    return [
        ("model", doc["model"]),
        (
            "weights",
            f"{weights['file']} (sha256 {weights['sha256'][:16]}...)"
            if weights
            else "none given: the factory's own initial weights",
        ),
        (
            "data",
            f"{doc['data']}, test split: {doc['samples']} examples of shape {shape} "
            f"(d = {doc['d']}), {box}; the model has {doc['classes']} outputs",
        ),
        ("l_inf radii", ", ".join(f"{e:.4g}" for e in doc["eps_linf"])),
        ("l2 radii", ", ".join(f"{e:.4g}" for e in doc["eps_l2"]) + "  (l_inf radii x sqrt(d))"),
        (
            "attacks",
            f"robust accuracy: the {doc.get('protocol', 'standard')} ensemble (APGD-CE, "
            f"APGD-T{', FAB-T, Square' if doc.get('protocol', 'standard') == 'standard' else ''}),"
            f" PGD-{doc['steps']} beside it; minimal distances: best of DeepFool, FMN and PGD; "
            f"seed {doc['seed']}",
        ),
        ("device", doc["device"]),
    ]
