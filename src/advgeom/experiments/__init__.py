"""Experiments: each paper's figures and tables as named runs with claims, one package per paper.

Nothing is listed here: each experiment module registers itself at import, and
:mod:`advgeom.runs.registry` imports every module of these packages the first time it is asked
for the experiments (``all_experiments``/``get``). A new experiment is a new module, nothing more.
"""
