"""Sec. 5 in ``discontinuity.generative``: the GAN generator beside the 8x autoencoder.

Paper: "the generator is a function f: R^100 -> R^768 [784 pixels in the authors' script] such
that there is approximately the same overall compression between smallest versus largest layer
in the GAN generator as in the 8x-compressed autoencoder [...]. The dramatic difference in
approximate continuity between these models suggests that the training protocol [...] is what is
responsible". So the statement is not that the two behave alike: with about the same compression
(1024 / 100 = 10.2 against 2000 / 250 = 8), the trained generator's r grows far more as eta -> 0
than the 8x autoencoder's (Fig. 1 against Fig. 3).

The 8x autoencoder lives in ``discontinuity.expansion``; it is cheap to train (seconds at the
default scale), so it is measured here again with that experiment's code, settings and random
streams rather than tying two experiments' runs together: with the same seed and settings its
curve is the one ``discontinuity.expansion`` reports. Training a GAN inside
``discontinuity.expansion`` instead would cost far more.
"""

from __future__ import annotations

from advgeom.experiments.badger2023 import _curves as cv
from advgeom.experiments.badger2023 import expansion
from advgeom.runs import rules
from advgeom.runs.claims import claim

SAME_COMPRESSION = 1.5  # "approximately the same": the two ratios within this factor


def autoencoder_8x_point(cfg, ctx) -> dict:
    """The 8x funnel autoencoder of ``discontinuity.expansion`` (Fig. 1), with that experiment's
    code and random streams, trained and measured with ``cfg``'s ``ae_*`` settings and curve
    settings (inputs, draws, etas)."""
    ae_cfg = expansion.Config(
        dataset=cfg.dataset,
        ae_epochs=cfg.ae_epochs,
        batch_size=cfg.ae_batch_size,
        ae_lr=cfg.ae_lr,
        inputs=cfg.inputs,
        draws=cfg.draws,
        etas=cfg.etas,
        growth_from=cfg.growth_from,
        growth_to=cfg.growth_to,
        grows_factor=cfg.grows_factor,
    )
    return expansion.autoencoder_point(ae_cfg, ctx, "8x")


def spread(widths) -> float:
    """Largest over smallest layer width (the paper's "compression between smallest versus
    largest layer"), input and output layers included."""
    return max(widths) / min(widths)


def claims(cfg, m: dict, measurable: bool, scale: str) -> list[dict]:
    """Same compression (construction), dramatically more growth for the generator."""
    t, c = m["training"], m["curves"]
    n = t["image_features"]
    gen = [t["latent_features"], *t["generator_hidden"], n]
    ae = [n, *t["autoencoder_8x_hidden"], n]
    sizes = (
        f"generator {'-'.join(map(str, gen))} (largest / smallest {spread(gen):.3g}), 8x "
        f"autoencoder {'-'.join(map(str, ae))} ({spread(ae):.3g})"
    )
    rng = {"eta_from": cfg.growth_from, "eta_to": cfg.growth_to}
    g = {k: cv.growths(c[f"{k}_trained"], **rng) for k in ("generator", "autoencoder_8x")}
    f = cfg.grows_factor

    def holds(v) -> bool:
        a, b = (v.get(k) if isinstance(v, dict) else None for k in ("generator", "autoencoder_8x"))
        return a is not None and b is not None and a >= f and a >= f * b

    return [
        claim(
            "generator_compression_like_8x_autoencoder",
            "The GAN generator has approximately the same compression between its smallest and "
            "largest layer as the 8x autoencoder (Sec. 5).",
            paper_value=1.0,
            measured=spread(gen) / spread(ae),
            rule=rules.factor(SAME_COMPRESSION),
            kind="construction",
            note=f"ratio of the two largest / smallest width ratios; {sizes}; the widths are "
            "the authors' (scaled by in_features / 784 on other image sizes)",
        ),
        claim(
            "generator_grows_more_than_8x_autoencoder",
            "Despite about the same compression, the trained GAN generator's r grows "
            "dramatically more as eta -> 0 than the 8x autoencoder's (Sec. 5: 'the dramatic "
            "difference in approximate continuity between these models').",
            paper_value="generator >> 8x autoencoder",
            measured={k: v["r_float64"] for k, v in g.items()},
            rule=rules.predicate(
                holds,
                f"the trained generator's growth of r (float64) from eta {cfg.growth_from:g} to "
                f"{cfg.growth_to:g} is >= {f:g} and >= {f:g} times the 8x autoencoder's",
                fails_on={"generator": 1.2, "autoencoder_8x": 1.2},
                holds_on={"generator": 10.0, "autoencoder_8x": 1.2},
            ),
            measurable=measurable,
            note=f"{scale}growth q({cfg.growth_to:g}) / q({cfg.growth_from:g}): generator "
            f"{cv.describe(g['generator'])}; 8x autoencoder {cv.describe(g['autoencoder_8x'])}; "
            f"'dramatic' read as a factor {f:g} (the experiments' growth factor); FGSM along "
            "BCE(D(G(z)), 1) for the generator, along the reconstruction MSE (target held "
            f"fixed) for the autoencoder, trained as in discontinuity.expansion (final MSE "
            f"{t['autoencoder_8x_loss']:.3g}); {sizes}",
        ),
    ]
