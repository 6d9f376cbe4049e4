"""Readers of the ``softmax.*`` metrics that both the claims and the figures use."""

from __future__ import annotations

import numpy as np

from advgeom.geometry import softmax_regions as sr

HEADS = ("standard", "parallel")  # the two models of softmax.universality


def head_name(h: dict) -> str:
    """A ``softmax.directions`` head's label, unique within a run (random draws are numbered)."""
    return f"{h['kind']} {h['l']}x{h['m']}" + (f" #{h['draw']}" if "draw" in h else "")


def census(heads: list[dict]) -> dict[str, int]:
    """Number of regions of each kind over a list of ``softmax.unbounded`` examined heads."""
    kinds = [r["kind"] for h in heads for r in h["regions"]]
    return {k: kinds.count(k) for k in sr.KINDS}


def rate(h: dict, eps: float, attack: str, subset: str = "all") -> tuple[float, int]:
    """Success rate (nan without pairs) and number of pairs of a ``softmax.universality`` head
    at ``eps`` (subset: all, adjacent or separated)."""
    r = next(r for r in h["runs"] if r["eps"] == eps)
    hits = np.asarray(r[attack]["success"], dtype=bool)
    adj = np.asarray(h["pair_adjacent"], dtype=bool)
    mask = {"all": np.ones_like(adj), "adjacent": adj, "separated": ~adj}[subset]
    return (float(hits[mask].mean()) if mask.any() else float("nan")), int(mask.sum())
