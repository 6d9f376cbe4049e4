"""The audit's geometry instruments on models whose answers are known: d_m of an isometry, r of a
linear map, the adversarial subspace of a generic final layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom import audit
from advgeom.audit.instruments import expansion, injectivity, softmax_head, tilting


def _context(model: nn.Module, samples: int = 40):
    return audit.prepare(
        model.eval(),
        audit.Settings(data="digits", samples=samples, steps=5),
        device=torch.device("cpu"),
    )


def test_an_isometry_keeps_d_m_of_its_inputs():
    # A permutation of the 64 pixels: outputs are the inputs reordered, L1 distances unchanged.
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    layer = nn.Linear(64, 64, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(64)[perm])
    result = injectivity.measure(_context(nn.Sequential(nn.Flatten(), layer)))
    found = {c["id"]: c for c in result["findings"]}
    assert found["output_vs_input_distance"]["measured"] == pytest.approx(1.0, rel=1e-5)
    assert result["metrics"]["outputs"]["pair"] == result["metrics"]["inputs"]["pair"]
    assert set(injectivity.plot(result)) == {"distances"}


def test_a_linear_model_has_a_constant_expansion_ratio():
    torch.manual_seed(0)
    result = expansion.measure(_context(nn.Sequential(nn.Flatten(), nn.Linear(64, 10))))
    growth = result["findings"][0]
    assert growth["measured"] == pytest.approx(1.0, rel=0.05)
    assert "bounded" in growth["note"]
    assert set(expansion.plot(result)) == {"curves"}


def test_the_final_layer_of_a_generic_model_has_l_minus_m_plus_one_directions():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    assert softmax_head.final_linear(model)[0] == "3"
    result = softmax_head.measure(_context(model))
    found = {c["id"]: c for c in result["findings"]}
    dim = found["adversarial_subspace_dimension"]
    assert dim["measured"] == 32 - 10 + 1 and dim["paper_value"] == 22 and dim["agrees"] is True
    change = found["probabilities_unchanged_along_V"]
    assert change["measured"] <= 1e-9 and change["agrees"] is True
    assert set(softmax_head.plot(result)) == {"spectrum"}


def test_a_model_without_a_linear_layer_is_reported_not_failed():
    class Pixels(nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :10]

    result = softmax_head.measure(_context(Pixels(), samples=8))
    assert result["findings"][0]["measured"] is None
    assert softmax_head.plot(result) == {}


def test_the_nearest_centroid_classifier_has_no_local_tilt():
    # Logits w_c . x - ||w_c||^2 / 2 with w_c the class centroids of the audit examples: the
    # margin's gradient is the centroid difference itself, so every angle is 0.
    ctx = _context(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)))
    centroids = torch.stack([ctx.x[ctx.y == c].flatten(1).mean(0) for c in range(10)])
    layer = ctx.model[1]
    with torch.no_grad():
        layer.weight.copy_(centroids)
        layer.bias.copy_(-0.5 * centroids.square().sum(1))
    result = tilting.measure(ctx)
    found = {c["id"]: c for c in result["findings"]}
    assert found["local_tilting_angle"]["measured"] == pytest.approx(0.0, abs=1e-3)
    assert set(tilting.plot(result)) == {"angles"}
