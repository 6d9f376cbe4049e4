"""The robustness instrument's findings, built from its metrics (one norm at a time)."""

from __future__ import annotations

import math
from collections import Counter

import torch

from advgeom.runs.claims import claim

MINIMAL_METHODS = ("deepfool", "fmn", "path")


def _radii(eps: list[float]) -> str:
    return "[" + ", ".join(f"{e:.3g}" for e in eps) + "]"


def method_shares(method: list[str | None], correct: list[bool]) -> dict[str, float]:
    """Share of the correctly classified examples whose smallest perturbation each method found
    (methods that found none for an example do not count; the shares of those found sum to 1)."""
    found = [m for m, ok in zip(method, correct, strict=True) if ok and m is not None]
    counts = Counter(found)
    return {m: counts[m] / len(found) if found else 0.0 for m in MINIMAL_METHODS}


def robust_accuracy_findings(norm: str, name: str, r: dict, steps: int) -> list[dict]:
    gap = [p - e for p, e in zip(r["pgd_robust_accuracy"], r["robust_accuracy"], strict=True)]
    worst = max(range(len(gap)), key=gap.__getitem__)
    attacks = ", ".join(r["attacks"]) or "none needed"
    return [
        claim(
            f"robust_accuracy_{norm}",
            f"Robust accuracy under the {name} evaluation ensemble ({attacks}) at radii "
            f"{_radii(r['eps'])}.",
            paper_value=None,
            measured=r["robust_accuracy"],
            rule=None,
            kind="measurement",
            note="fraction of the examples still classified correctly after every attack "
            "(clean errors count as broken); each attack runs on the examples the previous "
            "ones left; a stronger attack can only lower it"
            + ("; l2 radii are the l_inf ones times sqrt(d) (eq. 3)" if norm == "l2" else ""),
        ),
        claim(
            f"pgd_overestimate_{norm}",
            f"How much PGD-{steps} alone overstates {name} robust accuracy: its robust accuracy "
            "minus the ensemble's, at the radius where the gap is largest.",
            paper_value=None,
            measured=gap[worst],
            rule=None,
            kind="measurement",
            note=f"at eps = {r['eps'][worst]:.4g}: PGD {r['pgd_robust_accuracy'][worst]:.3f}, "
            f"ensemble {r['robust_accuracy'][worst]:.3f}; near 0: PGD was enough here; large: "
            "a PGD-only number would have been wrong (masking, badly scaled steps)",
        ),
    ]


def distance_findings(norm: str, name: str, r: dict, correct: int) -> list[dict]:
    median = r["median_distance"]
    shares = r["method_share"]
    top = max(shares, key=shares.get)
    return [
        claim(
            f"median_distance_{norm}",
            f"Median smallest {name} perturbation that changes the prediction of a "
            "correctly classified example.",
            paper_value=None,
            measured=median if math.isfinite(median) else None,
            rule=None,
            kind="measurement",
            note=f"found for {r['found']} of {correct} within {r['max_eps']:.4g} (unfound count "
            "as infinite); per example the smallest of DeepFool, FMN and PGD with bisection along "
            "its path: an upper bound on the true distance",
        ),
        claim(
            f"smallest_by_{norm}",
            f"Which method found the smallest {name} perturbation, as shares of the examples "
            "where one was found.",
            paper_value=None,
            measured=shares,
            rule=None,
            kind="measurement",
            note=f"{top} found the smallest most often; a method that never wins adds nothing "
            "on this model, one that always wins suggests the others are misled (DeepFool on flat "
            "regions, PGD by overshooting)",
        ),
    ]


def ratio_finding(metrics: dict, correct: torch.Tensor, d: int) -> dict:
    """Per example, minimal l2 over minimal l_inf distance, against eq. 3's sqrt(d)."""
    d2 = torch.tensor(metrics["norms"]["l2"]["distance"])[correct.cpu()]
    dinf = torch.tensor(metrics["norms"]["linf"]["distance"])[correct.cpu()]
    both = torch.isfinite(d2) & torch.isfinite(dinf) & (dinf > 0)
    ratio = float((d2[both] / dinf[both]).median()) if both.any() else None
    metrics["l2_over_linf"] = ratio
    return claim(
        "l2_over_linf_distance",
        "Minimal l2 over minimal l_inf distance, per example: eq. 3 of Simon-Gabriel et al. takes "
        "eps_2 = eps_inf * sqrt(d) as the same perturbation size.",
        paper_value=math.sqrt(d),
        measured=ratio,
        rule=None,
        kind="measurement",
        note=f"median over {int(both.sum())} examples with both distances found; the ratio lies "
        "between 1 and sqrt(d) (an l_inf ball of radius r lies inside the l2 ball of radius "
        "r*sqrt(d)); near sqrt(d): the attack spreads over all d inputs, near 1: over a few",
    )
