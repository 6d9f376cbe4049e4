"""Zou, Su, Pang, Zhu, "Geometric Universality of Adversarial Examples in Deep Learning".

One module per experiment (``softmax.*`` ids); the digits classifiers they train are in
:mod:`._model`, the readers of their metrics that claims and figures share in :mod:`._records`,
the figures in :mod:`._figures`. The geometry itself is library code:
:mod:`advgeom.geometry.softmax`, :mod:`advgeom.geometry.softmax_regions` and
:mod:`advgeom.geometry.softmax_parallel`.
"""
