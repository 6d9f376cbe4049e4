"""The claims of ``firstorder.dimension`` (Fig. 2 and App. G's Fig. 7e of Simon-Gabriel et al.)
from its metrics: sqrt(d) growth of E||g||_1 without regularisation, vulnerability rising with d,
d-independent accuracies, flattening by PGD, d-independent accuracy-vulnerability trade-offs
(Fig. 2d), a ratio E||g||_1 / E||g||_2 that depends on d (Fig. 7e), and the caption's plateau and
onset of accuracy damage (in :mod:`._figure2_caption`).

``m`` is the run's metrics: ``points`` (one per (eps, d): medians over the last epochs) and
``slopes`` (``str(eps) -> {"grad_l1" | "vulnerability": loglog_slope fit against d}``).
"""

from __future__ import annotations

import numpy as np

from advgeom.experiments.simongabriel2019 import _common as c
from advgeom.experiments.simongabriel2019._common import points_at as _at
from advgeom.experiments.simongabriel2019._figure2_caption import FLATTEN_MIN, caption_claims
from advgeom.experiments.simongabriel2019._matched import matched_spread
from advgeom.runs import rules
from advgeom.runs.claims import Claim, claim

RATIO_SLOPE_MIN = 0.1  # Fig. 7e: log-log slope of E||g||_1 / E||g||_2 against d called "depends"


def note_of(cfg, m: dict, measurable: bool, resampled: str = "up-sampled") -> str:
    """What the run measured on, for every claim's note."""
    ds = sorted({p["d"] for p in m["points"]})
    text = (
        f"{cfg.dataset} {resampled} to d = {ds}, {cfg.arch} net, {cfg.epochs} epochs, median "
        f"of the last {cfg.last_epochs}; vulnerability by PGD-{cfg.attack_steps} (random start) "
        f"at {cfg.attack_eps} per pixel"
    )
    return (
        text
        if measurable
        else "smoke scale: the pipeline runs; effects need the default or paper scale; " + text
    )


def increasing(values) -> bool:
    """Whether a dict's values rise from each entry to the next (at least two)."""
    v = list(values.values()) if isinstance(values, dict) else []
    return len(v) >= 2 and all(b > a for a, b in zip(v, v[1:], strict=False))


def sqrt_d_claim(cfg, m: dict, measurable: bool, note: str, ref: str = "Fig. 2b") -> Claim:
    """Fig. 2b (or ``ref``): E||g||_1 grows like sqrt(d) without regularisation."""
    e0 = min(cfg.eps)
    s0 = m["slopes"][str(e0)]["grad_l1"]
    return claim(
        "gradients_grow_sqrt_d",
        f"Without regularisation (eps = {e0:g}) E||grad_x L||_1 "
        f"grows like sqrt(d) after training ({ref}): log-log slope 1/2.",
        paper_value=0.5,
        measured=c.finite(s0["slope"]),
        rule=rules.slope_near(0.5, cfg.slope_tol),
        measurable=measurable,
        note=f"slope {c.interval_text(s0)} (95%, over resolutions); {note}",
    )


def vulnerability_claim(cfg, m: dict, measurable: bool, note: str, ref: str = "Fig. 2a") -> Claim:
    """Fig. 2a (or ``ref``): vulnerability rises with d without regularisation."""
    e0 = min(cfg.eps)
    return claim(
        "vulnerability_grows_with_d",
        f"Without regularisation adversarial vulnerability increases with d ({ref}).",
        paper_value="increasing",
        measured={str(p["d"]): p["vulnerability"] for p in _at(m["points"], e0)},
        rule=rules.predicate(
            increasing,
            "the vulnerability rises from each d to the next",
            fails_on={"64": 0.3, "256": 0.2},
            holds_on={"64": 0.2, "256": 0.3},
        ),
        measurable=measurable,
        note=f"test vulnerability per d at eps = {e0:g}; {note}",
    )


def _accuracy_claim(cfg, pts: list[dict], measurable: bool, note: str) -> Claim:
    tol = cfg.accuracy_tol
    spread = {
        str(e): max(p["accuracy"] for p in _at(pts, e)) - min(p["accuracy"] for p in _at(pts, e))
        for e in cfg.eps
    }
    return claim(
        "accuracy_independent_of_d",
        "Accuracy does not depend on d at any regularisation strength (Fig. 2c).",
        paper_value=0.0,
        measured=spread,
        rule=rules.predicate(
            lambda s: bool(s) and all(v is not None and v <= tol for v in s.values()),
            f"every accuracy spread across d is <= {tol:g}",
            fails_on={"0": tol + 0.1},
            holds_on={"0": 0.0},
        ),
        measurable=measurable,
        note=f"max - min test accuracy across d, per eps; {note}",
    )


def _flattens_claim(cfg, m: dict, measurable: bool, note: str) -> Claim:
    e0, e_max = min(cfg.eps), max(cfg.eps)
    s0, s1 = m["slopes"][str(e0)]["grad_l1"], m["slopes"][str(e_max)]["grad_l1"]
    return claim(
        "regularization_flattens",
        f"Stronger PGD regularisation (eps = {e_max:g}) flattens "
        "the dimension dependence of E||grad_x L||_1 (Fig. 2b).",
        paper_value="smaller slope",
        measured=c.finite(s0["slope"] - s1["slope"]),
        rule=rules.at_least(
            FLATTEN_MIN, what=f"the slope drop from eps = {e0:g} to eps = {e_max:g}"
        ),
        measurable=measurable,
        note=f"log-log slopes of E||g||_1 against d: {c.interval_text(s0)} at eps = "
        f"{e0:g}, {c.interval_text(s1)} at eps = {e_max:g}; {note}",
    )


def tradeoff_curves(pts: list[dict]) -> dict[str, list[tuple[float, float]]]:
    """d -> [(vulnerability, accuracy)] of its networks, one per eps (Fig. 2d's curves)."""
    ds = sorted({p["d"] for p in pts})
    return {str(d): [(p["vulnerability"], p["accuracy"]) for p in pts if p["d"] == d] for d in ds}


def _tradeoff_claim(cfg, pts: list[dict], measurable: bool, note: str) -> Claim:
    """Fig. 2d: at equal vulnerability, equal accuracy whatever d.

    As for Fig. 1f, a spread above ``accuracy_tol`` fails wherever it is found; a small one is
    evidence only where accuracy moves by at least 2 tol over the matched vulnerability range
    (else it says no more than ``accuracy_independent_of_d``), so such a pass is withheld."""
    tol = cfg.accuracy_tol
    res = matched_spread(tradeoff_curves(pts), log_x=False)
    if res is None or res["matched"] < 2:
        why = ("the resolutions' vulnerability ranges do not overlap beyond one point: nothing "
               "to match; ")
    elif res["range"] < 2 * tol and res["spread"] <= tol:
        why = (f"accuracy moves by only {res['range']:.3g} over the matched vulnerability range "
               f"[{res['low']:.4g}, {res['high']:.4g}] (< 2 x {tol:g}): the eps grid does not "
               "reach the strengths that cost accuracy, so a small spread shows nothing beyond "
               "accuracy_independent_of_d (the paper scale's grid does); ")
    else:
        why = ""
    where = "" if res is None else (
        f"largest spread at vulnerability {res['at']:.4g}, {res['matched']} matched values in "
        f"[{res['low']:.4g}, {res['high']:.4g}], over which accuracy moves by "
        f"{res['range']:.3g}; ")
    return claim(
        "tradeoff_independent_of_d",
        "Whatever the input dimension, PGD training achieves similar accuracy-vulnerability "
        "trade-offs (Fig. 2d): the curves of every d overlap, at equal vulnerability equal "
        "accuracy.",
        paper_value="one shared curve",
        measured=None if res is None else c.finite(res["spread"]),
        rule=rules.at_most(tol, what="the largest spread across d of the accuracy at matched "
                           "vulnerability"),
        measurable=measurable and not why,
        note=f"{why}each d's networks (one per eps) read as a curve of accuracy against "
        f"vulnerability, compared at matched vulnerability (linear interpolation; the paper fits "
        f"smoothing splines); {where}{note}",
    )


def _ratio_claim(cfg, pts: list[dict], measurable: bool, note: str) -> Claim:
    """Fig. 7e (Sec. 4.1): E||g||_2 is linear in E||g||_1, but the slope depends on d."""
    ds = sorted({p["d"] for p in pts})
    ratio = {d: float(np.median([p["grad_l1"] / p["grad_l2"] for p in pts if p["d"] == d]))
             for d in ds}
    fit = c.loglog_slope(ds, list(ratio.values()))
    per_d = ", ".join(f"{d}: {r:.4g}" for d, r in ratio.items())
    return claim(
        "l1_l2_ratio_depends_on_d",
        "The proportionality constant between E||grad_x L||_1 and E||grad_x L||_2 is not "
        "independent of the input dimension (Sec. 4.1, Fig. 7e).",
        paper_value="depends on d",
        measured=c.finite(fit["slope"]),
        rule=rules.at_least(RATIO_SLOPE_MIN, what="the log-log slope of E||g||_1 / E||g||_2 "
                            "against d"),
        measurable=measurable,
        note=f"median over eps of each network's E||g||_1 / E||g||_2, per d: {per_d}; log-log "
        f"slope against d {c.interval_text(fit)} "
        f"(Thm. 4 predicts 1/2 at initialisation); {note}",
    )


def claims(cfg, m: dict, *, measurable: bool = True) -> list[Claim]:
    """sqrt(d) growth without regularisation, d-independent accuracy, flattening with eps,
    d-independent trade-offs, a d-dependent l1/l2 ratio, and the caption's plateau and onset."""
    note, pts = note_of(cfg, m, measurable), m["points"]
    out = [
        sqrt_d_claim(cfg, m, measurable, note),
        vulnerability_claim(cfg, m, measurable, note),
        _accuracy_claim(cfg, pts, measurable, note),
    ]
    if max(cfg.eps) > min(cfg.eps):
        out.append(_flattens_claim(cfg, m, measurable, note))
    out += [_tradeoff_claim(cfg, pts, measurable, note), _ratio_claim(cfg, pts, measurable, note)]
    return out + caption_claims(cfg, m, measurable, note)
