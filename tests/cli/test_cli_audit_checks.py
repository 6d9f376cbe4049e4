"""The audit's sanity checks as findings: each holds on a plain model and fails on one built to
trip it, and the verdict is the check's own (the rule decides what the check measured)."""

from __future__ import annotations

import torch
from torch import nn

from advgeom import audit
from advgeom.audit.instruments import checks


class Rounded(nn.Module):
    """Logits of the input rounded to quarters: exactly zero input gradients (masking)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(torch.round(x * 4) / 4)


def _verdicts(model: nn.Module) -> dict:
    torch.manual_seed(0)
    ctx = audit.prepare(model.eval(), audit.Settings(data="digits", samples=24, steps=5,
                                                     eps=(0.0, 0.1, 0.3), protocol="fast"),
                        device=torch.device("cpu"))
    result = checks.measure(ctx)
    assert set(checks.plot(result)) == {"values"}
    by_id = {c["id"]: c for c in result["findings"]}
    for c in result["metrics"]["checks"]:
        suffix = f"_{c['norm']}" if c["norm"] else ""
        agrees = by_id[f"check_{c['name']}{suffix}"]["agrees"]
        assert agrees is None or agrees == (not c["tripped"])  # the rule is the check's
    return {k: v["agrees"] for k, v in by_id.items()}


def _net():
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def test_a_plain_model_passes_every_check():
    assert all(v is not False for v in _verdicts(_net()).values())


def test_a_softmax_head_fails_the_logit_check():
    verdicts = _verdicts(nn.Sequential(_net(), nn.Softmax(1)))
    assert verdicts["check_probability_outputs"] is False


def test_a_rounding_model_fails_the_gradient_checks():
    verdicts = _verdicts(Rounded(_net()))
    assert verdicts["check_zero_gradients"] is False
    assert verdicts["check_box_diameter_attack_linf"] is False
