"""The verdict rules: each decides from the measured value, can fail, and accepts the paper's own
number where it is about that number."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advgeom.runs import rules
from advgeom.runs.rules import contract_problems

finite = st.floats(-1e6, 1e6, allow_nan=False)
positive = st.floats(1e-6, 1e6)


@given(p=finite, rel=st.floats(0, 2), abs_=st.floats(0, 10))
def test_within_accepts_its_reference_and_rejects_ten_tolerances_off(p, rel, abs_):
    rule = rules.within(rel=rel, abs=abs_)
    assert contract_problems(rule, p) == []
    tol = abs_ + rel * abs(p)
    resolvable = tol > 1e-6 * max(1.0, abs(p))  # above float rounding of p + tol
    if resolvable:
        assert rule.decide(p + 0.999 * tol, p)
        assert not rule.decide(p + 1.001 * tol, p)


@given(p=positive, f=st.floats(1.01, 100))
def test_factor_is_symmetric_in_log_scale(p, f):
    rule = rules.factor(f)
    assert contract_problems(rule, p) == []
    assert rule.decide(p * f * 0.999, p) and rule.decide(p / f * 1.001, p)
    assert not rule.decide(p * f * 1.01, p) and not rule.decide(p / f / 1.01, p)
    assert not rule.decide(-p, p)


@given(x=finite, p=finite)
def test_bounds(x, p):
    low, high = rules.at_least(x), rules.at_most(x)
    assert low.decide(x, p) and high.decide(x, p)
    assert not low.decide(low.failing(p), p) and not high.decide(high.failing(p), p)


def test_texts_say_what_agrees_means():
    assert rules.within(rel=0.3).text == "agrees when measured is within 30% of the paper's value"
    assert rules.within(abs=0.05, of=1.0).text == "agrees when measured is within 0.05 of 1"
    assert rules.slope_near(0.5, 0.06).text == "agrees when the fitted slope is within 0.06 of 0.5"
    assert rules.factor(3).text == ("agrees when measured is within a factor 3 of the paper's "
                                    "value")
    assert rules.at_least(0.8, what="the share").text == "agrees when the share >= 0.8"
    assert rules.between(0, 1).text == "agrees when measured lies in [0, 1]"


@pytest.mark.parametrize("bad", [None, "1.0", math.nan, math.inf, True])
def test_non_numbers_never_agree(bad):
    for rule in (rules.within(rel=0.5), rules.at_least(0), rules.at_most(10), rules.between(0, 2),
                 rules.factor(2), rules.same_sign):
        assert rule.decide(bad, 1.0) is False


def test_same_sign_and_equals():
    assert rules.same_sign.decide(-3, -0.1) and not rules.same_sign.decide(3, -0.1)
    assert contract_problems(rules.same_sign, -0.1) == []
    assert rules.equals(True).decide(True, None) and not rules.equals(True).decide(1, None)
    assert contract_problems(rules.equals(4), 4) == []


def test_predicate_needs_a_failing_example_it_rejects():
    rising = rules.predicate(lambda m: m[-1] > m[0], "the curve rises", fails_on=[2, 1],
                             holds_on=[1, 2])
    assert contract_problems(rising, "rises") == []
    assert rising.text == "agrees when the curve rises"
    always = rules.predicate(lambda m: True, "always", fails_on=[2, 1])
    assert "no value can fail it" in contract_problems(always, None)[0]


def test_contract_flags_a_rule_that_rejects_the_papers_own_number():
    assert "rejects its passing example" in contract_problems(rules.at_least(2.0), 1.0)[0]
    assert "cannot be applied" in contract_problems(rules.within(rel=0.1), "a string")[0]


@pytest.mark.parametrize(
    "make", [lambda: rules.within(rel=-1), lambda: rules.factor(1), lambda: rules.between(2, 1)]
)
def test_bad_parameters_are_refused(make):
    with pytest.raises(ValueError):
        make()
