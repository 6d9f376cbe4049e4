"""The adversarial directions of the model's final linear layer (Zou et al., Theorem 1).

Softmax ignores a common shift of the logits, so features may move along V = {d : W d in
span(1)} without changing any probability; dim V >= l - m for a layer with l inputs and m
classes. The instrument finds the last ``nn.Linear`` of the model, computes V and checks in
float64, on the features of the audit examples, that the probabilities indeed stay put.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from advgeom.audit.context import AuditContext, Instrument
from advgeom.geometry.softmax import adversarial_subspace, probability_change
from advgeom.plotting import new_figure
from advgeom.runs import rules
from advgeom.runs.claims import claim

MAX_POINTS = 32  # feature vectors the invariance is checked on
THETAS = (-1e4, -1.0, 1.0, 1e4)


def final_linear(model: nn.Module) -> tuple[str, nn.Linear] | None:
    """The last ``nn.Linear`` registered in ``model`` (its name and the layer), or None."""
    found = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            found = (name, module)
    return found


@torch.no_grad()
def features(model: nn.Module, layer: nn.Linear, x: torch.Tensor) -> np.ndarray:
    """The inputs the layer receives for ``x``, (batch, l), captured by a forward hook."""
    seen = []
    handle = layer.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    try:
        model(x)
    finally:
        handle.remove()
    return seen[0].flatten(1).double().cpu().numpy()


def measure(ctx: AuditContext) -> dict:
    found = final_linear(ctx.model)
    if found is None:
        finding = claim("adversarial_subspace", "The model has no nn.Linear layer to analyse.",
                        paper_value=None, measured=None, rule=None, kind="measurement",
                        note="Theorem 1 concerns a final linear layer followed by softmax")
        return {"findings": [finding], "metrics": {"layer": None}}
    name, layer = found
    V = adversarial_subspace(layer)
    h = features(ctx.model, layer, ctx.x[:MAX_POINTS])
    change = probability_change(layer, h, V.basis, thetas=THETAS) if V.dim else 0.0
    l, m = layer.in_features, layer.out_features  # noqa: E741 - the paper's names
    findings = [
        claim("adversarial_subspace_dimension",
              f"Dimension of the adversarial subspace V of the final layer '{name}' "
              f"({l} features -> {m} classes); Theorem 1: dim V >= l - m = {l - m}.",
              paper_value=max(l - m, 0), measured=V.dim, rule=rules.at_least(l - m),
              note="V = {d : W d is a multiple of (1, ..., 1)}, from an SVD of the centred "
              "weights; a generic layer with l >= m has l - m + 1"),
        claim("probabilities_unchanged_along_V",
              "Largest change of any class probability when the features of the audit "
              f"examples move along V by |theta| up to {max(THETAS):g} (float64).",
              paper_value=0.0, measured=change, rule=rules.at_most(1e-9), measurable=V.dim > 0,
              note=f"{len(h)} examples x {V.dim} basis directions x thetas {list(THETAS)}"
              + ("" if V.dim else "; V is {0}: nothing to move along")),
    ]
    metrics = {"layer": name, "l": l, "m": m, "dim": V.dim, "change": change,
               "singular_values": np.asarray(V.singular_values).tolist()}
    return {"findings": findings, "metrics": metrics}


def plot(result: dict) -> dict:
    m = result["metrics"]
    if m.get("layer") is None:
        return {}
    fig, axes = new_figure(1, width=4.6, height=3.2)
    ax = axes[0, 0]
    s = np.asarray(m["singular_values"])
    ax.semilogy(np.arange(1, len(s) + 1), np.clip(s, 1e-300, None), "o", ms=3)
    ax.set(xlabel="index", ylabel="singular value of the centred weights",
           title=f"'{m['layer']}': dim V = {m['dim']} (l - m = {m['l'] - m['m']})")
    fig.tight_layout()
    return {"spectrum": fig}


INSTRUMENT = Instrument(
    id="softmax-head",
    title="Adversarial directions of the final linear layer",
    source="Zou et al., Geometric Universality of Adversarial Examples, Definition 1, Theorem 1",
    measure=measure,
    plot=plot,
)
