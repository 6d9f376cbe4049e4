"""``spheres.halfspace``: the paper scale runs MNIST (App. G); smoke and default the digits."""

from __future__ import annotations

from advgeom.experiments import get, rules
from advgeom.experiments.gilmer2018 import halfspace
from advgeom.experiments.gilmer2018.halfspace import Config


def metrics(*, mu: float = 0.01, d_top: float = 6.5, d_low: float = 0.08) -> dict:
    return {"n": 784, "test_size": 10_000, "top": {"mu": mu, "d": d_top},
            "low": {"mu": 0.01, "d": d_low, "rank": 700}}


def by_id(claims: list[dict]) -> dict:
    return {c["id"]: c for c in claims}


def test_paper_scale_is_mnist_and_the_small_scales_digits():
    exp = get("spheres.halfspace")
    assert Config().dataset == "mnist"
    assert exp.overrides("paper") == {}
    assert exp.overrides("smoke")["dataset"] == "digits"
    assert exp.overrides("default")["dataset"] == "digits"


def test_distance_compared_on_mnist_only():
    mnist = by_id(halfspace.claims(Config(), metrics()))
    assert mnist["top_halfspace_distance"]["agrees"] is True
    assert by_id(halfspace.claims(Config(), metrics(d_top=1.8)))["top_halfspace_distance"][
        "agrees"] is False
    digits = by_id(halfspace.claims(Config(dataset="digits"), metrics()))
    assert digits["top_halfspace_distance"]["agrees"] is None


def test_mu_and_ratio_follow_their_measurements():
    c = by_id(halfspace.claims(Config(), metrics(mu=0.02, d_top=0.5)))
    assert c["top_halfspace_mu"]["agrees"] is False  # 10 standard errors off at 10,000 points
    assert c["top_vs_low_variance"]["agrees"] is False  # 6x, not >= 10x
    none = by_id(halfspace.claims(Config(), metrics(d_low=0.0)))
    assert none["top_vs_low_variance"]["measured"] is None
    assert none["top_vs_low_variance"]["agrees"] is None


def test_every_rule_can_fail_and_accepts_its_example():
    for cfg in (Config(), Config(dataset="digits")):
        for c in halfspace.claims(cfg, metrics()):
            assert rules.contract_problems(c.decided_by, c["paper_value"]) == [], c["id"]
