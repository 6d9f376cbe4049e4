"""``firstorder.*`` (Simon-Gabriel et al.): helpers, configs and claims on fabricated results."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advgeom.errors import InputError
from advgeom.experiments.simongabriel2019 import _common as c
from advgeom.experiments.simongabriel2019 import (
    dimension,
    generalization,
    init,
    lemma,
    regularizers,
)


def by_id(claims: list[dict]) -> dict[str, dict]:
    return {cl["id"]: cl for cl in claims}


def test_loglog_slope_of_a_power_law_and_its_interval():
    d = [64, 256, 1024, 4096]
    fit = c.loglog_slope(d, [3 * v**0.5 for v in d])
    assert fit["slope"] == pytest.approx(0.5) and fit["low"] == pytest.approx(0.5)
    noisy = c.loglog_slope(d, [v**0.5 * f for v, f in zip(d, (1.0, 1.2, 0.9, 1.1), strict=True)])
    assert noisy["low"] < noisy["slope"] < noisy["high"]
    two = c.loglog_slope(d[:2], [1.0, 2.0])  # no interval from two points
    assert two["low"] is None and c.interval_text(two) == f"{two['slope']:.3f} (no interval)"
    assert c.interval_text(fit) == "0.500 [0.500, 0.500]"
    with pytest.raises(InputError):
        c.loglog_slope([1.0], [1.0])
    interval = c.mean_interval([0.4, 0.5, 0.6])
    assert interval["mean"] == pytest.approx(0.5) and interval["low"] < 0.5 < interval["high"]


def test_standardise_uses_channel_statistics_that_pixel_copying_keeps():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(20, 2, 4, 4, generator=g)
    z = c.standardise(x, x)
    assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-6)
    assert torch.allclose(z.std(dim=(0, 2, 3)), torch.ones(2), atol=1e-5)
    from advgeom.data import upsample

    assert torch.allclose(c.standardise(upsample(x, 2), x), upsample(z, 2), atol=1e-6)


def test_evaluate_a_linear_classifier():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))  # class = larger coordinate
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.51, 0.49]]).view(3, 1, 1, 2)
    flat = nn.Sequential(nn.Flatten(), model)
    y = torch.tensor([0, 1, 0])
    gen = torch.Generator().manual_seed(0)
    out = c.evaluate(flat, x, y, attack_eps=0.05, attack_steps=10, generator=gen)
    assert out["accuracy"] == 1.0
    # Only the third point (margin 0.02 < 2 * 0.05) changes its prediction under the attack.
    assert out["vulnerability"] == pytest.approx(1 / 3)
    assert out["adversarial_accuracy"] == pytest.approx(2 / 3)
    # A misclassified point: the attack on its true label only reinforces the wrong prediction.
    wrong = c.evaluate(flat, x[2:], torch.tensor([1]), attack_eps=0.05, generator=gen)
    assert wrong["accuracy"] == 0 and wrong["vulnerability"] == 0
    assert out["grad_l1"] > 0 and out["grad_l2"] <= out["grad_l1"]
    assert c.evaluate(flat, x, y, attack_eps=0)["vulnerability"] == 0


def _init_metrics(slope_fc: float, slope_cnn: float, slope_avg: float) -> dict:
    ds = [64, 256, 1024]
    runs = {}
    for arch, s1 in (("fc", slope_fc), ("strided", slope_cnn), ("avgpool", slope_avg)):
        points = [
            {
                "arch": arch,
                "factor": 2**i,
                "d": d,
                "grad_l1": [d**s1 * k for k in (1.0, 1.02, 0.98)],
                "grad_l2": [d ** (s1 - 0.5) * k for k in (1.0, 1.02, 0.98)],
            }
            for i, d in enumerate(ds)
        ]
        runs[arch] = {"points": points, "slopes": init.slopes(points)}
    return {"dataset": "digits", "runs": runs, "theory": init.THEORY}


def test_init_claims_follow_the_slopes():
    cfg = init.Config(seeds=3)
    good = by_id(init.claims(cfg, _init_metrics(0.5, 0.52, 0.1)))
    assert list(good) == [
        "fc_slope_l1",
        "fc_slope_l2",
        "strided_slope_l1",
        "strided_slope_l2",
        "avgpool_dampened",
    ]
    assert all(cl["agrees"] is True for cl in good.values())
    assert good["strided_slope_l1"]["measured"] == pytest.approx(0.52)
    # avgpool: the verdict reads the upper end of the slope's interval, and so does measured.
    avg = good["avgpool_dampened"]
    assert avg["measured"] == pytest.approx(_init_metrics(0.5, 0.52, 0.1)["runs"]["avgpool"][
        "slopes"]["l1"]["high"])
    bad = by_id(init.claims(cfg, _init_metrics(0.5, 0.4, 0.5)))
    assert bad["strided_slope_l1"]["agrees"] is False  # 0.4 is outside 0.5 +- 0.05
    assert bad["strided_slope_l2"]["agrees"] is False
    assert bad["avgpool_dampened"]["agrees"] is False
    smoke = init.claims(cfg, _init_metrics(0.5, 0.5, 0.1), measurable=False)
    assert all(cl["agrees"] is None and "smoke" in cl["note"] for cl in smoke)


def _reg_point(method: str, eps: float, g1: float, vul: float, acc: float = 0.98) -> dict:
    return {
        "method": method,
        "eps": eps,
        "grad_l1": g1,
        "grad_l2": g1 / 6,
        "vulnerability": vul,
        "accuracy": acc,
    }


def _reg_metrics(adv_factor: float) -> dict:
    pts = [_reg_point("plain", 0.0, 3.0, 0.3)]  # vulnerability ~ E||g||_1 / 10 for all
    for eps, g in ((0.01, 2.5), (0.1, 1.5)):
        pts += [
            _reg_point("grad_l1", eps, g, g / 10),
            _reg_point("grad_l2", eps, g * 1.05, g / 9.5),
            _reg_point("adv_linf", eps, g * adv_factor, g * adv_factor / 10),
            _reg_point("adv_l2", eps, g * 0.95, g / 10.5),
            _reg_point("pgd", eps, g * 0.9, g / 11),
        ]
    pts += [_reg_point("cross_lipschitz", e, 2.9, 0.19) for e in (0.001, 0.01)]
    return {"dataset": "digits", "points": pts}


def test_regularizer_claims_on_paper_like_and_broken_results():
    cfg = regularizers.Config(eps=(0.01, 0.1), cross_lipschitz_eps=(0.001, 0.01))
    good = by_id(regularizers.claims(cfg, _reg_metrics(1.1)))
    assert good["duality_linf_q1"]["agrees"] is True
    assert good["duality_linf_q1"]["measured"] == {
        "0.01": pytest.approx(1.1),
        "0.1": pytest.approx(1.1),
    }
    assert good["duality_l2_q2"]["agrees"] is True and good["rescaling_q1_q2"]["agrees"] is True
    assert good["l1_l2_linear"]["agrees"] is True
    assert good["vulnerability_follows_gradients"]["agrees"] is True
    assert good["regularization_reduces_gradients"]["agrees"] is True
    assert good["tradeoff_shared"]["agrees"] is None  # accuracy never moves: nothing to compare
    assert "accuracy moves by only 0 " in good["tradeoff_shared"]["note"]
    bad = by_id(regularizers.claims(cfg, _reg_metrics(2.0)))
    assert bad["duality_linf_q1"]["agrees"] is False
    assert bad["regularization_reduces_gradients"]["agrees"] is False  # FGSM: 1.5 * 2 = plain
    one_sided = regularizers.Config(methods=("grad_l1", "pgd"), eps=(0.01, 0.1))
    ids = by_id(regularizers.claims(one_sided, _reg_metrics(1.0)))
    assert "duality_linf_q1" not in ids and "l1_l2_linear" in ids


def test_regularizer_tradeoff_is_judged_when_accuracy_moves():
    pts = [_reg_point("plain", 0.0, 3.0, 0.4, acc=0.95)]
    for m in ("grad_l1", "adv_linf", "pgd"):
        pts += [
            _reg_point(m, e, 3 - 10 * e, 0.4 - 2 * e, acc=0.95 - 1.5 * e) for e in (0.05, 0.1, 0.15)
        ]
    cfg = regularizers.Config(methods=("grad_l1", "adv_linf", "pgd"), eps=(0.05, 0.1, 0.15))
    claim = by_id(regularizers.claims(cfg, {"dataset": "digits", "points": pts}))
    assert claim["tradeoff_shared"]["agrees"] is True
    assert claim["tradeoff_shared"]["measured"] == pytest.approx(0.0, abs=1e-12)
    # One method trades 0.1 more accuracy at the same vulnerability: no shared curve.
    for p in pts:
        if p["method"] == "pgd":
            p["accuracy"] -= 0.1
    claim = by_id(regularizers.claims(cfg, {"dataset": "digits", "points": pts}))
    assert claim["tradeoff_shared"]["agrees"] is False
    assert claim["tradeoff_shared"]["measured"] == pytest.approx(0.1)


def _dim_metrics(slope0: float, slope1: float, accuracies=(0.98, 0.97, 0.98)) -> dict:
    pts = []
    for eps, s in ((0.0, slope0), (0.03, slope1)):
        for i, (d, acc) in enumerate(zip((64, 256, 1024), accuracies, strict=True)):
            pts.append(
                {
                    "factor": 2**i,
                    "d": d,
                    "eps": eps,
                    "grad_l1": d**s,
                    "grad_l2": d**s / d**0.5,  # E||g||_1 / E||g||_2 = sqrt(d) (Fig. 7e)
                    "vulnerability": 0.1 * (i + 1) if eps == 0 else 0.1,
                    "accuracy": acc,
                }
            )
    slopes = {
        str(e): {
            "grad_l1": c.loglog_slope(
                [p["d"] for p in pts if p["eps"] == e], [p["grad_l1"] for p in pts if p["eps"] == e]
            )
        }
        for e in (0.0, 0.03)
    }
    return {"dataset": "digits", "points": pts, "slopes": slopes}


def test_dimension_claims():
    cfg = dimension.Config(factors=(1, 2, 4), eps=(0.0, 0.03))
    good = by_id(dimension.claims(cfg, _dim_metrics(0.5, 0.05)))
    fig2 = ("gradients_grow_sqrt_d", "vulnerability_grows_with_d", "accuracy_independent_of_d",
            "regularization_flattens")
    assert all(good[k]["agrees"] is True for k in fig2)  # the others: test_..._figures.py
    assert good["vulnerability_grows_with_d"]["measured"] == {
        "64": 0.1,
        "256": 0.2,
        "1024": pytest.approx(0.3),
    }
    bad = by_id(dimension.claims(cfg, _dim_metrics(0.2, 0.2, (0.9, 0.98, 0.98))))
    assert bad["gradients_grow_sqrt_d"]["agrees"] is False
    assert bad["accuracy_independent_of_d"]["agrees"] is False
    assert bad["regularization_flattens"]["agrees"] is False


def _history(train, test):
    return [
        {"epoch": e, "train_grad_l1": a, "test_grad_l1": b}
        for e, (a, b) in enumerate(zip(train, test, strict=True))
    ]


def test_generalization_claims():
    runs = [
        {
            "factor": 1,
            "d": 64,
            "eps": 0.0,
            "history": _history([1, 1, 0.5, 0.3], [1, 1.2, 1.3, 1.5]),
        },
        {
            "factor": 2,
            "d": 256,
            "eps": 0.0,
            "history": _history([1, 1, 0.4, 0.2], [1, 1.5, 2.0, 2.5]),
        },
    ]
    cfg = generalization.Config(factors=(1, 2), eps=(0.0,))
    good = by_id(generalization.claims(cfg, {"dataset": "digits", "runs": runs}))
    assert good["test_exceeds_train"]["measured"] == {"d=64, eps=0": 5.0, "d=256, eps=0": 12.5}
    assert all(cl["agrees"] is True for cl in good.values())
    runs[1]["history"][-1]["test_grad_l1"] = 0.2  # no gap at the end for d = 256
    bad = by_id(generalization.claims(cfg, {"dataset": "digits", "runs": runs}))
    assert bad["test_exceeds_train"]["agrees"] is False
    assert bad["gap_grows_with_d"]["agrees"] is False


def test_lemma_claims():
    rows = [
        {"norm": n, "attack": a, "eps": e, "ratio": r}
        for n in ("linf", "l2")
        for a in ("fgm", "pgd")
        for e, r in ((1e-5, 1.0001), (5e-3, 1.05), (1e-1, 4.0))
    ]
    cfg = lemma.Config(eps=(1e-5, 5e-3, 1e-1))
    m = {"dataset": "digits", "d": 64, "examples": 10, "rows": rows}
    good = by_id(lemma.claims(cfg, m))
    assert all(cl["agrees"] is True for cl in good.values())
    assert good["first_order_at_threshold"]["measured"] == pytest.approx(1.05)
    # The eps -> 0 limit is a theorem (it checks our code); the threshold claim is the paper's.
    assert [good[k]["kind"] for k in ("first_order_linf", "first_order_l2")] == ["construction"] * 2
    assert good["first_order_at_threshold"]["kind"] == "reproduction"
    rows[0]["ratio"] = 1.2  # linf FGSM at the smallest eps is off
    assert by_id(lemma.claims(cfg, m))["first_order_linf"]["agrees"] is False


@pytest.mark.parametrize(
    "module,bad",
    [
        (init, {"factors": (1,)}),
        (init, {"archs": ("resnet",)}),
        (init, {"slope_tol": 0.0}),
        (regularizers, {"methods": ("plain",)}),
        (regularizers, {"eps": (0.0, 0.1)}),
        (regularizers, {"ratio_tol": 1.0}),
        (dimension, {"eps": (0.1, 0.1)}),
        (dimension, {"last_epochs": 300}),
        (lemma, {"eps": (0.1, 0.01)}),
        (lemma, {"attacks": ("cw",)}),
        (generalization, {"gap_min": 1.0}),
    ],
)
def test_configs_reject_bad_values(module, bad):
    with pytest.raises(InputError):
        module.Config(**bad)


def test_defaults_are_the_papers():
    reg = regularizers.Config()
    assert (reg.arch, reg.channels, reg.epochs, reg.batch_size, reg.lr, reg.momentum) == (
        "strided",
        64,
        200,
        128,
        0.01,
        0.9,
    )
    assert reg.attack_eps == 0.005 and reg.attack_steps == 10
    dim = dimension.Config()
    assert dim.factors == (1, 2, 4, 8) and dim.attack_eps == 0.0008 and dim.last_epochs == 20
    assert init.Config().factors == (1, 2, 4, 8) and init.Config().channels == 64
    assert init.EXPERIMENT.paper == "simon-gabriel"
