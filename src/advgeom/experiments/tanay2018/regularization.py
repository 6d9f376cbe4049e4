"""``tilting.regularization``: the L2 penalty of a linear SVM sets its tilting angle.

Paper: Tanay, "A boundary tilting perspective" (Fig. 6; Tanay and Griffin 2016, Sec. 5). A linear
SVM (hinge loss + L2 penalty) is trained on a digit pair (2 vs 3) for penalties over many
decades. Weak regularisation tilts the boundary away from the nearest-centroid direction z_hat
(large tilting angle), bringing it close to the data: the adversarial perturbation is small and
hard to interpret. Strong regularisation brings w back to z_hat: the perturbation "simply
consists in a difference of centroids". For a linear model the minimal l2 adversarial
perturbation is exact: ``|w.x + b| / ||w||`` along w (no pixel box), and the mirror image is the
reflection of x through the boundary. Fig. 2: how small the weak SVM's perturbation is, against
the images and against the nearest-centroid classifier's (:mod:`._perceptibility`).

The SVM penalty is ``lam / 2 ||w||^2 + mean hinge`` with a free bias (libsvm's ``C = 1/(lam N)``),
solved exactly along a warm-started path (:func:`advgeom.geometry.linear_svm.svm_path`). Where
lam is so strong that w is almost 0 and the free bias, pulled towards the larger class, decides
(training error 5 points above the nearest-centroid classifier's; in the limit one class for
all), the solution is marked *degenerate* and left out of the claims.

The paper scale is the article's: MNIST 2 vs 3 (``--data-dir DIR`` holding the MNIST files);
the smoke and default scales run on the bundled ``digits`` (8x8), where 2 vs 3 is separable
with a hard margin below lam ~ 1e-3, so the weak end of the path is the hard-margin SVM and the
overfitting that tilts the boundary has little room to show. ``--set pair=(4,9)`` for another
pair, ``--set pair=all`` for all 45.
Run: ``advgeom run tilting.regularization --scale paper --data-dir DIR``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from advgeom.errors import InputError, check_int, check_positive
from advgeom.experiments.tanay2018 import _common as c
from advgeom.experiments.tanay2018 import _perceptibility as _p
from advgeom.experiments.tanay2018._figures import image_grid, path_figure
from advgeom.geometry.linear_svm import svm_path
from advgeom.geometry.tilting import centroid_direction, minimal_perturbation, mirror_image
from advgeom.runs import rules
from advgeom.runs.claims import claim
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register

ANGLE_TOL = 1.0  # degrees the angle may fall by per grid step as lam falls (the path wiggles)
DIST_TOL = 0.02  # relative growth of the mean distance allowed per grid step as lam falls


@dataclass(frozen=True)
class Config:
    """Fig. 6: hinge + L2 SVM over 8 decades of the penalty (81 values), MNIST 2 vs 3."""

    dataset: Literal["digits", "mnist", "fashion-mnist"] = "mnist"
    pair: tuple[int, ...] | Literal["all"] = (2, 3)
    log10_lam: tuple[float, ...] = (-7.0, 1.0)
    num_lams: int = 81
    images: int = 4  # test images shown with their adversarial and mirror images
    overshoot: float = 0.02  # adversarial images step this fraction past the boundary
    min_angle_change: float = 5.0  # degrees the angle must grow by, weakest vs strongest
    min_cosine: float = 0.95  # cos(w, z_hat) needed at strong regularisation

    def __post_init__(self) -> None:
        c.check_pair(self.pair)
        c.check_range("log10_lam", self.log10_lam, min_decades=1)
        check_int("num_lams", self.num_lams, minimum=3)
        check_int("images", self.images, minimum=1)
        check_positive("overshoot", self.overshoot, allow_zero=True)
        check_positive("min_angle_change", self.min_angle_change, allow_zero=True)
        if not 0 < self.min_cosine <= 1:
            raise InputError(f"min_cosine must be in (0, 1] (got {self.min_cosine})")


def _pick_images(x, y, ws, count: int) -> list[int]:
    """Test images of both classes, correctly classified by every given (w, b) if possible."""
    ok = torch.ones(len(x), dtype=torch.bool, device=x.device)
    for w, b in ws:
        ok &= ((x @ w + b) > 0) == (y == 1)
    picks: list[int] = []
    for cls, k in ((1, (count + 1) // 2), (0, count // 2)):
        good = ((y == cls) & ok).nonzero().flatten().tolist()
        picks += (good or (y == cls).nonzero().flatten().tolist())[:k]
    return picks


def _images(cfg: Config, summary: dict, path, train, test, shape, z_hat) -> dict:
    """w, perturbation, adversarial and mirror images at the weakest and strongest penalty, and
    of the nearest-centroid classifier (Fig. 2)."""
    weak, strong = c.weakest(summary), c.strongest_valid(summary)
    ws = [(path.W[i], float(path.b[i])) for i in (weak, strong)]
    picks = _pick_images(test[0], test[1], ws, cfg.images)
    x = test[0][picks]
    out = {"labels": test[1][picks].tolist(), "x": [c.image(v, shape) for v in x], "rows": []}
    for name, i, (w, b) in zip(("weak", "strong"), (weak, strong), ws, strict=True):
        delta = minimal_perturbation(x, w, b, overshoot=cfg.overshoot)
        out["rows"].append(
            {
                "name": name,
                "lam": summary["lams"][i],
                "angle": summary["angle"][i],
                "w": c.image(w, shape),
                "delta": [c.image(v, shape) for v in delta],
                "adversarial": [c.image(v, shape) for v in x + delta],
                "mirror": [c.image(v, shape) for v in mirror_image(x, w, b)],
                "distance": delta.norm(dim=1).div(1 + cfg.overshoot).tolist(),
            }
        )
    out["rows"].append(_p.centroid_row(x, train, shape, cfg.overshoot))
    out["centroid_difference"] = c.image(z_hat, shape)
    return out


def measure_pair(cfg: Config, ctx: RunContext, pair: tuple[int, int], with_images: bool) -> dict:
    """The SVM path of one pair and its tilting angles, errors and adversarial distances."""
    train = c.load_pair(cfg.dataset, pair, ctx.data_dir, "train", ctx.device)
    test = c.load_pair(cfg.dataset, pair, ctx.data_dir, "test", ctx.device)
    shape = train[2]
    z_hat = centroid_direction(train[0], train[1])
    path = svm_path(
        train[0],
        train[1],
        c.lam_grid(cfg.log10_lam, cfg.num_lams),
        description=f"SVM path {pair[0]} vs {pair[1]}",
    )
    summary = c.summarize_path(path, train[:2], test[:2], z_hat)
    summary |= _p.sizes(path, train[:2], test[:2])
    strong = c.strongest_valid(summary)
    summary |= {
        "pair": list(pair),
        "n": train[0].shape[1],
        "N_train": len(train[0]),
        "N_test": len(test[0]),
        "strong_index": strong,
        "strong_cosine": float(np.cos(np.deg2rad(summary["angle"][strong]))),
    }
    if with_images:
        summary["images"] = _images(cfg, summary, path, train[:2], test[:2], shape, z_hat)
    return summary


def run(cfg: Config, ctx: RunContext) -> dict:
    """One point per pair (``--resume`` skips pairs already done)."""
    results = ctx.points([
        (f"pair={pair[0]}v{pair[1]}", lambda p=pair, i=i: measure_pair(cfg, ctx, p, i == 0))
        for i, pair in enumerate(c.pairs_of(cfg.pair))
    ])
    metrics = {"dataset": cfg.dataset, "pairs": results}
    return {"claims": claims(cfg, metrics), "metrics": metrics}


def _ends(r: dict, key: str, *, rising: bool) -> tuple[float, float, float]:
    """Values at the weakest and the strongest non-degenerate penalty, and the largest step
    against the expected direction as lam falls (``rising`` or not; relative for distances)."""
    valid = [i for i in np.argsort(r["lams"]) if not r["degenerate"][i]]
    v = np.asarray(r[key])[valid]  # from the weakest penalty to the strongest
    against = np.diff(v) if rising else -np.diff(v)  # > 0: a step the wrong way as lam falls
    if key != "angle":
        against = against / np.maximum(np.abs(v[1:]), 1e-300)
    return float(v[0]), float(v[-1]), float(max(against.max(initial=0.0), 0.0))


def _trend(rs: list[dict], key: str, *, rising: bool) -> dict:
    """The measured trend: medians over pairs at both ends, the net change (angle: rise in
    degrees; distance: weak / strong ratio) and the largest step against the trend, each the
    value >= 90% of the pairs reach (the pair's own values for one pair)."""
    ends = [_ends(r, key, rising=rising) for r in rs]
    out = {
        "weak": float(np.median([e[0] for e in ends])),
        "strong": float(np.median([e[1] for e in ends])),
    }
    if rising:
        out["rise"] = c.reached([w - s for w, s, _ in ends], high=True)
    else:
        out["ratio"] = c.reached([w / s for w, s, _ in ends], high=False)
    out["worst_step"] = c.reached([e[2] for e in ends], high=False)
    return out


def angle_rule(cfg: Config) -> rules.Rule:
    """Grows by ``min_angle_change`` deg in all, never falls by > ANGLE_TOL deg per step."""
    return rules.predicate(
        lambda m: m["rise"] >= cfg.min_angle_change and m["worst_step"] <= ANGLE_TOL,
        f"the angle grows by >= {cfg.min_angle_change:g} deg from the strongest to the weakest "
        f"penalty (rise) and never falls by more than {ANGLE_TOL:g} deg per grid step as lam "
        "falls (worst_step)",
        fails_on={"weak": 3.0, "strong": 2.0, "rise": 1.0, "worst_step": 0.0},
        holds_on={"weak": 40.0, "strong": 5.0, "rise": 35.0, "worst_step": 0.0},
    )


def distance_rule() -> rules.Rule:
    """Ends lower (ratio < 1), never grows by > DIST_TOL per step as lam falls."""
    return rules.predicate(
        lambda m: m["ratio"] < 1 and m["worst_step"] <= DIST_TOL,
        "the distance at the weakest penalty is below the one at the strongest (ratio weak / "
        f"strong < 1) and never grows by more than {DIST_TOL:.0%} per grid step as lam falls "
        "(worst_step)",
        fails_on={"weak": 0.9, "strong": 0.5, "ratio": 1.8, "worst_step": 0.0},
        holds_on={"weak": 0.2, "strong": 1.0, "ratio": 0.2, "worst_step": 0.0},
    )


def claims(cfg: Config, m: dict) -> list[dict]:
    """Angle grows and distance shrinks as lam falls; w -> centroid difference; separation."""
    rs = m["pairs"]
    first = rs[0]
    w_i, s_i = c.weakest(first), first["strong_index"]
    where = (
        f"{m['dataset']} {first['pair'][0]} vs {first['pair'][1]}, lam from "
        f"{first['lams'][s_i]:.2g} (strongest non-degenerate) down to {first['lams'][w_i]:.0e}"
    )
    if len(rs) > 1:
        where += (
            f"; {len(rs)} pairs: each number is the value >= {c.SHARE:.0%} of the pairs reach "
            "(weak and strong: medians)"
        )
    overfit = first["test_error"][w_i] > min(first["test_error"])
    cos = [r["strong_cosine"] for r in rs]
    sep = [r["train_error"][c.weakest(r)] for r in rs]
    exact = all(all(r["exact"]) for r in rs)
    solver = (
        f"SVM solved {'exactly (KKT verified)' if exact else 'to smoothed precision'} at "
        f"every penalty, max duality gap {max(r['max_duality_gap'] for r in rs):.1e}"
    )
    return [
        claim(
            "angle_grows_as_regularization_falls",
            "The tilting angle between w and the nearest-centroid direction grows as the L2 "
            "regularisation falls (Fig. 6).",
            paper_value="grows",
            measured=_trend(rs, "angle", rising=True),
            rule=angle_rule(cfg),
            note=f"angle (deg) at the weakest and the strongest non-degenerate penalty; {where}; "
            f"it stays flat once the SVM is the hard-margin one. {solver}",
        ),
        claim(
            "distance_shrinks_as_regularization_falls",
            "The adversarial distance shrinks as the regularisation falls (Fig. 6: the weakly "
            "regularised perturbation is barely perceptible).",
            paper_value="shrinks",
            measured=_trend(rs, "distance_mean", rising=False),
            rule=distance_rule(),
            note="mean exact l2 distance of the test images to the nearest misclassified input "
            f"(0 for errors; no pixel box) at the weakest and the strongest penalty; {where}",
        ),
        claim(
            "strong_regularization_perturbation_is_centroid_difference",
            "At strong regularisation the adversarial perturbation is (close to) the "
            "difference of the class centroids.",
            paper_value=1.0,
            measured=c.reached(cos, high=True),
            rule=rules.at_least(cfg.min_cosine, what="the cosine"),
            kind="construction",
            note="cosine between the perturbation (along w) and the centroid difference at the "
            "strongest non-degenerate penalty. Algebra more than a finding: once every training "
            "point is inside the margin, w is proportional to sum_i y_i x_i, the centroid "
            f"difference up to the class sizes; {where}; train/test error there "
            f"{first['train_error'][s_i]:.3f}/{first['test_error'][s_i]:.3f}",
        ),
        claim(
            "weak_regularization_separates_training_set",
            "With little regularisation the tilt separates the training data perfectly.",
            paper_value=0.0,
            measured=c.reached(sep, high=False),
            rule=rules.at_most(0.0, what="the training error"),
            note=f"training error at the weakest penalty (the nearest-centroid classifier's: "
            f"{first['nearest_centroid']['train_error']:.3f}); {first['n']} pixels, "
            f"{first['N_train']} training images for {first['pair']}; test error there "
            f"{first['test_error'][w_i]:.3f} vs the path's best {min(first['test_error']):.3f}"
            f"{'' if overfit else ' (no overfitting to show on these data)'}; {where}",
        ),
        *_p.claims(rs, m["dataset"]),
    ]


def plot(results: dict) -> dict:
    """Fig. 6: angle, errors and distance against lam; adversarial and mirror images; Fig. 2:
    the perturbation's size against the images' and the nearest-centroid one's."""
    m = results["metrics"]
    figs = {"regularization": path_figure(m["pairs"], m["dataset"])}
    if all(_p.has_sizes(r) for r in m["pairs"]):
        figs["perturbation_size"] = _p.figure(m["pairs"], m["dataset"])
    if "images" in m["pairs"][0]:
        figs["images"] = image_grid(m["pairs"][0])
    return figs


EXPERIMENT = register(
    Experiment(
        id="tilting.regularization",
        paper="tanay",
        title="Fig. 2, 6: tilting angle, errors and adversarial distance of a linear SVM vs L2 "
        "regularisation; adversarial and mirror images",
        config=Config,
        run=run,
        plot=plot,
        # The default scale is the article's grid (81 penalties over 8 decades) on the bundled
        # digits; the paper scale runs it on MNIST.
        scales={
            "smoke": {"dataset": "digits", "num_lams": 17, "images": 2},
            "default": {"dataset": "digits"},
        },
    )
)
