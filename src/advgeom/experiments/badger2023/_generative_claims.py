"""Claims of ``discontinuity.generative`` (Sec. 5, Fig. 3), decided by declared rules.

Growth of r (float64) over the paper's range 1e-1 -> 1e-5, as in ``discontinuity.expansion``;
the notes give e_a (what the authors' GAN and diffusion scripts plot: their noise terms cancel),
float32, and the part from eta = 1 to 1e-1. FGSM follows Eq. 3, the gradient of each net's
training loss at its training target; the notes say where the authors' scripts differ.
"""

from __future__ import annotations

from advgeom.experiments.badger2023 import _compression
from advgeom.experiments.badger2023 import _curve_claims as cc
from advgeom.experiments.badger2023 import _curves as cv
from advgeom.runs import rules
from advgeom.runs.claims import claim

SMOKE = "smoke scale: the pipeline runs, the effects need the default or paper scale"
DISCRIMINATOR_TARGET = (
    "FGSM along BCE(D(x), 1) on real images, the label D is trained to give them (Eq. 3: y is "
    "the training target); the authors' discriminator script used label 0 (fake), the "
    "opposite sign of the step; the output is the sigmoid probability, as in their "
    "discriminator"
)
DENOISER_TARGET = (
    "x_t at a random t per input; FGSM along the noise-prediction MSE against the noise drawn "
    "for x_t (Eq. 3 with the DDPM training loss); the authors' script took L1 against the "
    "clean input"
)


def claims(cfg, m: dict, measurable: bool) -> list[dict]:
    """Fig. 3: GAN nets grow, the denoiser does not, training makes the generator grow; Sec. 5:
    the generator against the 8x autoencoder (:mod:`._compression`)."""
    c = m["curves"]
    rng = {"eta_from": cfg.growth_from, "eta_to": cfg.growth_to}
    kw = {**rng, "factor": cfg.grows_factor, "measurable": measurable}
    scale = "" if measurable else f"{SMOKE}; "
    t = m["training"]
    sizes = (
        f"{m['dataset']}; generator {t['latent_features']}-"
        f"{'-'.join(map(str, t['generator_hidden']))}; denoiser hidden "
        f"{'-'.join(map(str, t['denoiser_hidden']))}"
    )
    summed = cv.describe(cv.growths(c["generator_summed_trained"], **rng))
    return [
        cc.growth_claim(
            "gan_generator_grows",
            "A trained GAN generator's r grows markedly as eta -> 0 (Fig. 3).",
            c["generator_trained"],
            expect_growth=True,
            **kw,
            note=f"{scale}FGSM along the generator's training loss BCE(D(G(z)), 1) (Eq. 3); "
            f"along the summed outputs (the authors' script): {summed}; {sizes}; mean D on "
            f"real {t['d_real']:.2f}, on generated {t['d_fake']:.2f}",
        ),
        cc.growth_claim(
            "gan_discriminator_grows",
            "A trained GAN discriminator's r grows markedly as eta -> 0 (Fig. 3).",
            c["discriminator_trained"],
            expect_growth=True,
            **kw,
            note=f"{scale}{DISCRIMINATOR_TARGET}; {sizes}",
        ),
        cc.growth_claim(
            "diffusion_little_growth",
            "The trained diffusion denoiser's r grows very little as eta -> 0, like the "
            "autoencoder without bottleneck (Fig. 3).",
            c["denoiser_trained"],
            expect_growth=False,
            **kw,
            note=f"{scale}{DENOISER_TARGET}; {sizes}",
        ),
        cc.order_claim(
            "gan_more_than_diffusion",
            "The trained GAN generator grows more than the denoiser (Fig. 3).",
            {"denoiser": c["denoiser_trained"], "generator": c["generator_trained"]},
            **rng,
            measurable=measurable,
            note=f"{scale}{sizes}",
        ),
        training_claim(cfg, c, scale, measurable),
        cc.limit_claim(
            "r_unbounded_as_eta_to_0",
            "The GAN nets' r keeps growing as eta -> 0 below the pertinent range, as it would "
            "for a true discontinuity (Sec. 4-5: a discontinuity has r -> inf as eta -> 0).",
            {"generator": c["generator_trained"], "discriminator": c["discriminator_trained"]},
            eta_from=cfg.growth_to,
            eta_to=min(cfg.etas),
            factor=cfg.grows_factor,
            measurable=measurable,
            note=f"{scale}trained nets",
        ),
        # Sec. 5: the generator against the 8x autoencoder (absent from older results).
        *(_compression.claims(cfg, m, measurable, scale) if "autoencoder_8x_trained" in c else []),
    ]


def training_claim(cfg, c: dict, scale: str, measurable: bool) -> dict:
    """Sec. 5: the untrained generator grows less than ``grows_factor``, the trained one more."""
    rng = {"eta_from": cfg.growth_from, "eta_to": cfg.growth_to}
    un, tr = (cv.growths(c[f"generator_{t}"], **rng) for t in ("untrained", "trained"))
    f = cfg.grows_factor

    def holds(m) -> bool:
        u, t = (m.get(k) if isinstance(m, dict) else None for k in ("untrained", "trained"))
        return u is not None and t is not None and u < f <= t

    return claim(
        "training_makes_generator_grow",
        "Before training the generator shows very little growth of r; GAN training causes it "
        "(Sec. 5).",
        paper_value="untrained flat, trained grows",
        measured={"untrained": un["r_float64"], "trained": tr["r_float64"]},
        rule=rules.predicate(
            holds,
            f"the growth of r (float64) from eta {cfg.growth_from:g} to {cfg.growth_to:g} is "
            f"< {f:g} untrained and >= {f:g} trained",
            fails_on={"untrained": 1.0, "trained": 1.0},
            holds_on={"untrained": 1.0, "trained": 2.0 * f},
        ),
        measurable=measurable,
        note=f"{scale}untrained: {cv.describe(un)}; trained: {cv.describe(tr)}; same initial "
        "weights, FGSM along BCE(D(G(z)), 1) with the discriminator trained alongside (untrained "
        "for the untrained generator)",
    )
