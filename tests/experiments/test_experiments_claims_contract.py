"""The contract every claim of every experiment keeps (claims discovered from the shared smoke
reproduction): a declared rule that decides the verdict, that accepts the paper's own number where
the claim is about that number, and that a clearly different value fails."""

from __future__ import annotations

import pytest

from advgeom.runs.claims import KINDS, Claim
from advgeom.runs.registry import all_experiments
from advgeom.runs.rules import contract_problems

EXPERIMENT_KINDS = tuple(k for k in KINDS if k != "measurement")  # "measurement" is the audit's


def _claims_of(exp_id, smoke_reproduction):
    _, _, outcomes = smoke_reproduction
    outcome = next(o for o in outcomes if o.experiment == exp_id)
    assert outcome.status == "done", outcome.error
    return outcome.claims


@pytest.mark.parametrize("exp", all_experiments(), ids=lambda e: e.id)
def test_every_claim_has_a_rule_that_can_fail(exp, smoke_reproduction):
    problems = []
    for c in _claims_of(exp.id, smoke_reproduction):
        where = f"{exp.id}:{c['id']}"
        if not isinstance(c, Claim) or c.decided_by is None:
            problems.append(f"{where}: no rule object (build it with claims.claim(..., rule=...))")
            continue
        if c["kind"] not in EXPERIMENT_KINDS:
            problems.append(f"{where}: kind {c['kind']!r} is not one of {EXPERIMENT_KINDS}")
        if c["rule"] != c.decided_by.text or not c["rule"].startswith("agrees when "):
            problems.append(f"{where}: rule text {c['rule']!r} does not describe its rule")
        problems += [f"{where}: rule '{c['rule']}' {p}"
                     for p in contract_problems(c.decided_by, c["paper_value"])]
        if c["agrees"] is not None and c["agrees"] != c.decided_by.decide(c["measured"],
                                                                          c["paper_value"]):
            problems.append(f"{where}: verdict {c['agrees']} is not the rule's")
    assert not problems, "\n".join(problems)
