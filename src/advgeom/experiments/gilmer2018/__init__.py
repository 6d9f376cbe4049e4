"""Gilmer et al., "The Relationship Between High-Dimensional Geometry and Adversarial Examples".

One module per experiment (``spheres.*`` ids); shared helpers of this paper live here too.
"""
