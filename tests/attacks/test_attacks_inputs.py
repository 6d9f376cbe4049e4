"""Bad input gets a clear InputError that names the argument."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.attacks import fgsm, minimal_distance, pgd, robustness_curve, uniform_ball
from advgeom.errors import InputError

# Fixed inputs in (0, 1), some below 0.2 (the 'outside bounds' case needs one): a draw from the
# global generator depended on which tests ran first.
X = torch.linspace(0.05, 0.95, 12).reshape(4, 3)
Y = torch.tensor([0, 1, 0, 1])
MODEL = nn.Linear(3, 2)
OK = dict(eps=0.1, steps=2, step_size=0.05)


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"eps": -0.1}, "eps must be >= 0"),
        ({"eps": float("nan")}, "eps"),
        ({"eps": torch.tensor([0.1, -1.0, 0.1, 0.1])}, "eps"),
        ({"eps": torch.ones(3)}, "eps must be a number or a tensor of shape"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"steps": 2.5}, "steps"),
        ({"step_size": 0.0}, "step_size must be > 0"),
        ({"norm": "l3"}, "norm must be one of"),
        ({"norm": 2}, "norm must be one of"),
        ({"bounds": (1.0, 0.0)}, "bounds must be \\(lo, hi\\) with lo < hi"),
        ({"bounds": (0.5, 0.5)}, "lo < hi"),
        ({"bounds": (0.0,)}, "bounds must be None or a pair"),
        ({"bounds": (0.2, 1.0)}, "outside bounds"),
        ({"restarts": 0}, "restarts"),
        ({"restarts": 3}, "random_start=True"),
        ({"precision": "fp8"}, "precision must be one of"),
        ({"compact_every": 0}, "compact_every"),
        ({"loss": "hinge"}, "loss must be one of"),
    ],
)
def test_bad_arguments(changes, match):
    with pytest.raises(InputError, match=match):
        pgd(MODEL, X, Y, **{**OK, **changes})


def test_bad_inputs():
    with pytest.raises(InputError, match="x contains NaN"):
        pgd(MODEL, torch.tensor([[0.0, float("nan"), 0.0]]), Y[:1], **OK)
    with pytest.raises(InputError, match="x must have shape"):
        pgd(MODEL, torch.rand(3), Y[:1], **OK)
    with pytest.raises(InputError, match="floating-point"):
        pgd(MODEL, torch.ones(4, 3, dtype=torch.long), Y, **OK)
    with pytest.raises(InputError, match="y must have batch size 4"):
        pgd(MODEL, X, Y[:3], **OK)


def test_model_with_wrong_output_shape():
    with pytest.raises(InputError, match="needs \\(batch, classes\\)"):
        pgd(lambda x: x.sum(1).view(-1, 1, 1), X, Y, loss="cross_entropy", **OK)
    with pytest.raises(InputError, match="expected batch size 4"):
        pgd(lambda x: MODEL(x)[:1], X, Y, **OK)
    with pytest.raises(InputError, match="one logit"):
        pgd(MODEL, X, Y, loss="binary_cross_entropy", **OK)
    with pytest.raises(InputError, match="not class logits"):
        pgd(lambda x: x.view(-1, 1, 3), X, Y, **OK)
    with pytest.raises(InputError, match="must return a torch.Tensor"):
        pgd(lambda x: (MODEL(x),), X, Y, **OK)
    with pytest.raises(InputError, match="'mse' needs the target's shape"):
        pgd(nn.Linear(3, 3), X, torch.rand(4, 2), loss="mse", **OK)


def test_other_entry_points_validate():
    with pytest.raises(InputError, match="eps must be >= 0"):
        fgsm(MODEL, X, Y, eps=-1.0)
    with pytest.raises(InputError, match="max_eps must be > 0"):
        minimal_distance(MODEL, X, Y, max_eps=0.0)
    with pytest.raises(InputError, match="method must be one of"):
        minimal_distance(MODEL, X, Y, max_eps=1.0, method="binary")
    with pytest.raises(InputError, match="every eps must be finite and >= 0"):
        robustness_curve(MODEL, X, Y, eps=[0.1, -0.2])
    with pytest.raises(InputError, match="non-empty list"):
        robustness_curve(MODEL, X, Y, eps=[])
    with pytest.raises(InputError, match="norm must be one of"):
        uniform_ball(X, eps=0.1, norm="l1")


@pytest.mark.parametrize("attack", ["manifold_pgd", "minimal_distance", "early_stop"])
def test_attacks_that_need_success_say_so_for_an_autoencoder(attack):
    from advgeom import attacks

    model = torch.nn.Linear(6, 6)  # an "autoencoder": its output is not class logits
    x = torch.rand(4, 6)
    run = {
        "manifold_pgd": lambda: attacks.manifold_pgd(model, x, x, steps=2, loss=attacks.mse),
        "minimal_distance": lambda: attacks.minimal_distance(model, x, x, max_eps=1.0,
                                                             loss=attacks.mse),
        "early_stop": lambda: attacks.pgd(model, x, x, eps=0.1, steps=2, step_size=0.05,
                                          loss=attacks.mse, early_stop=True),
    }[attack]
    with pytest.raises(InputError, match=f"{attack} needs a notion of success"):
        run()
