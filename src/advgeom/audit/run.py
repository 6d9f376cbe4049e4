"""Running the instruments on a model and writing the audit folder, all or nothing.

Layout of the audit folder (``--out``)::

    results.json       model, weights, data, settings, and per instrument its findings, metrics,
                       figures and time
    environment.json   versions, machine, device, git commit
    figures/           <instrument>-<name>.png and .svg
    report/            index.html (self-contained) and report.md

The folder is built beside its final place and renamed into it at the end: an interrupted or
failed audit leaves no half-written folder, and an earlier audit in the same place stays whole
until the new one replaces it.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from advgeom.audit.context import AuditContext, Instrument
from advgeom.audit.instruments import INSTRUMENTS
from advgeom.audit.report import audit_report
from advgeom.errors import AdvgeomError, InputError
from advgeom.plotting import save_figures
from advgeom.report import HTML_NAME, atomic_folder, write_files
from advgeom.store import environment
from advgeom.store.atomic import atomic_write_json, to_json
from advgeom.store.rundir import now_iso

KIND = "advgeom-audit"


def check_out(out: Path) -> None:
    """``--out`` must be new, empty, or an earlier audit's folder (which is then replaced)."""
    out = Path(out)
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise InputError(f"--out {out}: {existing} is a file, not a folder; name a folder")
    if not out.exists() or not any(out.iterdir()):
        return
    try:
        earlier = json.loads((out / "results.json").read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        earlier = None
    if earlier != KIND:
        raise InputError(
            f"--out {out}: the folder holds other files; name a new folder (or an "
            "earlier audit's, which is replaced)"
        )


class AuditFailed(AdvgeomError):
    """An instrument raised on this model (a model autograd cannot differentiate, or a bug)."""

    def __init__(self, instrument: str, cause: BaseException) -> None:
        first = (str(cause).strip().splitlines() or [""])[0]
        # The innermost frame outside torch: the user's model or the advgeom code that called it.
        torch_dir = str(Path(torch.__file__).parent)
        frames = [
            f
            for f in traceback.extract_tb(cause.__traceback__)
            if not f.filename.startswith(torch_dir)
        ]
        where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
        super().__init__(
            f"instrument {instrument!r} failed on this model: {type(cause).__name__}: "
            f"{first}{where}; nothing was written"
        )


def run_instruments(
    ctx: AuditContext,
    instruments: Sequence[Instrument] | None = None,
    *,
    on_done: Callable[[Instrument, float], None] | None = None,
) -> list[dict]:
    """Measure with each instrument (default :data:`INSTRUMENTS`); one result per instrument.

    Raises:
        AuditFailed: an instrument raised (the cause is chained).
    """
    results = []
    for inst in INSTRUMENTS if instruments is None else instruments:
        began = time.perf_counter()
        try:
            out = inst.measure(ctx)
        except AdvgeomError:
            raise
        except Exception as err:
            raise AuditFailed(inst.id, err) from err
        record = {
            "id": inst.id,
            "title": inst.title,
            "source": inst.source,
            "findings": out["findings"],
            "metrics": out["metrics"],
            "seconds": time.perf_counter() - began,
        }
        # Through JSON now, so what is plotted and reported is exactly what results.json holds.
        results.append(json.loads(to_json(record)))
        if on_done is not None:
            on_done(inst, record["seconds"])
    return results


def describe_audit(ctx: AuditContext, *, model: str, weights: Path | None, device: str) -> dict:
    """The header of results.json: what was audited, on what, how."""
    s = ctx.settings
    return {
        "kind": KIND,
        "model": model,
        "weights": None
        if weights is None
        else {
            "file": Path(weights).name,
            "sha256": hashlib.sha256(Path(weights).read_bytes()).hexdigest(),
        },
        "data": s.data,
        "split": "test",
        "samples": len(ctx.x),
        **ctx.info,
        "bounds": list(ctx.bounds) if ctx.bounds else None,
        "eps_linf": list(ctx.eps_linf),
        "eps_l2": list(ctx.eps_l2),
        "steps": s.steps,
        "protocol": s.protocol,
        "seed": s.seed,
        "device": device,
    }


def write_audit(
    out: Path, header: dict, results: list[dict], instruments: Sequence[Instrument] | None = None
) -> Path:
    """Write the audit folder atomically; return the path of its ``report/index.html``."""
    by_id = {inst.id: inst for inst in (INSTRUMENTS if instruments is None else instruments)}
    env = environment.describe(device=header["device"], seed=header["seed"])
    out = Path(out)
    with atomic_folder(out) as tmp:
        for result in results:
            figures = by_id[result["id"]].plot(result)
            paths = save_figures(
                {f"{result['id']}-{k}": f for k, f in figures.items()}, tmp / "figures"
            )
            result["figures"] = [str(p.relative_to(tmp)) for p in paths]
        document = {**header, "written": now_iso(), "instruments": results}
        atomic_write_json(tmp / "results.json", document)
        atomic_write_json(tmp / "environment.json", env)
        write_files(audit_report(document, env, folder=tmp), tmp / "report")
    return out / "report" / HTML_NAME
