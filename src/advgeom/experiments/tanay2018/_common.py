"""Helpers the ``tilting.*`` experiments share: digit pairs, the penalty grid, path summaries."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from scipy import stats
from torch import Tensor

from advgeom import data
from advgeom.errors import InputError
from advgeom.geometry.linear_svm import SVMPath
from advgeom.geometry.tilting import boundary_distance, decision, tilting_angle

ALL_PAIRS: tuple[tuple[int, int], ...] = tuple(itertools.combinations(range(10), 2))
DATASETS = ("digits", "mnist", "fashion-mnist")
COLLAPSE = 0.05  # training error above the nearest-centroid classifier's: a collapsed SVM
SHARE = 0.9  # with many pairs, a claim's number is the value this share of the pairs reaches


def check_pair(pair) -> None:
    """A pair of two distinct classes 0..9, or "all"."""
    if pair == "all":
        return
    if len(pair) != 2 or pair[0] == pair[1] or not all(0 <= c <= 9 for c in pair):
        raise InputError(
            f"pair must be two distinct classes in 0..9, e.g. (2, 3), or 'all' (got {pair!r})"
        )


def pairs_of(pair) -> list[tuple[int, int]]:
    """The pairs a config names: one, or all 45."""
    return list(ALL_PAIRS) if pair == "all" else [(int(pair[0]), int(pair[1]))]


def load_pair(
    dataset: str, pair: tuple[int, int], root, split: str, device: torch.device
) -> tuple[Tensor, Tensor, tuple[int, ...]]:
    """Flattened float64 images of one pair, label 1 = ``pair[0]``, 0 = ``pair[1]``.

    Returns:
        x (N, n) float64 on ``device``, y (N,) int64 in {0, 1}, and the image shape (C, H, W).
    """
    x, y = data.load(dataset, root=root, split=split)
    x, y = data.binary_subset(x, y, pos=pair[0], neg=pair[1])
    shape = tuple(x.shape[1:])
    return data.flatten(x).to(device=device, dtype=torch.float64), y.to(device), shape


def lam_grid(log10_range: tuple[float, float], count: int) -> Tensor:
    """``count`` penalties log-spaced over ``10^log10_range`` (float64)."""
    return torch.logspace(log10_range[0], log10_range[1], count, dtype=torch.float64)


def check_range(name: str, value: tuple[float, ...], *, min_decades: float = 0.0) -> None:
    if len(value) != 2 or not value[0] < value[1] or not all(map(math.isfinite, value)):
        raise InputError(f"{name} must be (low, high) with low < high (got {value!r})")
    if value[1] - value[0] < min_decades:
        raise InputError(f"{name} must span at least {min_decades:g} decades (got {value!r})")


def adversarial_distance(x: Tensor, y: Tensor, w: Tensor, b: float) -> Tensor:
    """Exact l2 distance to the nearest misclassified input (0 for clean errors), (N,)."""
    f = decision(x, w, b)
    correct = (f > 0) == (y == 1)
    return torch.where(correct, boundary_distance(x, w, b), torch.zeros_like(f))


def nearest_centroid(x: Tensor, y: Tensor) -> tuple[Tensor, float]:
    """The nearest-centroid classifier as (w, b): w = mu_1 - mu_0, boundary at the midpoint."""
    mu1, mu0 = x[y == 1].mean(dim=0), x[y == 0].mean(dim=0)
    return mu1 - mu0, float((mu0 @ mu0 - mu1 @ mu1) / 2)


def error(x: Tensor, y: Tensor, w: Tensor, b: float) -> float:
    return float(((decision(x, w, b) > 0) != (y == 1)).double().mean())


def summarize_path(
    path: SVMPath, train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], z_hat: Tensor
) -> dict:
    """Per penalty: tilting angle, errors, mean/median test adversarial distance, degeneracy.

    A solution is *degenerate* when its training error exceeds the nearest-centroid
    classifier's by more than ``COLLAPSE`` (5 points): the penalty is so strong that w is almost
    0 and the free bias, pulled towards the larger class, decides (in the limit every point is
    put in one class: the hinge optimum for an unpenalised bias and unequal class sizes).
    """
    out: dict[str, list] = {
        k: []
        for k in (
            "angle",
            "train_error",
            "test_error",
            "distance_mean",
            "distance_median",
            "w_norm",
            "degenerate",
        )
    }
    angles = tilting_angle(path.W, z_hat)
    w_nc, b_nc = nearest_centroid(*train)
    out["nearest_centroid"] = {
        "train_error": error(*train, w_nc, b_nc),
        "test_error": error(*test, w_nc, b_nc),
        "distance_mean": float(adversarial_distance(*test, w_nc, b_nc).mean()),
    }
    for i in range(len(path.lams)):
        w, b = path.W[i], float(path.b[i])
        dist = adversarial_distance(*test, w, b)
        out["angle"].append(float(angles[i]))
        out["train_error"].append(error(*train, w, b))
        out["test_error"].append(error(*test, w, b))
        out["distance_mean"].append(float(dist.mean()))
        out["distance_median"].append(float(dist.median()))
        out["w_norm"].append(float(w.norm()))
        collapsed = out["train_error"][-1] > out["nearest_centroid"]["train_error"] + COLLAPSE
        out["degenerate"].append(bool(collapsed))
    out["lams"] = path.lams.tolist()
    out["iterations"] = path.iterations.tolist()
    out["exact"] = path.exact.tolist()
    out["max_duality_gap"] = float(path.duality_gap.abs().max())
    return out


def strongest_valid(summary: dict) -> int:
    """Index of the largest penalty whose solution is not degenerate."""
    valid = [i for i, d in enumerate(summary["degenerate"]) if not d]
    if not valid:
        raise InputError(
            "every penalty gives a collapsed SVM (training error well above the "
            "nearest-centroid classifier's): lower the top of log10_lam"
        )
    return max(valid, key=lambda i: summary["lams"][i])


def weakest(summary: dict) -> int:
    return int(np.argmin(summary["lams"]))


def reached(values, *, high: bool, share: float = SHARE) -> float:
    """The value that at least ``share`` of the pairs reach: the largest t with >= share of
    the values >= t (``high``) or the smallest with >= share <= t (the value itself for one)."""
    v = np.sort(np.asarray(values, dtype=float))
    k = len(v) - math.ceil(share * len(v) - 1e-9)  # how many may miss
    return float(v[k] if high else v[len(v) - 1 - k])


def spearman(a, b) -> float:
    """Spearman's rank correlation (0 when either side is constant)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(stats.spearmanr(a, b).statistic)


def image(v: Tensor, shape: tuple[int, ...]) -> list:
    """A flat vector as an (H, W) nested list for the results (channels averaged)."""
    return v.reshape(shape).to(torch.float64).mean(dim=0).cpu().tolist()
