"""Sanity checks of the audit's own numbers: can the robust accuracy above be trusted?

Each check (:mod:`advgeom.attacks.checks`) is a finding that holds or fails by its declared
threshold: outputs that are probabilities rather than logits, a randomized model, exactly-zero
input gradients, PGD at the box's diameter not breaking nearly everything, and examples that
random noise or the gradient-free Square attack broke where the gradient attacks failed
(gradient masking; Carlini et al. 2019, Croce & Hein 2020).
"""

from __future__ import annotations

from advgeom.attacks import checks as attack_checks
from advgeom.attacks import evaluate_radii
from advgeom.attacks.checks import CheckResult
from advgeom.audit.context import AuditContext, Instrument
from advgeom.audit.instruments.robustness import EVALUATIONS, NORMS
from advgeom.plotting import new_figure
from advgeom.runs import rules
from advgeom.runs.claims import claim

STATEMENTS = {
    "probability_outputs": "The model returns logits, not probabilities or log-probabilities.",
    "randomized": "The model is deterministic: two eval-mode passes give the same outputs.",
    "zero_gradients": "No example has an exactly-zero input gradient.",
    "box_diameter_attack": "PGD with eps = the box's diameter breaks nearly every example.",
    "noise_beats_gradients": "Random noise and Square break no example the gradient attacks "
    "left robust.",
}


def measure(ctx: AuditContext) -> dict:
    findings, metrics = [], {"checks": []}
    model, x, y = ctx.model, ctx.x, ctx.y
    results = [attack_checks.probability_outputs(model, x), attack_checks.randomized(model, x)]
    if ctx.classes > 1:  # the gradient checks need class logits with their cross-entropy
        results.append(attack_checks.zero_gradients(model, x, y))
    per_norm = {}
    for norm in NORMS:
        per_norm[norm] = []
        if ctx.bounds is not None:
            per_norm[norm].append(attack_checks.box_diameter_attack(
                model, x, y, norm=norm, bounds=ctx.bounds, steps=ctx.settings.steps,
                generator=ctx.generator("box", norm)))
        noise = _noise_check(ctx, norm)
        if noise is not None:
            per_norm[norm].append(noise)
    for result in results:
        findings.append(_finding(result, ""))
        metrics["checks"].append({**result.to_dict(), "norm": None})
    for norm, found in per_norm.items():
        for result in found:
            findings.append(_finding(result, norm))
            metrics["checks"].append({**result.to_dict(), "norm": norm})
    metrics["tripped"] = [c["name"] + (f"_{c['norm']}" if c["norm"] else "")
                          for c in metrics["checks"] if c["tripped"]]
    return {"findings": findings, "metrics": metrics}


def _noise_check(ctx: AuditContext, norm: str) -> CheckResult | None:
    """Noise against the ensemble at the middle positive radius (where both can still win)."""
    radii = [e for e in ctx.radii(norm) if e > 0]
    if not radii:
        return None
    runs = ctx.memo.get((EVALUATIONS, norm))
    if runs is None:  # the robustness instrument did not run in this audit
        runs = evaluate_radii(ctx.model, ctx.x, ctx.y, eps=list(ctx.radii(norm)), norm=norm,
                              protocol=ctx.settings.protocol, bounds=ctx.bounds,
                              seed=ctx.settings.seed)
    eps = sorted(radii)[len(radii) // 2]
    run = next(r for r in runs if r.eps == eps)
    names = [run.breaker(i) for i in range(len(run.broken_by))]
    square = [n == "square" for n in names]
    gradient = [n is not None and n != "square" for n in names]
    as_mask = run.robust.new_tensor
    return attack_checks.noise_beats_gradients(
        ctx.model, ctx.x, ctx.y, eps=eps, norm=norm, gradient_success=as_mask(gradient),
        extra_success=as_mask(square), bounds=ctx.bounds, generator=ctx.generator("noise", norm))


def _finding(result: CheckResult, norm: str) -> dict:
    record = result.to_dict()
    suffix = f"_{norm}" if norm else ""
    where = f" ({NORMS[norm]})" if norm else ""
    if result.name == "probability_outputs":
        # Tripped exactly when the deviation from a normalised output is within the tolerance.
        rule = rules.predicate(lambda m: m > result.threshold,
                               f"the outputs deviate from normalised by more than "
                               f"{result.threshold:g}", fails_on=0.0, holds_on=1.0)
    else:  # the other checks trip exactly when their value exceeds the threshold
        rule = rules.at_most(result.threshold, what="the measured value")
    return claim(
        f"check_{result.name}{suffix}",
        STATEMENTS[result.name] + where,
        paper_value=None,
        measured=record["value"],
        rule=rule,
        kind="construction",
        note=result.message,
    )


def plot(result: dict) -> dict:
    """Each check's value beside its threshold, red where it tripped (log scale: the values of
    different checks span many orders of magnitude)."""
    checks = [c for c in result["metrics"]["checks"] if c["value"] is not None]
    fig, axes = new_figure(1, width=7.0, height=0.45 * max(len(checks), 2) + 1.2)
    ax = axes[0][0]
    labels = [c["name"] + (f" ({c['norm']})" if c["norm"] else "") for c in checks]
    floor = 1e-12  # zero values (the usual outcome) still need a bar on a log axis
    values = [max(c["value"], floor) for c in checks]
    colors = ["tab:red" if c["tripped"] else "tab:green" for c in checks]
    ax.barh(labels, values, color=colors)
    ax.scatter([max(c["threshold"], floor) for c in checks], labels, marker="|", s=300,
               color="black", label="threshold", zorder=3)
    ax.set(xscale="log", xlabel=f"measured value (floored at {floor:g})",
           title="sanity checks: green holds, red tripped")
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    fig.tight_layout()
    return {"values": fig}


INSTRUMENT = Instrument(
    id="checks",
    title="Sanity checks: can the robust accuracy be trusted?",
    source="advgeom.attacks.checks (after AutoAttack's checks and Carlini et al. 2019's "
    "evaluation guidelines)",
    measure=measure,
    plot=plot,
)
