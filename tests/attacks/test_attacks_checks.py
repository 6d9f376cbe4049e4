"""The sanity checks of a robustness number: each one trips on a model built to fool an attack
and stays quiet on a plain MLP."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from advgeom.attacks.checks import (
    CheckResult,
    box_diameter_attack,
    noise_beats_gradients,
    probability_outputs,
    randomized,
    run_checks,
    zero_gradients,
)
from advgeom.attacks.pgd import pgd
from advgeom.errors import InputError

BOUNDS = (0.0, 1.0)


class Rounded(nn.Module):
    """Logits of the quantised input: the input gradient is zero almost everywhere."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(torch.round(x * 4) / 4)


class AlwaysDropout(nn.Module):
    """Dropout forced on whatever the mode: a randomized model."""

    def __init__(self, d: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(d, 16), nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(F.dropout(F.relu(self.a(x)), p=0.5, training=True))


class NaNGradient(nn.Module):
    """Finite logits whose input gradient is NaN: d sqrt(u)/du is inf at u = 0, times 0."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) + torch.sqrt(x.sum(1, keepdim=True) * 0)


def _labels(model, x):
    with torch.no_grad():
        return model(x).argmax(1)


@pytest.fixture
def case(mlp_factory):
    """The MLP (eval mode), 32 inputs in [0, 1]^8 and its own clean predictions as labels."""
    model = mlp_factory().eval()
    x = torch.rand(32, 8, generator=torch.Generator().manual_seed(1))
    return model, x, _labels(model, x)


@pytest.fixture
def rounded_case(case):
    """The rounding model on the same inputs, labelled by its own predictions (none misclassified,
    so every success must come from an attack)."""
    rounded = Rounded(case[0])
    return rounded, case[1], _labels(rounded, case[1])


def _pgd_success(model, x, y, eps):
    return pgd(model, x, y, eps=eps, norm="linf", steps=20, step_size=eps / 4, bounds=BOUNDS,
               early_stop=True).success


def _noise(model, x, y, eps, success, seed=0):
    return noise_beats_gradients(model, x, y, eps=eps, norm="linf", gradient_success=success,
                                 bounds=BOUNDS, generator=torch.Generator().manual_seed(seed))


def test_probability_outputs(case):
    model, x, _ = case
    plain = probability_outputs(model, x)
    assert not plain.tripped and plain.value > 1e-4
    soft = probability_outputs(nn.Sequential(model, nn.Softmax(1)), x)
    log_soft = probability_outputs(nn.Sequential(model, nn.LogSoftmax(1)), x)
    for result, kind in ((soft, "probabilities"), (log_soft, "log-probabilities")):
        assert result.tripped and result.value <= result.threshold == 1e-4
        assert f"like {kind}" in result.message and "logits" in result.message
    # Rows that sum to 1 but leave [0, 1] are not probabilities.
    shift = torch.tensor([0.5, -0.5, 0.0])
    shifted = probability_outputs(lambda t: torch.softmax(model(t), 1) + shift, x)
    assert not shifted.tripped and shifted.value > 1e-4  # the value alone decides


def test_probability_outputs_does_not_apply_to_one_logit(case):
    model, x, _ = case
    result = probability_outputs(lambda t: torch.sigmoid(model(t)[:, 0]), x)
    assert not result.tripped and "does not apply" in result.message
    assert result.to_dict()["value"] is None


def test_randomized(case):
    _, x, _ = case
    with torch.random.fork_rng():  # dropout draws from the global generator
        torch.manual_seed(0)
        noisy = randomized(AlwaysDropout(), x)
        dropout = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
        dropout.train()
        quiet = randomized(dropout, x)
    assert noisy.tripped and noisy.value > noisy.threshold and "EOT" in noisy.message
    assert not quiet.tripped and quiet.value == 0.0 and quiet.threshold > 0
    assert dropout.training and dropout[2].training  # eval mode was only for the check


def test_zero_gradients(case):
    model, x, y = case
    plain = zero_gradients(model, x, y)
    assert not plain.tripped and plain.value == 0.0
    rounded = zero_gradients(Rounded(model), x, y)
    assert rounded.tripped and rounded.value == 1.0 and "all-zero" in rounded.message
    nan = zero_gradients(NaNGradient(model), x, y)
    assert nan.tripped and nan.value == 1.0 and "NaN" in nan.message


def test_zero_gradients_counts_a_share(case):
    model, x, y = case
    # Half the batch on a plateau of the quantiser (gradient 0), half through the MLP.
    mixed = lambda t: torch.cat([Rounded(model)(t[:16]), model(t[16:])])  # noqa: E731
    result = zero_gradients(mixed, x, y)
    assert result.tripped and result.value == 0.5 and result.message.startswith("16 of 32")


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_box_diameter_attack(case, rounded_case, norm):
    model, x, y = case
    plain = box_diameter_attack(model, x, y, norm=norm, bounds=BOUNDS)
    assert not plain.tripped and plain.value <= 0.01 and plain.threshold == 0.01
    rounded = box_diameter_attack(*rounded_case, norm=norm, bounds=BOUNDS)
    assert rounded.tripped and rounded.value == 1.0 and "unbroken" in rounded.message
    diameter = "2.83" if norm == "l2" else "(1)"
    assert diameter in rounded.message


def test_box_diameter_attack_needs_bounds(case):
    model, x, y = case
    with pytest.raises(InputError, match="box_diameter_attack needs bounds"):
        box_diameter_attack(model, x, y, norm="linf", bounds=None)


def test_noise_beats_gradients_on_masked_gradients(rounded_case):
    rounded, x, y = rounded_case
    eps = 0.1
    success = _pgd_success(rounded, x, y, eps)
    assert not success.any()  # PGD never moves on the plateaus
    result = _noise(rounded, x, y, eps, success)
    assert result.tripped and 0 < result.value < 1 and result.threshold == 0.0
    assert result.message.startswith("random noise broke")


def test_noise_beats_gradients_not_on_working_gradients(case):
    model, x, y = case
    eps = 0.1
    success = _pgd_success(model, x, y, eps)
    assert 0 < int(success.sum()) < len(x)  # PGD breaks some, so the comparison means something
    nothing = torch.zeros_like(success)
    assert _noise(model, x, y, eps, nothing).tripped  # noise does break examples at this eps
    result = _noise(model, x, y, eps, success)
    assert not result.tripped and result.value == 0.0


def test_noise_beats_gradients_counts_extra_success(case):
    model, x, y = case
    success = _pgd_success(model, x, y, 0.1)
    extra = ~success & (torch.arange(len(x)) % 2 == 0)
    result = noise_beats_gradients(model, x, y, eps=0.0, norm="l2", gradient_success=success,
                                   bounds=BOUNDS, draws=3, extra_success=extra)
    assert result.tripped and result.value == int(extra.sum()) / len(x)
    assert "extra attack" in result.message


def test_noise_beats_gradients_per_example_eps_and_chunks(case, monkeypatch):
    model, x, y = case
    eps = torch.full((len(x),), 0.1)
    whole = _noise(model, x, y, eps, torch.zeros(len(x), dtype=torch.bool))
    monkeypatch.setattr("advgeom.attacks.checks.CHUNK_ROWS", 7 * len(x))  # 100 draws in 15 runs
    chunked = _noise(model, x, y, eps, torch.zeros(len(x), dtype=torch.bool))
    assert chunked == whole and whole.tripped


def test_run_checks_names_and_json(case, rounded_case):
    model, x, y = case
    names = ["probability_outputs", "randomized", "zero_gradients"]
    assert [r.name for r in run_checks(model, x, y, eps=0.1, norm="linf")] == names
    success = _pgd_success(model, x, y, 0.1)
    results = run_checks(model, x, y, eps=0.1, norm="linf", bounds=BOUNDS,
                         gradient_success=success, generator=torch.Generator().manual_seed(0))
    assert [r.name for r in results] == names + ["box_diameter_attack", "noise_beats_gradients"]
    assert all(isinstance(r, CheckResult) and not r.tripped for r in results)
    dicts = json.loads(json.dumps([r.to_dict() for r in results], allow_nan=False))
    assert set(dicts[0]) == {"name", "tripped", "value", "threshold", "message"}
    assert all(type(d["tripped"]) is bool and type(d["value"]) is float for d in dicts)
    tripped = run_checks(*rounded_case, eps=0.1, norm="linf", bounds=BOUNDS)
    assert [r.tripped for r in tripped] == [False, False, True, True]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"x": torch.full((4, 8), float("nan"))}, "x contains NaN"),
        ({"x": torch.ones(4)}, "x must have shape"),
        ({"y": torch.zeros(3, dtype=torch.long)}, "y must have batch size"),
        ({"y": torch.full((4,), 7)}, "y must be class labels"),
        ({"norm": "l1"}, "norm must be one of"),
        ({"eps": -0.1}, "eps must be >= 0"),
        ({"bounds": (0.0, 0.5)}, "outside bounds"),
        ({"bounds": (1.0, 0.0)}, "bounds must be"),
        ({"gradient_success": torch.zeros(3, dtype=torch.bool)}, "gradient_success must be"),
        ({"gradient_success": torch.zeros(4)}, "gradient_success must be a bool"),
        ({"extra_success": torch.zeros(4, dtype=torch.bool)}, "extra_success needs"),
        ({"gradient_success": torch.zeros(4, dtype=torch.bool), "extra_success": [1, 0]},
         "extra_success must be"),
    ],
)
def test_bad_inputs(case, kwargs, field):
    model = case[0]
    args = {"x": torch.rand(4, 8, generator=torch.Generator().manual_seed(2)),
            "y": torch.zeros(4, dtype=torch.long), "eps": 0.1, "norm": "linf", **kwargs}
    with pytest.raises(InputError, match=field):
        run_checks(model, args.pop("x"), args.pop("y"), **args)


def test_checks_need_class_logits(case):
    _, x, y = case
    image = lambda t: t.view(-1, 2, 4)  # noqa: E731
    assert "does not apply" in probability_outputs(image, x).message
    with pytest.raises(InputError, match="zero_gradients needs class logits"):
        zero_gradients(image, x, y)
    with pytest.raises(InputError, match="draws must be"):
        noise_beats_gradients(case[0], x, y, eps=0.1, norm="linf", gradient_success=y > 5, draws=0)
