"""d_m: how close two different inputs come to the same output (Badger, Eq. 1 and Table 1)."""

from __future__ import annotations

from advgeom.audit.context import AuditContext, Instrument
from advgeom.metrics import min_input_distance, min_output_distance
from advgeom.plotting import new_figure
from advgeom.runs.claims import claim


def measure(ctx: AuditContext) -> dict:
    outputs = min_output_distance(ctx.model, ctx.x)
    inputs = min_input_distance(ctx.x)
    ratio = outputs.distance / inputs.distance if inputs.distance > 0 else None
    dup = (f"; {outputs.duplicate_pairs} pairs of identical inputs left out"
           if outputs.duplicate_pairs else "")
    findings = [
        claim("min_output_distance",
              "d_m, the smallest L1 distance between the model's outputs on two different "
              f"inputs among {len(ctx.x)} test examples (Badger, Eq. 1: > 0 means the model "
              "is injective on the data).",
              paper_value=None, measured=outputs.distance, rule=None,
              kind="measurement",
              note=f"pair {tuple(outputs.pair)}; the same pair's inputs differ by "
              f"{_input_gap(ctx, outputs.pair):.4g} in L1{dup}"),
        claim("output_vs_input_distance",
              "d_m of the outputs relative to the smallest L1 distance between two inputs.",
              paper_value=None, measured=ratio, rule=None, kind="measurement",
              note=f"smallest input distance {inputs.distance:.4g} (pair {tuple(inputs.pair)}); "
              "a small ratio means the model squeezes some distinct inputs together"),
    ]
    metrics = {"outputs": outputs.to_dict(), "inputs": inputs.to_dict(), "ratio": ratio}
    return {"findings": findings, "metrics": metrics}


def _input_gap(ctx: AuditContext, pair) -> float:
    i, j = pair
    return float((ctx.x[i] - ctx.x[j]).abs().sum()) if i >= 0 else float("nan")


def plot(result: dict) -> dict:
    m = result["metrics"]
    fig, axes = new_figure(1, width=4.2, height=3.0)
    ax = axes[0, 0]
    values = [m["inputs"]["distance"], m["outputs"]["distance"]]
    ax.bar(["inputs", "outputs"], values, color=["C7", "C0"])
    ax.set(yscale="log", ylabel="smallest pairwise L1 distance",
           title="d_m of the inputs and of the outputs")
    fig.tight_layout()
    return {"distances": fig}


INSTRUMENT = Instrument(
    id="injectivity",
    title="Injectivity: the smallest distance between two outputs (d_m)",
    source="Badger, Adversarial Examples from Dimensional Invariance, Eq. 1 and Table 1",
    measure=measure,
    plot=plot,
)
