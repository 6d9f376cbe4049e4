"""Closed forms: the exact geometry behind the experiments, independent of data and models."""
