"""Badger (2023), "Adversarial Examples from Dimensional Invariance": injectivity and expansion.

- ``discontinuity.injectivity`` (:mod:`.injectivity`): d_m of a classifier, Table 1 and Sec. 4;
- ``discontinuity.expansion`` (:mod:`.expansion`): r(eta), e_a(eta) of classifiers and
  autoencoders, Fig. 1, 2, S2;
- ``discontinuity.generative`` (:mod:`.generative`): GAN vs diffusion denoiser, Fig. 3.
"""
