"""The registry, claims and the run context handed to an experiment."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from advgeom.errors import InputError
from advgeom.runs import registry
from advgeom.runs.claims import CLAIM_KEYS, claim, count, count_kinds, verdict
from advgeom.runs.context import RunContext
from advgeom.runs.registry import PAPERS, all_experiments, get
from advgeom.runs.rules import within
from advgeom.store.rundir import RunDir


def test_spheres_sampling_is_registered():
    exp = get("spheres.sampling")
    assert exp.paper == "gilmer"
    assert "spheres.sampling" in [e.id for e in all_experiments()]
    assert exp.overrides("paper") == {}
    assert exp.overrides("smoke")["pair_points"] < exp.config().pair_points


def test_unknown_experiment_names_close_matches():
    with pytest.raises(InputError, match="Did you mean: spheres.sampling"):
        get("spheres.sampl")
    with pytest.raises(InputError, match="advgeom list"):
        get("zzz")


def test_unknown_scale():
    with pytest.raises(InputError, match="--scale must be one of smoke, default, paper"):
        get("spheres.sampling").overrides("huge")


def test_register_checks(register_sweep):
    sweep = register_sweep("test.sweep")
    assert get("test.sweep") is sweep.experiment
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(sweep.experiment)
    with pytest.raises(ValueError, match="unknown paper"):
        registry.register(replace(sweep.experiment, id="test.bad1", paper="nobody"))
    with pytest.raises(ValueError, match="unknown scales"):
        registry.register(replace(sweep.experiment, id="test.bad2", scales={"huge": {}}))
    assert "test.bad1" not in registry._REGISTRY and "test.bad2" not in registry._REGISTRY


def test_register_sweep_fixture_cleans_up():
    assert not any(e.id.startswith("test.") for e in all_experiments())


def test_all_experiments_grouped_by_paper_order(register_sweep):
    register_sweep("zz.last")
    register_sweep("aa.first")
    order = list(PAPERS)
    ids = [(order.index(e.paper), e.id) for e in all_experiments()]
    assert ids == sorted(ids)


def test_claim_record_and_counts():
    c = claim("x", "statement", paper_value=1.25, measured=1.3, rule=within(rel=0.3), note="n")
    assert tuple(c) == CLAIM_KEYS
    assert c["agrees"] is True and c["kind"] == "reproduction"
    assert c["rule"] == "agrees when measured is within 30% of the paper's value"
    assert c.decided_by.decide(2.0, 1.25) is False
    off = claim("y", "s", paper_value=1.25, measured=2.0, rule=within(rel=0.3))
    unmeasurable = claim("z", "s", paper_value=1.25, measured=1.3, rule=within(rel=0.3),
                         measurable=False)
    missing = claim("w", "s", paper_value=1.25, measured=None, rule=within(rel=0.3))
    assert (off["agrees"], unmeasurable["agrees"], missing["agrees"]) == (False, None, None)
    built = claim("b", "s", paper_value=0, measured=0, rule=within(abs=0), kind="construction")
    claims = [c, off, unmeasurable, missing, built]
    assert count(claims) == {"claims_total": 4, "claims_agree": 1, "claims_disagree": 1,
                             "claims_unmeasured": 2}  # the construction claim is not counted
    assert count_kinds(claims) == {"reproduction": 4, "construction": 1, "beyond": 0,
                                   "measurement": 0}
    assert count_kinds([{"agrees": True}]) == {"reproduction": 1, "construction": 0, "beyond": 0,
                                               "measurement": 0}  # saved before kinds existed
    assert [verdict(v) for v in (True, False, None)] == ["reproduced", "differs", "not measured"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"rule": None}, "needs a rule"),
        ({"rule": None, "kind": "beyond"}, "needs a rule"),
        ({"rule": within(rel=0.1), "kind": "guess"}, "kind must be one of"),
        ({"rule": lambda m, p: True}, "rule must be a Rule"),
    ],
)
def test_claim_refuses_a_missing_rule_or_unknown_kind(kwargs, error):
    with pytest.raises((TypeError, ValueError), match=error):
        claim("x", "s", paper_value=1.0, measured=1.0, **kwargs)


def make_ctx(tmp_path, seed=0) -> RunContext:
    run = RunDir(tmp_path / f"run-{seed}").create()
    return RunContext(run=run, device=torch.device("cpu"), seed=seed, scale="smoke")


def test_generator_depends_on_seed_and_key_only(tmp_path):
    ctx, other_seed = make_ctx(tmp_path, 0), make_ctx(tmp_path, 1)

    def draw(c, *key):
        return torch.rand(4, generator=c.generator(*key))

    assert torch.equal(draw(ctx, "p", 1), draw(ctx, "p", 1))
    assert not torch.equal(draw(ctx, "p", 1), draw(ctx, "p", 2))
    assert not torch.equal(draw(ctx, "p", 1), draw(other_seed, "p", 1))


def test_point_computes_once_and_returns_the_stored_value(tmp_path):
    ctx = make_ctx(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"t": (1, 2), "v": math.nan}

    first = ctx.point("k", compute)
    second = ctx.point("k", compute)
    assert calls == [1]
    assert first == second == {"t": [1, 2], "v": "nan"}  # a fresh point looks like a reused one
    assert ctx.run.points() == {"k": first}
    log = ctx.run.log_path.read_text(encoding="utf-8")
    assert "point k: measured" in log and "point k: reused" in log


def test_point_not_stored_when_compute_raises(tmp_path):
    ctx = make_ctx(tmp_path)

    def compute():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        ctx.point("k", compute)
    assert ctx.run.points() == {}
    assert ctx.point("k", lambda: 5) == 5


def test_single_thread_on_cpu_restores_the_thread_count():
    import torch

    from advgeom.devices import single_thread_on_cpu

    before = torch.get_num_threads()
    with single_thread_on_cpu(torch.device("cpu")):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_experiments_are_discovered_and_audit_and_report_load_none():
    """Nothing lists the experiments by hand: the registry imports the paper packages when first
    asked, and importing the audit or the report loads no experiment."""
    code = (
        "import sys, advgeom.audit, advgeom.report, advgeom.runs.reproduce\n"
        "print(sorted(m for m in sys.modules if m.startswith('advgeom.experiments.')))\n"
        "from advgeom.runs.registry import all_experiments\n"
        "print(sorted({e.paper for e in all_experiments()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == str(sorted(PAPERS))
