"""Tanay, "A boundary tilting perspective" (2018 article; Tanay and Griffin 2016).

One module per experiment (``tilting.*`` ids); helpers shared by them are in :mod:`._common`.
The geometry is library code: :mod:`advgeom.geometry.tilting` (tilting plane and angle, exact
distances and mirror images, the local tilting angle of any model) and
:mod:`advgeom.geometry.linear_svm` (hinge-loss SVM along a warm-started regularisation path).
"""
