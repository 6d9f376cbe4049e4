"""``spheres.caps``: Theorem 5.1 tested on exact caps; Monte Carlo vs quadrature checks our code."""

from __future__ import annotations

from advgeom.experiments.gilmer2018 import caps
from advgeom.experiments.gilmer2018.caps import Config
from advgeom.runs import rules

CFG = Config(dims=(10, 100, 500))


def metrics(*, theorem_gap: float | None = 0.011, methods_gap: float = 0.003,
            slope: float | None = -0.497) -> dict:
    return {"methods_max_rel_gap": methods_gap, "theorem_max_rel_gap_small_mu": theorem_gap,
            "theorem_max_rel_gap_all_mu": 0.3, "dimension_slope": slope}


def by_id(claims: list[dict]) -> dict:
    return {c["id"]: c for c in claims}


def test_kinds():
    c = by_id(caps.claims(CFG, metrics()))
    assert c["caps_two_ways"]["kind"] == "construction"  # our Monte Carlo vs our quadrature
    assert c["theorem_5_1_matches_caps"]["kind"] == "reproduction"
    assert c["distance_shrinks_like_sqrt_n"]["kind"] == "reproduction"
    assert all(x["agrees"] is True for x in c.values())


def test_each_claim_fails_on_its_own_measurement():
    c = by_id(caps.claims(CFG, metrics(theorem_gap=0.2, methods_gap=0.05, slope=-0.3)))
    assert [x["agrees"] for x in c.values()] == [False, False, False]


def test_unmeasurable_without_small_mu_or_a_second_n():
    c = by_id(caps.claims(CFG, metrics(theorem_gap=None, slope=None)))
    assert c["theorem_5_1_matches_caps"]["agrees"] is None
    assert c["distance_shrinks_like_sqrt_n"]["agrees"] is None


def test_every_rule_can_fail_and_accepts_its_example():
    for c in caps.claims(CFG, metrics()):
        assert rules.contract_problems(c.decided_by, c["paper_value"]) == [], c["id"]
