"""The claims of ``firstorder.regularizers`` (Fig. 1 of Simon-Gabriel et al.), from its metrics.

Each verdict is a declared rule applied to a measurement: ratios of the dual curves (Prop. 3,
Eq. 3), the constancy of E||g||_1 / E||g||_2 (Fig. 1e), the spread across methods of the
vulnerability at matched E||g||_1 (Fig. 1d) and of the accuracy at matched vulnerability
(Fig. 1f), the gradient reduction of each method (Fig. 1a), and how much less accurate
cross-Lipschitz networks are than the others at matched vulnerability (Fig. 1f, Sec. 4.1).
"""

from __future__ import annotations

from advgeom.experiments.simongabriel2019 import _common as c
from advgeom.experiments.simongabriel2019._matched import (
    matched_gap,
    matched_spread,
    ratio_deviation,
)
from advgeom.runs import rules
from advgeom.runs.claims import Claim, claim

PAIRS = {
    "duality_linf_q1": ("adv_linf", "grad_l1"),
    "duality_l2_q2": ("adv_l2", "grad_l2"),
    "rescaling_q1_q2": ("grad_l1", "grad_l2"),
}
STATEMENTS = {
    "duality_linf_q1": "Adversarial augmentation with l_inf attacks (FGSM) and the q = 1 "
    "gradient penalty give the same E||grad_x L||_1 at the same eps (Prop. 3, Fig. 1a).",
    "duality_l2_q2": "Adversarial augmentation with l2 attacks and the q = 2 gradient penalty "
    "(double back-propagation) give the same E||grad_x L||_1 at the same eps (Prop. 3).",
    "rescaling_q1_q2": "With eps per pixel (eps_2 = eps sqrt(d), Eq. 3) the q = 1 and q = 2 "
    "gradient penalties give the same E||grad_x L||_1 (Fig. 1a curves superimpose).",
}


def curve(points: list[dict], method: str) -> dict[float, dict]:
    """eps -> measurements of ``method`` (the plain network at eps = 0)."""
    out = {0.0: next(p for p in points if p["method"] == "plain")}
    out.update({p["eps"]: p for p in points if p["method"] == method})
    return out


def first_order(points: list[dict]) -> list[dict]:
    """The plain, first-order and PGD networks (cross-Lipschitz is on its own grid)."""
    return [p for p in points if p["method"] != "cross_lipschitz"]


def _curves(points: list[dict], x: str, y: str) -> dict[str, list[tuple[float, float]]]:
    """method -> [(x, y)] of its networks, each curve starting at the plain network."""
    plain = next(p for p in points if p["method"] == "plain")
    names = sorted({p["method"] for p in points} - {"plain"})
    return {
        m: [(plain[x], plain[y])] + [(p[x], p[y]) for p in points if p["method"] == m]
        for m in names
    }


def scale_note(cfg, measurable: bool) -> str:
    """What the run measured on, for every claim's note."""
    text = (
        f"{cfg.dataset}, {cfg.arch} net, {cfg.epochs} epochs, vulnerability by PGD-"
        f"{cfg.attack_steps} (random start) at {cfg.attack_eps} per pixel, eps grid "
        f"{list(cfg.eps)}"
    )
    if measurable:
        return text
    return "smoke scale: the pipeline runs; effects need the default or paper scale; " + text


def _within_factor(tol: float):
    def test(measured) -> bool:
        values = list(measured.values()) if isinstance(measured, dict) else []
        return bool(values) and all(v is not None and 1 / tol <= v <= tol for v in values)

    return rules.predicate(
        test,
        f"every ratio lies in [1/{tol:g}, {tol:g}]",
        fails_on={"0.1": tol**2},
        holds_on={"0.1": 1.0},
    )


def _pair_claim(cfg, m: dict, cid: str, measurable: bool) -> Claim | None:
    a, b = PAIRS[cid]
    if a not in cfg.methods or b not in cfg.methods:
        return None
    ca, cb = curve(m["points"], a), curve(m["points"], b)
    ratios = {str(e): c.finite(ca[e]["grad_l1"] / cb[e]["grad_l1"]) for e in cfg.eps}
    return claim(
        cid,
        STATEMENTS[cid],
        paper_value=1.0,
        measured=ratios,
        rule=_within_factor(cfg.ratio_tol),
        measurable=measurable,
        note=f"ratio {a} / {b} of test E||g||_1 at each eps; " + scale_note(cfg, measurable),
    )


def _proportional_claim(cfg, pts: list[dict], measurable: bool, note: str) -> Claim:
    """Fig. 1e: E||g||_2 proportional to E||g||_1, i.e. one ratio for every network."""
    dev = ratio_deviation([p["grad_l1"] for p in pts], [p["grad_l2"] for p in pts])
    return claim(
        "l1_l2_linear",
        "E||grad_x L||_2 is nearly linear in E||grad_x L||_1 across all trained "
        "networks, whatever the method (Fig. 1e): their ratio is the same for every network.",
        paper_value="one ratio E||g||_1 / E||g||_2 for all networks",
        measured=c.finite(dev["deviation"]),
        rule=rules.at_most(
            cfg.proportional_tol,
            what="the largest relative deviation of E||g||_1 / E||g||_2 from its median",
        ),
        measurable=measurable,
        note=f"ratio E||g||_1 / E||g||_2 over the {len(pts)} networks (all methods): median "
        f"{dev['median']:.4g}, range [{dev['min']:.4g}, {dev['max']:.4g}]; {note}",
    )


def _matched_claim(cid: str, statement: str, first: list[dict], axes: tuple[str, str, str, str],
                   tol: float, measurable: bool, note: str) -> Claim:
    """The spread across methods of ``y`` at matched ``x`` (Fig. 1d, 1f).

    A spread above ``tol`` is a failure wherever it is found; a spread below it is evidence only
    where the curves move by at least 2 tol over the matched range (else any set of methods would
    pass), so such a pass is withheld (not measurable) where they move less."""
    x, y, xname, yname = axes
    res = matched_spread(_curves(first, x, y), log_x=x == "grad_l1")
    if res is None or res["matched"] < 2:
        why = (f"the methods' {xname} ranges do not overlap beyond one point: nothing to match "
               "(the paper scale, CIFAR-10, is where the paper shows it); ")
    elif res["range"] < 2 * tol and res["spread"] <= tol:
        why = (f"{yname} moves by only {res['range']:.3g} over the matched {xname} range "
               f"[{res['low']:.4g}, {res['high']:.4g}] (< 2 x {tol:g}), so a small spread "
               "shows nothing at this scale (the paper scale, CIFAR-10 with its CNN for 200 "
               "epochs, is where the paper shows it); ")
    else:
        why = ""
    where = "" if res is None else (
        f"largest spread at {xname} = {res['at']:.4g}, {res['matched']} matched values in "
        f"[{res['low']:.4g}, {res['high']:.4g}], over which {yname} moves by {res['range']:.3g}; "
    )
    return claim(
        cid,
        statement,
        paper_value="near functional relation" if x == "grad_l1" else "one shared curve",
        measured=None if res is None else c.finite(res["spread"]),
        rule=rules.at_most(tol, what=f"the largest spread across methods of the {yname} at "
                           f"matched {xname}"),
        measurable=measurable and not why,
        note=f"{why}each method's networks (with the plain one) read as a curve of {yname} "
        f"against {xname}{' (log)' if x == 'grad_l1' else ''}; {where}{len(first)} plain, "
        f"first-order and PGD networks; {note}",
    )


def _function_claim(cfg, first: list[dict], measurable: bool, note: str) -> Claim:
    """Fig. 1d: at equal E||g||_1 the vulnerability does not depend on the method."""
    return _matched_claim(
        "vulnerability_follows_gradients",
        "Adversarial vulnerability is nearly a function of E||grad_x L||_1, whatever the "
        "first-order method or PGD (Fig. 1d): at equal E||g||_1 the methods are equally "
        "vulnerable.",
        first,
        ("grad_l1", "vulnerability", "E||g||_1", "vulnerability"),
        cfg.vulnerability_tol,
        measurable,
        note,
    )


def _tradeoff_claim(cfg, first: list[dict], measurable: bool, note: str) -> Claim:
    """Fig. 1f: one accuracy-vulnerability curve for all first-order methods and PGD."""
    return _matched_claim(
        "tradeoff_shared",
        "All gradient penalties, adversarial augmentations and PGD reach the same "
        "accuracy-vulnerability trade-off (Fig. 1f): at equal vulnerability, equal accuracy.",
        first,
        ("vulnerability", "accuracy", "vulnerability", "accuracy"),
        cfg.accuracy_tol,
        measurable,
        note,
    )


def _reduction_claim(cfg, pts: list[dict], measurable: bool, note: str) -> Claim:
    plain = curve(pts, cfg.methods[0])[0.0]["grad_l1"]
    ratio = {}
    for name in cfg.methods:
        grid = cfg.cross_lipschitz_eps if name == "cross_lipschitz" else cfg.eps
        ratio[name] = c.finite(curve(pts, name)[max(grid)]["grad_l1"] / plain)
    return claim(
        "regularization_reduces_gradients",
        "Each method lowers the test E||grad_x L||_1 "
        "below that of plain training at its largest strength (Fig. 1a).",
        paper_value="< 1 for every method",
        measured=ratio,
        rule=rules.predicate(
            lambda r: bool(r) and all(v is not None and v < 1 for v in r.values()),
            "every method's ratio is < 1",
            fails_on={"grad_l1": 1.5},
            holds_on={"grad_l1": 0.5},
        ),
        measurable=measurable,
        note=f"E||g||_1 at the largest eps / plain (plain: {plain:.3g}); {note}",
    )


def cross_lipschitz_gaps(pts: list[dict]) -> dict[str, dict]:
    """method -> :func:`matched_gap` of its accuracy-vulnerability curve over cross-Lipschitz's,
    for the methods whose curve overlaps cross-Lipschitz's in vulnerability."""
    curves = _curves(pts, "vulnerability", "accuracy")
    lip = curves.pop("cross_lipschitz", [])
    gaps = {m: matched_gap(curve, lip) for m, curve in curves.items()}
    return {m: g for m, g in gaps.items() if g is not None}


def _cross_lipschitz_claim(cfg, pts: list[dict], measurable: bool, note: str) -> Claim | None:
    """Fig. 1f, Sec. 4.1: "For higher penalization values, these trade-offs [of every gradient
    penalty, adversarial augmentation and PGD] appear to be much better than those given by cross
    Lipschitz regularization": at the most regularised vulnerability both curves reach, each
    method is more accurate than cross-Lipschitz by more than ``accuracy_tol``, the tolerance
    within which ``tradeoff_shared`` calls two accuracies equal.

    Withheld (not measurable) where cross-Lipschitz's accuracy at every such point is within
    ``accuracy_tol`` of the plain network's: its weights then stay below the "higher penalization
    values" the statement is about."""
    if "cross_lipschitz" not in cfg.methods or len(cfg.methods) < 2:
        return None
    tol = cfg.accuracy_tol
    gaps = cross_lipschitz_gaps(pts)
    measured = {m: c.finite(g["at_low"]) for m, g in gaps.items()} or None
    plain = next(p for p in pts if p["method"] == "plain")["accuracy"]
    drop = max((plain - g["lower_at_low"] for g in gaps.values()), default=0.0)
    at: dict[str, list[str]] = {}  # one entry per comparison point, the methods read there
    for m, g in gaps.items():
        at.setdefault(f"{g['low']:.3g} (cross-Lipschitz {g['lower_at_low']:.3g})", []).append(m)
    where = ", ".join(f"{'/'.join(ms)} at {point}" for point, ms in at.items())
    if measured is None:
        why = "no method's curve overlaps cross-Lipschitz's in vulnerability; "
    elif drop <= tol:
        why = (f"cross-Lipschitz loses at most {drop:.3g} <= {tol:g} accuracy against plain "
               f"({plain:.3g}) there: its weights do not reach the higher penalization values "
               "the statement is about (larger cross_lipschitz_eps can); ")
    else:
        why = ""
    return claim(
        "cross_lipschitz_tradeoff_worse",
        "For higher penalization values, the accuracy-vulnerability trade-offs of the gradient "
        "penalties, adversarial augmentations and PGD are much better than those of "
        "cross-Lipschitz regularisation (Sec. 4.1, Fig. 1f): at equal vulnerability, higher "
        "accuracy.",
        paper_value="much better (higher accuracy at equal vulnerability)",
        measured=measured,
        rule=rules.predicate(
            lambda g: isinstance(g, dict) and bool(g)
            and all(v is not None and v >= tol for v in g.values()),
            f"every method's accuracy exceeds cross-Lipschitz's by >= {tol:g} at matched "
            "vulnerability",
            fails_on={"grad_l1": 0.0},
            holds_on={"grad_l1": tol + 0.1},
        ),
        measurable=measurable and not why,
        note=f"{why}accuracy of each method minus cross-Lipschitz's, both read as curves of "
        f"accuracy against vulnerability (with the plain network) at the lowest vulnerability "
        f"they share: {where or 'none'}; cross-Lipschitz weights "
        f"{list(cfg.cross_lipschitz_eps)}; {note}",
    )


def claims(cfg, m: dict, *, measurable: bool = True) -> list[Claim]:
    """Prop. 3 dualities, Eq. 3 rescaling, Fig. 1d/e/f relations, reduction of the gradients,
    cross-Lipschitz's worse trade-off."""
    out = [cl for cid in PAIRS if (cl := _pair_claim(cfg, m, cid, measurable)) is not None]
    pts, note = m["points"], scale_note(cfg, measurable)
    first = first_order(pts)
    out.append(_proportional_claim(cfg, pts, measurable, note))
    out.append(_function_claim(cfg, first, measurable, note))
    out.append(_reduction_claim(cfg, pts, measurable, note))
    out.append(_tradeoff_claim(cfg, first, measurable, note))
    lip = _cross_lipschitz_claim(cfg, pts, measurable, note)
    return out if lip is None else [*out, lip]
