"""Local tilting angles: how far the model's boundary is tilted away from the data's own
direction between the two classes it separates at each example (Tanay's lens, beyond the
article: for a linear model it is the tilting angle of w against the centroid difference)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from advgeom.audit.context import AuditContext, Instrument
from advgeom.errors import InputError
from advgeom.geometry.tilting import class_centroids, local_tilting
from advgeom.plotting import new_figure
from advgeom.runs.claims import claim


def measure(ctx: AuditContext) -> dict:
    classes = max(ctx.classes, 2)  # one logit: classes 0 and 1
    try:
        centroids = class_centroids(ctx.x, ctx.y, num_classes=classes)
        lt = local_tilting(ctx.model, ctx.x, ctx.y, centroids=centroids)
    except InputError as err:  # e.g. a class absent from the audit examples
        finding = claim("local_tilting_angle", "Local tilting angle (not measurable here).",
                        paper_value=None, measured=None, rule=None, kind="measurement",
                        note=str(err))
        return {"findings": [finding], "metrics": {"angle": []}}
    angle, distance = lt.angle.cpu().numpy(), lt.distance.cpu().numpy()
    ok = np.isfinite(angle) & np.isfinite(distance)
    rho = float(stats.spearmanr(angle[ok], distance[ok]).statistic) if ok.sum() > 2 else None
    findings = [
        claim("local_tilting_angle",
              "Median angle between the input gradient of the margin (true class vs runner-up) "
              "and the difference of those classes' centroids, in degrees (0: the boundary "
              "faces the data like the nearest-centroid classifier).",
              paper_value=None, measured=float(np.median(angle[ok])) if ok.any() else None,
              rule=None, kind="measurement",
              note=f"{int(ok.sum())} examples; centroids from the audit examples; 10-90% range "
              f"{np.quantile(angle[ok], 0.1):.1f}-{np.quantile(angle[ok], 0.9):.1f} degrees"
              if ok.any() else "no finite angle"),
        claim("tilt_vs_distance",
              "Spearman correlation between the local tilting angle and the first-order "
              "distance to the boundary (margin / gradient norm); Tanay: more tilt, closer "
              "boundary, i.e. a negative correlation.",
              paper_value=None, measured=rho, rule=None, kind="measurement",
              note="a measurement for this model; the article argues it for linear classifiers"),
    ]
    metrics = {"angle": angle.tolist(), "distance": distance.tolist(), "spearman": rho}
    return {"findings": findings, "metrics": metrics}


def plot(result: dict) -> dict:
    m = result["metrics"]
    if not m["angle"]:
        return {}
    fig, axes = new_figure(2, width=4.4, height=3.2)
    angle, distance = np.asarray(m["angle"]), np.asarray(m["distance"])
    axes[0, 0].hist(angle[np.isfinite(angle)], bins=30, color="C0")
    axes[0, 0].set(xlabel="local tilting angle (degrees)", ylabel="examples",
                   title="Local tilting angles")
    axes[0, 1].plot(angle, distance, "o", ms=3, alpha=0.6)
    axes[0, 1].set(xlabel="local tilting angle (degrees)", yscale="log",
                   ylabel="margin / ||grad margin||", title="Tilt vs first-order distance")
    fig.tight_layout()
    return {"angles": fig}


INSTRUMENT = Instrument(
    id="tilting",
    title="Local tilting angle of the boundary at each example",
    source="Tanay, A boundary tilting perspective (its tilting angle, taken locally)",
    measure=measure,
    plot=plot,
)
