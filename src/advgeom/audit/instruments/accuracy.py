"""Clean accuracy on the audit's test examples, overall and per class."""

from __future__ import annotations

import torch

from advgeom.attacks import predictions
from advgeom.audit.context import AuditContext, Instrument
from advgeom.plotting import new_figure
from advgeom.runs.claims import claim

_CHUNK = 1024  # examples per forward pass (bounds memory on large audits)


@torch.no_grad()
def predict(ctx: AuditContext) -> torch.Tensor:
    """(samples,) predicted class of each audit example (argmax, or logit > 0 for one logit)."""
    return torch.cat(
        [predictions(ctx.model(ctx.x[i : i + _CHUNK])) for i in range(0, len(ctx.x), _CHUNK)]
    )


def measure(ctx: AuditContext) -> dict:
    correct = predict(ctx) == ctx.y
    n, right = len(ctx.y), int(correct.sum())
    labels = sorted(set(ctx.y.tolist()))
    counts = {str(c): int((ctx.y == c).sum()) for c in labels}
    per_class = {str(c): float(correct[ctx.y == c].float().mean()) for c in labels}
    majority = max(counts.values()) / n
    note = (
        f"{right}/{n} correct; {ctx.classes} model outputs; always predicting the most "
        f"frequent class would score {majority:.3f}"
    )
    if right / n <= majority:
        note += "; no better than that: is the model trained, and on this data set?"
    findings = [
        claim(
            "clean_accuracy",
            f"Accuracy on {n} test examples of {ctx.settings.data}.",
            paper_value=None,
            measured=right / n,
            rule=None,
            kind="measurement",
            note=note,
        )
    ]
    metrics = {
        "accuracy": right / n,
        "correct": right,
        "n": n,
        "per_class": per_class,
        "class_counts": counts,
        "majority_rate": majority,
    }
    return {"findings": findings, "metrics": metrics}


def plot(result: dict) -> dict:
    m = result["metrics"]
    labels = list(m["per_class"])
    fig, axes = new_figure(1, width=min(12.0, max(4.0, 0.45 * len(labels) + 2)), height=3.2)
    ax = axes[0, 0]
    ax.bar(labels, [m["per_class"][c] for c in labels], color="C0")
    ax.axhline(m["accuracy"], color="k", ls="--", label=f"all: {m['accuracy']:.3f}")
    ax.set(
        xlabel="class",
        ylabel="accuracy",
        ylim=(0, 1.05),
        title=f"Clean accuracy per class ({m['n']} examples)",
    )
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return {"per-class": fig}


INSTRUMENT = Instrument(
    id="accuracy",
    title="Clean accuracy, overall and per class",
    source="the model's predictions on the test split",
    measure=measure,
    plot=plot,
)
