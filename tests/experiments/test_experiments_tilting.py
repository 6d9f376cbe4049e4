"""The tilting.* experiments (Tanay): their pieces and the claim logic on known inputs (the
claims' rules and the MNIST paper scale: test_experiments_tilting_claims.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from advgeom.errors import InputError
from advgeom.experiments.tanay2018 import _common as c
from advgeom.experiments.tanay2018 import deep, plane, regularization, toy
from advgeom.geometry.tilting import tilting_angle
from advgeom.runs import config, runner
from advgeom.runs.registry import get


def _run(exp_id: str, root, *, assignments=(), data_dir=None):
    exp = get(exp_id)
    cfg = config.resolve(
        exp.config, scale_overrides=exp.overrides("smoke"), assignments=assignments
    )
    request = runner.RunRequest(
        experiment=exp, config=cfg, scale="smoke", root=root, data_dir=data_dir
    )
    return runner.execute(request, runner.start(request))


def by_id(claims: list[dict]) -> dict[str, dict]:
    return {cl["id"]: cl for cl in claims}


@pytest.mark.parametrize(
    ("module", "bad"),
    [
        (regularization, {"pair": (3, 3)}),
        (regularization, {"pair": (2, 10)}),
        (regularization, {"log10_lam": (1.0, 0.5)}),
        (regularization, {"log10_lam": (-1.0, -0.5)}),
        (regularization, {"min_cosine": 1.5}),
        (plane, {"lam_strong": 1e-9}),
        (plane, {"frames": 1}),
        (toy, {"tilted": 33.0}),
        (toy, {"dims": (2,)}),
        (toy, {"angles": (10.0, 85.0)}),
        (deep, {"weight_decays": (-1.0,)}),
        (deep, {"steps": 0}),
    ],
)
def test_configs_reject_bad_values(module, bad):
    with pytest.raises(InputError):
        module.Config(**bad)


def test_pair_option_takes_one_pair_or_all():
    cfg = config.resolve(regularization.Config, assignments=["pair=all"])
    assert c.pairs_of(cfg.pair) == list(c.ALL_PAIRS) and len(c.ALL_PAIRS) == 45
    cfg = config.resolve(regularization.Config, assignments=["pair=(4,9)"])
    assert c.pairs_of(cfg.pair) == [(4, 9)]
    assert regularization.Config().num_lams == 81
    assert regularization.Config().log10_lam[1] - regularization.Config().log10_lam[0] >= 8


def _summary(angles, dists, degenerate=None) -> dict:
    k = len(angles)
    return {
        "lams": list(np.logspace(-3, 1, k)),
        "angle": list(angles),
        "distance_mean": list(dists),
        "degenerate": degenerate or [False] * k,
    }


def _verdict(rs, key: str) -> tuple[dict, bool]:
    cfg = regularization.Config()
    rising = key == "angle"
    measured = regularization._trend(rs, key, rising=rising)
    rule = regularization.angle_rule(cfg) if rising else regularization.distance_rule()
    return measured, rule.decide(measured, "grows")


def test_trend_judgement_follows_the_values():
    falling = _summary([40, 40, 30, 10, 2], [0.5, 0.5, 0.6, 0.8, 0.9])
    assert regularization._ends(falling, "angle", rising=True) == (40, 2, 0.0)
    assert regularization._ends(falling, "distance_mean", rising=False)[2] == 0.0
    wiggle = _summary([40, 39.5, 40, 10, 2], [0.5, 0.6, 0.595, 0.8, 0.9])
    measured, ok = _verdict([wiggle], "angle")
    assert ok and measured["worst_step"] == pytest.approx(0.5) and measured["rise"] == 38
    assert _verdict([wiggle], "distance_mean")[1]
    bumpy = _summary([40, 20, 30, 10, 2], [0.5, 0.7, 0.6, 0.8, 0.9])
    measured, ok = _verdict([bumpy], "angle")
    assert not ok and measured["worst_step"] == pytest.approx(10.0)
    assert not _verdict([bumpy], "distance_mean")[1]
    flat = _summary([3, 3, 2, 2, 2], [0.5, 0.6, 0.7, 0.8, 0.9])
    assert not _verdict([flat], "angle")[1]
    rising = _summary([40, 30, 20, 10, 2], [0.9, 0.8, 0.7, 0.6, 0.5])  # distance grows
    measured, ok = _verdict([rising], "distance_mean")
    assert not ok and measured["ratio"] == pytest.approx(1.8)
    # Degenerate (collapsed) penalties are left out of the judgement.
    collapsed = _summary(
        [40, 30, 10, 2, 2], [0.5, 0.6, 0.8, 0.9, 5.0], degenerate=[False, False, False, False, True]
    )
    measured, ok = _verdict([collapsed], "distance_mean")
    assert ok and (measured["weak"], measured["strong"]) == (0.5, 0.9)
    # Many pairs: each number is the value >= 90% of the pairs reach.
    measured, ok = _verdict([falling] * 9 + [bumpy], "angle")
    assert ok and measured["worst_step"] == 0.0
    measured, ok = _verdict([falling] * 8 + [bumpy] * 2, "angle")
    assert not ok and measured["worst_step"] == pytest.approx(10.0)


def test_value_reached_by_most_pairs():
    reached = c.reached
    assert reached([0.3], high=True) == reached([0.3], high=False) == 0.3
    values = list(range(10))  # 90% of ten values are >= 1 and <= 8
    assert reached(values, high=True) == 1 and reached(values, high=False) == 8
    values = list(range(45))  # 41 of 45 (91%) are >= 4
    assert reached(values, high=True) == 4 and reached(values, high=False) == 40


def test_path_summary_marks_collapsed_penalties():
    g = torch.Generator().manual_seed(0)
    y = (torch.arange(120) % 3 != 0).long()  # unequal classes: 80 vs 40
    x = torch.randn(120, 5, generator=g, dtype=torch.float64) + 1.5 * y[:, None]
    from advgeom.geometry.linear_svm import svm_path
    from advgeom.geometry.tilting import centroid_direction

    path = svm_path(x, y, torch.logspace(-4, 3, 15, dtype=torch.float64))
    s = c.summarize_path(path, (x, y), (x, y), centroid_direction(x, y))
    assert s["degenerate"][-1] and not s["degenerate"][0]  # lam = 1000: the bias decides
    assert s["train_error"][-1] == pytest.approx(40 / 120)
    strong = c.strongest_valid(s)
    assert not s["degenerate"][strong] and all(s["degenerate"][strong + 1 :])
    assert s["angle"][strong] < s["angle"][0]


def test_plane_rotation_ends_at_the_two_svms():
    g = torch.Generator().manual_seed(1)
    y = (torch.arange(60) % 2).long()
    x = torch.randn(60, 8, generator=g, dtype=torch.float64) * 0.3
    x[:, 0] += 2 * y - 1
    z_hat = torch.eye(8, dtype=torch.float64)[0]
    ws = torch.tensor([1.0, 0.1, 0, 0, 0, 0, 0, 0], dtype=torch.float64)
    ww = torch.tensor([1.0, 0, 2.0, 1.0, 0, 0, 0, 0], dtype=torch.float64)
    frames = plane._rotation(x, y, z_hat, [(ws, 0.1), (ww, -0.2)], torch.arange(10), 4)
    assert [f["t"] for f in frames] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert frames[0]["angle"] == pytest.approx(float(tilting_angle(ws, z_hat)))
    assert frames[-1]["angle"] == pytest.approx(float(tilting_angle(ww, z_hat)))
    angles = [f["angle"] for f in frames]
    assert angles == sorted(angles)
    # The line in each frame is the boundary of the normalised weight: a / ||w|| at t = 1.
    a, cc, b = frames[-1]["line"]
    assert math.hypot(a, cc) == pytest.approx(1.0)
    assert b == pytest.approx(-0.2 / float(ww.norm()))


def test_toy_weights_and_distances_in_closed_form():
    for n in (2, 50):
        for theta in (0.0, 30.0, 85.0):
            w = toy.tilted_weight(n, theta)
            assert float(w.norm()) == pytest.approx(1.0)
            assert float(tilting_angle(w, torch.eye(n, dtype=torch.float64)[0])) == pytest.approx(
                theta, abs=1e-6
            )
    x, y = toy.sample(7, 50, 0.1, 0.0, torch.Generator().manual_seed(0))
    assert (x[:, 1:] == 0).all() and ((x[:, 0] > 0) == (y == 1)).all()
    # With a perfectly flat manifold the distance to w_theta's boundary is cos(theta) |x_0|.
    w = toy.tilted_weight(7, 60.0)
    torch.testing.assert_close(c.adversarial_distance(x, y, w, 0.0), 0.5 * x[:, 0].abs())


def test_toy_claims_at_smoke_scale(tmp_path):
    claims = by_id(_run("tilting.toy", tmp_path)["claims"])
    assert claims["dimension_not_necessary"]["agrees"] is True
    assert claims["dimension_not_sufficient"]["agrees"] is True
    assert claims["tilt_decides"]["measured"] < 0.05


def _model(wd: float, angle: float, dist: float, error: float = 0.0) -> dict:
    return {
        "weight_decay": wd,
        "seed": 0,
        "test_error": error,
        "train_error": 0.0,
        "angle_mean": angle,
        "distance_mean": dist,
        "first_order_distance": dist,
        "angles": [angle],
        "distances": [dist],
    }


def test_deep_claims_follow_the_measurements():
    cfg = deep.Config()
    m = {
        "dataset": "digits",
        "pair": [2, 3],
        "models": [
            _model(0.0, 50, 0.5),
            _model(1e-3, 40, 0.6),
            _model(1e-2, 30, 0.7),
            _model(1e-1, 90, 0.0, error=0.5),
        ],
    }
    got = by_id(deep.claims(cfg, m, "default"))
    assert got["local_angle_falls_with_weight_decay"]["agrees"] is True
    assert got["distance_grows_with_weight_decay"]["agrees"] is True
    assert got["local_angle_tracks_distance"]["agrees"] is True
    assert "0.1" in got["local_angle_falls_with_weight_decay"]["note"]  # the collapsed model
    m["models"] = [_model(0.0, 30, 0.7), _model(1e-3, 40, 0.6), _model(1e-2, 50, 0.5)]
    got = by_id(deep.claims(cfg, m, "default"))
    assert got["local_angle_falls_with_weight_decay"]["agrees"] is False
    assert got["distance_grows_with_weight_decay"]["agrees"] is False
    assert all(cl["agrees"] is None for cl in deep.claims(cfg, m, "smoke"))


def test_deep_training_and_attack_loss():
    out = torch.tensor([[2.0], [-1.0]])
    torch.testing.assert_close(
        deep._negative_margin(out, torch.tensor([1, 1])), torch.tensor([-2.0, 1.0])
    )
    torch.testing.assert_close(
        deep._negative_margin(out, torch.tensor([0, 0])), torch.tensor([2.0, -1.0])
    )
    g = torch.Generator().manual_seed(0)
    y = (torch.arange(40) % 2).long()
    x = torch.randn(40, 6, generator=g) + 2 * y[:, None].float()
    cfg = deep.Config(hidden=8, steps=150, lr=1e-2)
    model = deep.train(cfg, x, y, 1e-3, torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert ((model(x)[:, 0] > 0) == (y == 1)).float().mean() > 0.95
    assert not model.training
    # Flushing denormals is switched off again after training.
    assert torch.tensor(1e-40).item() != 0.0
