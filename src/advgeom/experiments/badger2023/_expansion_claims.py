"""Claims of ``discontinuity.expansion`` (Fig. 1, 2, S2; Sec. 4), decided by declared rules.

Growth of r (float64) is judged over the paper's range 1e-1 -> 1e-5; the notes give e_a, float32
and the part from eta = 1 to 1e-1 (outside the range: saturation). Dropout is judged on e_a (see
:func:`dropout_claim`), and the limit below the range is our own question (kind ``beyond``).
"""

from __future__ import annotations

import math

from advgeom.experiments.badger2023 import _curve_claims as cc
from advgeom.experiments.badger2023 import _curves as cv
from advgeom.models.autoencoder import KINDS
from advgeom.runs import rules
from advgeom.runs.claims import claim

S2_MARGIN = 1.1  # the trained growth must exceed the untrained one by 10%, beyond draw noise
DROPOUT_SLOPE = -1.0  # e_a ~ 1/eta: the output change does not shrink with the step
DROPOUT_SLOPE_ABS = 0.25  # halfway to -0.5 (a Hoelder-continuous map), far from 0 (smooth)
E_ABS_Z = math.sqrt(2 / math.pi)  # E|z| for z ~ N(0, 1): r's limit when every pass redraws masks
AE_TARGET = (
    "FGSM along grad_x MSE(O(x), x) with the target x held fixed (Eq. 3 differentiates the loss "
    "through the output O(x, theta); the authors' autoencoder script lets the gradient flow "
    "through the target too, (J - I)^T instead of J^T)"
)


def claims(cfg, m: dict, measurable: bool) -> list[dict]:
    """Fig. 2, S2, dropout, Fig. 1 and the limit below the range."""
    c = {name: point["curve"] for name, point in m["models"].items()}
    kw = {
        "eta_from": cfg.growth_from,
        "eta_to": cfg.growth_to,
        "factor": cfg.grows_factor,
        "measurable": measurable,
    }
    scale = (
        ""
        if measurable
        else "smoke scale: the pipeline runs, the effects need the default or paper scale; "
    )
    ae = {k: m["models"][f"autoencoder_{k}"] for k in KINDS}
    ae_note = (
        f"{scale}{m['dataset']}; compressions (input / narrowest) "
        + ", ".join(f"{k} {p['compression']:.2g}" for k, p in ae.items())
        + "; final MSE "
        + ", ".join(f"{k} {p['loss_trace'][-1]:.3g}" for k, p in ae.items())
        + f"; {AE_TARGET}; the authors' autoencoder script plots e_a (its noise terms cancel)"
    )
    limit = {k: c[k] for k in ("classifier_trained", "autoencoder_8x", "autoencoder_16x")}
    return [
        *_classifier_claims(cfg, m, c, kw, scale),
        cc.growth_claim(
            "autoencoder_flat_without_bottleneck",
            "An autoencoder without bottleneck shows no growth of r as eta -> 0 (Fig. 1).",
            c["autoencoder_none"],
            expect_growth=False,
            **kw,
            note=ae_note,
        ),
        cc.order_claim(
            "autoencoder_growth_with_compression",
            "The narrower the bottleneck, the more r grows as eta -> 0: no bottleneck < 8x < "
            "16x funnel (Fig. 1).",
            {k: c[f"autoencoder_{k}"] for k in KINDS},
            eta_from=cfg.growth_from,
            eta_to=cfg.growth_to,
            measurable=measurable,
            note=ae_note,
        ),
        cc.limit_claim(
            "r_unbounded_as_eta_to_0",
            "For the models read as approximately discontinuous, r keeps growing as eta -> 0 "
            "below the pertinent range, as it would for a true discontinuity (Sec. 4: 'for a "
            "true discontinuity, we expect r -> inf as eta -> 0').",
            limit,
            eta_from=cfg.growth_to,
            eta_to=min(cfg.etas),
            factor=cfg.grows_factor,
            measurable=measurable,
            note=f"{scale}trained classifier, 8x and 16x autoencoders (the dropout model is "
            "judged in dropout_r_diverges: its r tends to E|z| by construction)",
        ),
    ]


def _classifier_claims(cfg, m: dict, c: dict, kw: dict, scale: str) -> list[dict]:
    acc = m["models"]["classifier_trained"]["train_accuracy"]
    data = f"{m['dataset']}; training accuracy {acc:.3f}"
    return [
        cc.growth_claim(
            "classifier_r_grows",
            "A trained classifier's r grows as eta -> 0 (Fig. 2).",
            c["classifier_trained"],
            expect_growth=True,
            **kw,
            note=f"{scale}FGSM along the cross-entropy with the true label (Eq. 3); {data}",
        ),
        cc.growth_claim(
            "classifier_r_grows_summed_logits",
            "The same, stepping along the gradient of the summed logits as the authors' "
            "classifier script does (Fig. 2, S2).",
            c["classifier_summed"],
            expect_growth=True,
            **kw,
            note=f"{scale}same trained weights as classifier_r_grows; {data}",
        ),
        s2_claim(c, cfg, kw["measurable"], scale),
        dropout_claim(c["classifier_dropout"], cfg, kw["measurable"], scale),
    ]


def s2_claim(c: dict, cfg, measurable: bool, scale: str) -> dict:
    """Fig. S2: the trained classifier's growth of r beats the untrained one's by S2_MARGIN."""
    rng = (cfg.growth_from, cfg.growth_to)
    tr, un = (cv.growths(c[f"classifier_{k}"], *rng) for k in ("trained", "untrained"))
    level = {
        k: cv.value_at(c[f"classifier_{k}"]["float64"], "r", cfg.growth_to)
        for k in ("trained", "untrained")
    }
    shown = ", ".join(f"{k} {'n/a' if v is None else f'{v:.3g}'}" for k, v in level.items())

    def holds(m) -> bool:
        t, u = (m.get(k) if isinstance(m, dict) else None for k in ("trained", "untrained"))
        return t is not None and u is not None and t > S2_MARGIN * u

    return claim(
        "training_increases_growth",
        "Training increases the growth of r as eta -> 0 (Fig. S2).",
        paper_value="trained > untrained",
        measured={"trained": tr["r_float64"], "untrained": un["r_float64"]},
        rule=rules.predicate(
            holds,
            f"the trained classifier's growth of r (float64) from eta {rng[0]:g} to {rng[1]:g} "
            f"exceeds the untrained one's by {S2_MARGIN - 1:.0%}",
            fails_on={"trained": 1.0, "untrained": 2.0},
            holds_on={"trained": 3.0, "untrained": 1.0},
        ),
        measurable=measurable,
        note=f"{scale}same initial weights; trained: {cv.describe(tr)}; untrained: "
        f"{cv.describe(un)}; the level of r at eta = {cfg.growth_to:g} (float64): {shown}",
    )


def dropout_claim(curve: dict, cfg, measurable: bool, scale: str) -> dict:
    """Sec. 4's "true discontinuity" with dropout on, judged on the log-log slope of e_a.

    Every forward pass draws new masks, so the output jumps by O(1) whatever the step: along
    the FGSM step and along the Gaussian one alike. e_a then grows like 1/eta (slope -1), while
    r = e_a / e_n tends to ||z||_1 / ||sign||_1 = E|z| ~ 0.80 for any model: in r the
    discontinuity cancels by construction, so r cannot test the statement.
    """
    rng = (cfg.growth_from, cfg.growth_to)
    s64 = cv.slope(curve, "e_a", "float64", *rng)
    s32 = cv.slope(curve, "e_a", "float32", *rng)
    r_low = cv.value_at(curve["float64"], "r", min(cfg.etas))
    g = cv.growths(curve, *rng)
    return claim(
        "dropout_r_diverges",
        "With dropout left on the model is a true discontinuity: its expansion grows without "
        "bound as eta -> 0 (Sec. 4: 'we expect r -> inf as eta -> 0 and indeed this is what is "
        "observed ... using discontinuous models (specifically models with dropout enabled)').",
        paper_value="a true discontinuity (expansion ~ 1/eta)",
        measured=s64,
        rule=rules.slope_near(DROPOUT_SLOPE, abs=DROPOUT_SLOPE_ABS),
        measurable=measurable,
        note=f"{scale}log-log slope of e_a (float64) against eta over {rng[0]:g}..{rng[1]:g}: "
        "-1 when the output change does not shrink with the step (a jump), 0 for a continuous "
        f"map; float32 slope {'n/a' if s32 is None else f'{s32:.3g}'}. Judged on e_a, not r: "
        "dropout masks are redrawn at every forward pass, so the random step's output jumps as "
        f"much as the FGSM step's and r = e_a / e_n tends to E|z| = sqrt(2/pi) ~ {E_ABS_Z:.2f} "
        "whatever the model (measured r at eta = "
        f"{min(cfg.etas):g}: {'n/a' if r_low is None else f'{r_low:.3g}'}); growth over the "
        f"range: {cv.describe(g)}; dropout p = {cfg.dropout:g} at training and measurement",
    )
