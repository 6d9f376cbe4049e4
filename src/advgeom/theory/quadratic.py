"""The quadratic network of Gilmer et al. (Sec. 4, App. C-E) in closed form.

The network y(x) = w * sum((W1 x)^2) + b, with W1 = U diag(s) V^T, decides by the ellipsoid
sum_i alpha_i z_i^2 = 1 in the rotated coordinates z = V^T x, with alpha_i = w s_i^2 / (-b).
It errs on the inner sphere (radius 1) iff some alpha_i > 1, and on the outer sphere (radius R)
iff some alpha_i < 1/R^2.

Error rates: for x = r u/||u|| with u ~ N(0, I), "sum alpha_i x_i^2 > 1" is "X > 0" with
X = sum (r^2 alpha_i - 1) u_i^2, whose mean and variance are sum (r^2 alpha_i - 1) and
2 sum (r^2 alpha_i - 1)^2. The CLT estimate (App. D, Eq. 11) is P(X > 0) = Phi(mean / std).
(The main text's Eq. 3 prints 1 - Phi(mu/sigma) and calls the variance sigma; Eq. 11 is the
consistent form, used here.)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special, stats

from advgeom.errors import InputError


def ellipsoid_form(W1: torch.Tensor, w: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """The decision ellipsoid of the quadratic network: alpha_i and the rotation V (App. C).

    y(x) = w ||W1 x||^2 + b = -b (sum_i alpha_i z_i^2 - 1) with z = V^T x, where W1 = U S V^T and
    alpha_i = w s_i^2 / (-b), sorted descending. When h < n the n - h directions W1 cannot see
    get alpha = 0 (they count as incorrect: the outer sphere is misclassified along them).

    Args:
        W1: (h, n) first-layer weights.
        w, b: output scale and bias (b < 0).

    Returns:
        alpha: (n,) and V: (n, n) orthogonal, columns are the principal directions.
    """
    if b >= 0:
        raise InputError(f"b must be < 0 for the ellipsoid form (got {b})")
    W = W1.detach().double().cpu()
    n = W.shape[1]
    _, s, Vh = torch.linalg.svd(W, full_matrices=True)
    s = np.concatenate([s.numpy(), np.zeros(max(0, n - len(s)))])[:n]
    return w * s**2 / (-b), Vh.T.numpy()


def alphas(W1: torch.Tensor, w: float, b: float) -> np.ndarray:
    """alpha_i = w s_i^2 / (-b) from the singular values s_i of W1 (see :func:`ellipsoid_form`)."""
    if b >= 0:
        raise InputError(f"b must be < 0 for the ellipsoid form (got {b})")
    s = torch.linalg.svdvals(W1.detach().double().cpu()).numpy()
    n = W1.shape[1]
    s = np.concatenate([s, np.zeros(max(0, n - len(s)))])[:n]
    return w * s**2 / (-b)


def count_incorrect(alpha: np.ndarray, R: float) -> int:
    """How many alpha_i lie outside [1/R^2, 1] (each one a direction with adversarial examples)."""
    alpha = np.asarray(alpha)
    return int(np.sum((alpha > 1) | (alpha < 1 / R**2)))


def clt_error_rates(alpha: np.ndarray, R: float) -> dict[str, float]:
    """CLT estimates of the error rate on the inner and outer spheres (App. D, Eq. 11).

    Returns log10 values too, because good models have rates far below float precision's 1e-308
    only rarely but routinely below what Monte Carlo can measure.
    """
    out = {}
    for name, r2, sign in (("inner", 1.0, 1.0), ("outer", R**2, -1.0)):
        c = r2 * np.asarray(alpha, dtype=np.float64) - 1.0
        mean, std = c.sum(), math.sqrt(2.0 * np.sum(c * c))
        # inner errs when X > 0, outer when X < 0; both are Phi(sign * mean / std).
        z = sign * mean / std if std > 0 else (math.inf if sign * mean > 0 else -math.inf)
        out[name] = float(stats.norm.cdf(z))
        out[f"log10_{name}"] = float(stats.norm.logcdf(z) / math.log(10))
    return out


def monte_carlo_error_rates(alpha: np.ndarray, R: float, *, samples: int,
                            generator: torch.Generator, chunk: int = 100_000) -> dict[str, float]:
    """Exact-model error rates by sampling the spheres (only rates above ~10/samples are seen)."""
    a = torch.as_tensor(np.asarray(alpha), dtype=torch.float64)
    errors = {"inner": 0, "outer": 0}
    for start in range(0, samples, chunk):
        u = torch.randn(min(chunk, samples - start), len(a), generator=generator,
                        dtype=torch.float64)
        q = (a * u * u).sum(dim=1) / (u * u).sum(dim=1)  # sum alpha_i z_i^2 on the unit sphere
        errors["inner"] += int((q > 1).sum())
        errors["outer"] += int((R**2 * q < 1).sum())
    return {k: v / samples for k, v in errors.items()} | {"samples": samples, **{
        f"{k}_errors": v for k, v in errors.items()}}


def projection_error_rates(k: int, n: int, c: float, R: float) -> dict[str, float]:
    """Exact error rates of the model that looks at k of n coordinates (App. E).

    The model says "outer" when c * sum_{i<=k} x_i^2 > 1. For a uniform unit vector,
    B = sum_{i<=k} z_i^2 ~ Beta(k/2, (n-k)/2), so the inner sphere errs with P(B > 1/c) and the
    outer with P(B < 1/(c R^2)) -- exactly, far into the tail.
    """
    if not 1 <= k < n:
        raise InputError(f"k must be in [1, n) (got k={k}, n={n})")
    a, b_ = k / 2, (n - k) / 2
    return {
        "inner": float(special.betaincc(a, b_, min(1.0, 1.0 / c))),
        "outer": float(special.betainc(a, b_, min(1.0, 1.0 / (c * R**2)))),
    }


def projection_clt_error_rates(k: int, n: int, c: float, R: float) -> dict[str, float]:
    """The same rates by the paper's CLT (Eq. 11) with alpha = c on k coordinates, 0 elsewhere."""
    alpha = np.concatenate([np.full(k, c), np.zeros(n - k)])
    rates = clt_error_rates(alpha, R)
    return {"inner": rates["inner"], "outer": rates["outer"]}
