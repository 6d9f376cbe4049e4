"""``tilting.toy``: dimension is neither necessary nor sufficient for adversarial examples; the
tilt of the boundary decides.

Paper: Tanay, "A boundary tilting perspective" (Fig. 3 and 4). A two-class problem whose data
manifold is nearly flat in most directions, built in 2 and in 785 dimensions: the class sits on
coordinate 0 (``x_0 = +-1`` plus noise ``sigma_z``), every other coordinate is noise of the small
``sigma_flat``. The weight vector ``w_theta = cos(theta) e_0 + sin(theta) u`` tilts by theta into
the flat subspace (``u``: e_1 in 2-D, the uniform direction over the 784 flat coordinates in
785-D); its boundary passes through the midpoint. In both dimensions the projection of the data
onto the plane (e_0, u) has the same law, so the exact adversarial distance ``|w.x| / ||w||``
(l2, no box) and the error depend on theta alone: a tilted boundary in 2-D still separates the
classes but lies close to them (Fig. 3 left), an untilted one in 785-D bisects them (right).

Beyond the fixed weights, the article's explanation of where tilts come from: with classes that
overlap along e_0 (``overlap_sigma_z``) a weakly regularised SVM fits the training set by tilting
into the flat directions (with fewer points than dimensions it separates it completely), and
strong regularisation removes the tilt.

Run: ``advgeom run tilting.toy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from advgeom.errors import InputError, check_int, check_positive
from advgeom.experiments.tanay2018 import _common as c
from advgeom.experiments.tanay2018._figures import toy_figure
from advgeom.geometry.linear_svm import fit_linear_svm
from advgeom.geometry.tilting import tilting_angle
from advgeom.runs import rules
from advgeom.runs.claims import claim
from advgeom.runs.context import RunContext
from advgeom.runs.registry import Experiment, register

OVERFIT_TILT = 30.0  # degrees the weak SVM must tilt beyond the strong one
OVERFIT_RATIO = 0.5  # weak / strong mean test distance below this: "comes close to the data"


@dataclass(frozen=True)
class Config:
    """Fig. 3/4: 2 and 785 dimensions (785 as in the article), tilts from 0 to 88 degrees."""

    dims: tuple[int, ...] = (2, 785)
    sigma_z: float = 0.1  # spread of each class along e_0 (class means at -1 and +1)
    sigma_flat: float = 0.01  # spread along every other direction: the nearly flat manifold
    angles: tuple[float, ...] = (0.0, 15.0, 30.0, 45.0, 60.0, 70.0, 80.0, 85.0, 88.0)
    tilted: float = 85.0  # the tilted boundary of Fig. 3 (left); must be one of angles
    test_points: int = 2000  # per class
    overlap_sigma_z: float = 0.6  # SVM part: classes overlapping along e_0
    train_points: int = 40  # SVM part: per class (fewer than the high dimension)
    lam_weak: float = 1e-6
    lam_strong: float = 1.0
    max_error: float = 0.01  # the tilted boundary must still separate the classes
    max_ratio: float = 0.2  # tilted / untilted distance
    rel_tol: float = 0.05  # distances in 2-D and high-D agree within this

    def __post_init__(self) -> None:
        if len(self.dims) < 2 or min(self.dims) < 2 or len(set(self.dims)) != len(self.dims):
            raise InputError(f"dims must be >= 2 distinct integers >= 2 (got {self.dims})")
        if (
            not self.angles
            or not all(0 <= a < 90 for a in self.angles)
            or 0.0 not in self.angles
            or self.tilted not in self.angles
        ):
            raise InputError(
                f"angles must lie in [0, 90), include 0 and tilted={self.tilted} "
                f"(got {self.angles})"
            )
        for name in (
            "sigma_z",
            "sigma_flat",
            "overlap_sigma_z",
            "lam_weak",
            "lam_strong",
            "max_error",
            "max_ratio",
            "rel_tol",
        ):
            check_positive(name, getattr(self, name))
        check_int("test_points", self.test_points, minimum=10)
        check_int("train_points", self.train_points, minimum=2)


def sample(
    n: int, per_class: int, sigma_z: float, sigma_flat: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(2 * per_class, n) float64 points, label 1 at x_0 = +1, 0 at x_0 = -1."""
    y = torch.arange(2 * per_class) % 2
    x = torch.randn(2 * per_class, n, generator=gen, dtype=torch.float64) * sigma_flat
    x[:, 0] = (2 * y - 1) + sigma_z * torch.randn(2 * per_class, generator=gen, dtype=torch.float64)
    return x, y


def tilted_weight(n: int, theta_deg: float) -> torch.Tensor:
    """cos(theta) e_0 + sin(theta) u, u the uniform unit direction over coordinates 1..n-1."""
    t = math.radians(theta_deg)
    w = torch.full((n,), math.sin(t) / math.sqrt(n - 1), dtype=torch.float64)
    w[0] = math.cos(t)
    return w


def fixed_weights(cfg: Config, ctx: RunContext, n: int) -> dict:
    """Error and exact mean distance of each tilted boundary, on fresh test points."""
    x, y = sample(n, cfg.test_points, cfg.sigma_z, cfg.sigma_flat, ctx.generator("test", n))
    out = {"n": n, "error": [], "distance_mean": []}
    for theta in cfg.angles:
        w = tilted_weight(n, theta)
        out["error"].append(c.error(x, y, w, 0.0))
        out["distance_mean"].append(float(c.adversarial_distance(x, y, w, 0.0).mean()))
    # Fig. 4: the data (a sample) in the plane (e_0, u) that holds every w_theta.
    u = tilted_weight(n, 90.0)
    k = min(200, len(x))
    out["plane"] = {"z": x[:k, 0].tolist(), "u": (x[:k] @ u).tolist(), "label": y[:k].tolist()}
    return out


def trained(cfg: Config, ctx: RunContext, n: int) -> dict:
    """SVMs at weak and strong regularisation on overlapping classes: angle, errors, distance."""
    x, y = sample(
        n, cfg.train_points, cfg.overlap_sigma_z, cfg.sigma_flat, ctx.generator("train", n)
    )
    xt, yt = sample(
        n, cfg.test_points, cfg.overlap_sigma_z, cfg.sigma_flat, ctx.generator("svm-test", n)
    )
    z_hat = torch.zeros(n, dtype=torch.float64)
    z_hat[0] = 1.0  # the true class direction (the sample centroids differ from it by noise)
    out = {"n": n}
    for name, lam in (("weak", cfg.lam_weak), ("strong", cfg.lam_strong)):
        sol = fit_linear_svm(x, y, lam=lam)
        out[name] = {
            "lam": lam,
            "angle": float(tilting_angle(sol.w, z_hat)),
            "train_error": c.error(x, y, sol.w, sol.b),
            "test_error": c.error(xt, yt, sol.w, sol.b),
            "distance_mean": float(c.adversarial_distance(xt, yt, sol.w, sol.b).mean()),
        }
    return out


def run(cfg: Config, ctx: RunContext) -> dict:
    values = ctx.points(
        [(f"fixed n={n}", lambda n=n: fixed_weights(cfg, ctx, n)) for n in cfg.dims]
        + [(f"svm n={n}", lambda n=n: trained(cfg, ctx, n)) for n in cfg.dims]
    )
    fixed, svm = values[: len(cfg.dims)], values[len(cfg.dims):]
    metrics = {"angles": list(cfg.angles), "fixed": fixed, "svm": svm}
    return {"claims": claims(cfg, metrics), "metrics": metrics}


def not_necessary_rule(cfg: Config) -> rules.Rule:
    return rules.predicate(
        lambda m: m["distance_ratio"] <= cfg.max_ratio and m["error"] <= cfg.max_error,
        f"the tilted / untilted distance ratio is <= {cfg.max_ratio:g} and the tilted "
        f"boundary's error <= {cfg.max_error:g}",
        fails_on={"distance_ratio": 1.0, "error": 0.0},
        holds_on={"distance_ratio": 0.05, "error": 0.0},
    )


def overfitting_rule() -> rules.Rule:
    """In every dimension: weak angle >= strong + 30 deg, weak distance < half the strong."""

    def ok(m: dict) -> bool:
        return all(
            r["weak_angle"] >= r["strong_angle"] + OVERFIT_TILT
            and r["distance_ratio"] < OVERFIT_RATIO
            for r in m.values()
        )

    return rules.predicate(
        ok,
        f"in every dimension the weak SVM's angle exceeds the strong one's by >= "
        f"{OVERFIT_TILT:g} deg and its mean test distance is below {OVERFIT_RATIO:g} x the "
        "strong one's (distance_ratio)",
        fails_on={"n2": {"weak_angle": 10.0, "strong_angle": 5.0, "distance_ratio": 0.9}},
        holds_on={"n2": {"weak_angle": 80.0, "strong_angle": 5.0, "distance_ratio": 0.1}},
    )


def claims(cfg: Config, m: dict) -> list[dict]:
    """Not necessary (tilted 2-D), not sufficient (untilted high-D), the tilt decides."""
    lo, hi = min(m["fixed"], key=lambda r: r["n"]), max(m["fixed"], key=lambda r: r["n"])
    i0, it = m["angles"].index(0.0), m["angles"].index(cfg.tilted)
    ratio = lo["distance_mean"][it] / lo["distance_mean"][i0]
    same0 = hi["distance_mean"][i0] / lo["distance_mean"][i0]
    dev = max(
        abs(h / l_ - 1) for h, l_ in zip(hi["distance_mean"], lo["distance_mean"], strict=True)
    )
    svm = sorted(m["svm"], key=lambda r: r["n"])
    setting = (
        f"class means +-1 along e_0 with sigma_z = {cfg.sigma_z}, sigma_flat = "
        f"{cfg.sigma_flat} elsewhere, {cfg.test_points} test points per class"
    )
    built = (
        "Holds by construction: the data projected onto the plane (e_0, u) of the w_theta have "
        "the same law in every dimension, so the distances are fixed analytically by theta "
        "(tilted / untilted ratio about cos(theta) as sigma_flat << 1); measured on "
        "independent samples"
    )
    return [
        claim(
            "dimension_not_necessary",
            "In 2 dimensions a tilted boundary separates the classes yet lies close to the "
            "data: adversarial examples without high dimension (Fig. 3 left).",
            paper_value="small distance, no error",
            measured={"distance_ratio": ratio, "error": lo["error"][it]},
            rule=not_necessary_rule(cfg),
            kind="construction",
            note=f"n = {lo['n']}: mean distance at {cfg.tilted} deg / at 0 deg "
            f"({lo['distance_mean'][it]:.4f} / {lo['distance_mean'][i0]:.4f}) and the error at "
            f"{cfg.tilted} deg; {setting}. {built}",
        ),
        claim(
            "dimension_not_sufficient",
            f"In {hi['n']} dimensions the untilted boundary bisects the classes: as far from "
            "the data as in 2 dimensions (Fig. 3 right).",
            paper_value=1.0,
            measured=same0,
            rule=rules.within(abs=cfg.rel_tol, what="the distance ratio"),
            kind="construction",
            note=f"mean distance at 0 deg, n = {hi['n']} / n = {lo['n']} "
            f"({hi['distance_mean'][i0]:.4f} / {lo['distance_mean'][i0]:.4f}). {built}",
        ),
        claim(
            "tilt_decides",
            "The adversarial distance depends on the tilting angle, not on the dimension (Fig. 4).",
            paper_value=0.0,
            measured=dev,
            rule=rules.at_most(cfg.rel_tol, what="the largest relative difference"),
            kind="construction",
            note=f"largest relative difference between the mean distances in {hi['n']} and "
            f"{lo['n']} dimensions over the angles {m['angles']}. {built}",
        ),
        claim(
            "overfitting_tilts_the_boundary",
            "Tilting is overfitting: with classes that overlap along the class direction, a "
            "weakly regularised SVM tilts into the flat directions and comes close to the data; "
            "strong regularisation removes the tilt (Sec. 'Why is the boundary tilted').",
            paper_value="weak: tilted and close; strong: not tilted",
            measured={
                f"n{r['n']}": {
                    "weak_angle": r["weak"]["angle"],
                    "strong_angle": r["strong"]["angle"],
                    "distance_ratio": r["weak"]["distance_mean"] / r["strong"]["distance_mean"],
                }
                for r in svm
            },
            rule=overfitting_rule(),
            note="tilting angles (deg) against e_0 at lam "
            f"{cfg.lam_weak:g} (weak) and {cfg.lam_strong:g} (strong), and the weak / strong "
            f"mean test distance; sigma_z = {cfg.overlap_sigma_z}, {2 * cfg.train_points} "
            "training points; train/test error, mean test distance: "
            + "; ".join(
                f"n = {r['n']} {k}: {r[k]['train_error']:.3f}/{r[k]['test_error']:.3f}, "
                f"{r[k]['distance_mean']:.3f}"
                for r in svm
                for k in ("weak", "strong")
            )
            + ". More dimensions than points give the tilt room to separate the training set "
            "completely",
        ),
    ]


def plot(results: dict) -> dict:
    return {"toy": toy_figure(results["metrics"], results["config"])}


EXPERIMENT = register(
    Experiment(
        id="tilting.toy",
        paper="tanay",
        title="Fig. 3/4: a flat two-class toy in 2 and 785 dimensions; distance and error vs the "
        "tilting angle; SVMs that tilt when they can",
        config=Config,
        run=run,
        plot=plot,
        scales={"smoke": {"test_points": 300, "train_points": 20, "dims": (2, 101)}},
    )
)
