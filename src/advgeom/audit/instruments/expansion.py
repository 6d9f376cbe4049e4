"""r(eta): does the output move more along the FGSM direction than along noise as eta -> 0?

Badger, Eq. 4-6: e_a = ||f(x) - f(x + eta sign grad)||_1 / ||eta sign grad||_1 and e_n the same for
a Gaussian step of equal length; r = e_a / e_n. A function that is smooth at the data keeps r
bounded as eta -> 0; an approximately discontinuous one lets r grow. Measured in float64 (on a
copy of the model), so rounding does not pass for geometry.
"""

from __future__ import annotations

import math

from advgeom.audit.context import AuditContext, Instrument
from advgeom.metrics import expansion
from advgeom.metrics.expansion import PAPER_RANGE
from advgeom.plotting import new_figure
from advgeom.runs.claims import claim

ETAS = tuple(10.0**k for k in range(-7, 1))  # 1e-7 .. 1, one per decade
MAX_EXAMPLES = 64  # r is an average: a few dozen examples settle it
GROWTH = 2.0  # r(1e-5) / r(1e-1) above this counts as growing
HIGH, LOW = PAPER_RANGE  # Badger's pertinent range: growth below eta = 1e-1 is not saturation


def measure(ctx: AuditContext) -> dict:
    x, y = ctx.x[:MAX_EXAMPLES], ctx.y[:MAX_EXAMPLES]
    res = expansion(ctx.model, x, y, etas=ETAS, draws=2, dtype="float64",
                    generator=ctx.generator("expansion"))
    s = res.summary()
    r = dict(zip(s["eta"], s["r"], strict=True))
    growth = r[LOW] / r[HIGH] if r.get(LOW) and r.get(HIGH) else None
    saturation = r[HIGH] / r[1.0] if r.get(HIGH) and r.get(1.0) else None
    findings = [claim(
        "r_growth",
        f"Growth of the expansion ratio r = e_a / e_n from eta = {HIGH:g} to eta = {LOW:g}, the "
        "range Badger deems pertinent (Eq. 6: r growing as eta -> 0 marks an approximate "
        "discontinuity).",
        paper_value=None, measured=growth, rule=None, kind="measurement",
        note=f"{len(x)} examples x 2 noise draws, float64; r(1) = {_fmt(r.get(1.0))}, "
        f"r({HIGH:g}) = {_fmt(r.get(HIGH))}, r({LOW:g}) = {_fmt(r.get(LOW))}, r(1e-7) = "
        f"{_fmt(r.get(1e-7))}; "
        + ("growing" if growth is not None and growth > GROWTH else "bounded")
        + f" (growing means r({LOW:g})/r({HIGH:g}) > {GROWTH:g}); from eta = 1 to {HIGH:g} r "
        f"changes x{_fmt(saturation)}, where every pixel moves by ~eta and the model saturates")]
    return {"findings": findings, "metrics": {"summary": s, "growth": growth,
                                              "saturation": saturation, "examples": len(x)}}


def _fmt(value) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3g}"


def plot(result: dict) -> dict:
    s = result["metrics"]["summary"]
    fig, axes = new_figure(2, width=4.4, height=3.2)
    for ax, key, label in ((axes[0, 0], "r", "r = e_a / e_n"),
                           (axes[0, 1], "e_a", "e_a (FGSM gain)")):
        pts = [(e, v) for e, v in zip(s["eta"], s[key], strict=True) if v]
        if pts:
            ax.plot(*zip(*pts, strict=True), "o-")
        ax.set(xscale="log", yscale="log", xlabel="eta", ylabel=label, title=f"{label} vs eta")
    fig.tight_layout()
    return {"curves": fig}


INSTRUMENT = Instrument(
    id="expansion",
    title="Expansion ratio r(eta) along FGSM vs Gaussian steps",
    source="Badger, Adversarial Examples from Dimensional Invariance, Eq. 4-6, Fig. 1",
    measure=measure,
    plot=plot,
)
