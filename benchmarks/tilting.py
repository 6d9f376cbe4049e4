"""Linear SVM regularisation path: warm start vs cold start (vs scikit-learn per value).

Tanay's Fig. 6 sweeps the L2 penalty of a hinge-loss SVM over many decades on MNIST 2 vs 3
(about 12k images of 784 pixels). MNIST is not available offline, so the problem here has the
same size: the bundled 8x8 digits 2 and 3 (270 training images) up-sampled x3 by pixel copying,
padded to 28 x 28, repeated to 12,000 images and given independent Gaussian pixel noise
(sigma 0.1, clipped to [0, 1]). 81 penalties log-spaced over 1e-7 .. 10 (as tilting.regularization).

Rows:
- ``warm``: :func:`advgeom.geometry.linear_svm.svm_path` (each value starts from the previous
  solution; exact hinge solution, KKT-verified);
- ``cold``: the same solver, every value from zero;
- ``sklearn LinearSVC`` (optional, ``--sklearn K``): liblinear's dual coordinate descent, hinge
  loss, ``C = 1 / (lam N)``, on K of the values (every value is a fresh start: liblinear cannot
  warm-start); per-value time, whether it converged in ``max_iter``, and the cosine of its w with
  ours. Not the same problem: liblinear penalises the bias (``intercept_scaling=1``).

Usage:
    python benchmarks/tilting.py                 # warm and cold, 81 values
    python benchmarks/tilting.py --sklearn 9     # adds LinearSVC on 9 of the values
    python benchmarks/tilting.py --values 21 --no-cold
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from _timing import describe

from advgeom import data
from advgeom.geometry.linear_svm import svm_path
from advgeom.geometry.tilting import centroid_direction, tilting_angle


def mnist_sized(n_images: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_images, 784) float64 and labels 1 (digit 2) / 0 (digit 3); see the module docstring."""
    x, y = data.load("digits", split="train")
    x, y = data.binary_subset(x, y, pos=2, neg=3)
    x = F.pad(data.upsample(x, 3), (2, 2, 2, 2))  # 24 x 24 -> 28 x 28
    reps = -(-n_images // len(x))
    x, y = x.repeat(reps, 1, 1, 1)[:n_images], y.repeat(reps)[:n_images]
    g = torch.Generator().manual_seed(seed)
    x = (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return data.flatten(x).double(), y


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_path(name: str, x, y, lams, warm: bool):
    path, wall, cpu = timed(lambda: svm_path(x, y, lams, warm_start=warm))
    print(
        f"{name:<8}{wall:>10.1f}{cpu:>10.1f}{int(path.iterations.sum()):>14}"
        f"{int(path.exact.sum()):>7}/{len(lams)}{float(path.duality_gap.abs().max()):>12.1e}"
    )
    return path, wall, cpu


def sklearn_rows(x, y, lams, path, count: int) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    idx = torch.linspace(0, len(lams) - 1, count).round().long().unique().tolist()
    xn, yn = x.numpy(), y.numpy()
    print(f"\nsklearn LinearSVC (hinge, dual, max_iter 1000), {len(idx)} values")
    print(f"{'lam':>10}{'wall s':>9}{'cpu s':>9}{'converged':>11}{'cos(w, ours)':>14}")
    total = 0.0
    for i in idx:
        lam = float(lams[i])
        clf = LinearSVC(loss="hinge", C=1 / (lam * len(x)), dual=True, max_iter=1000)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            _, wall, cpu = timed(lambda clf=clf: clf.fit(xn, yn))
        ok = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        w = torch.tensor(clf.coef_[0])
        cos = float(w @ path.W[i] / (w.norm() * path.W[i].norm()))
        total += wall
        print(f"{lam:>10.1e}{wall:>9.2f}{cpu:>9.2f}{str(ok):>11}{cos:>14.5f}")
    print(
        f"mean {total / len(idx):.2f} s per value -> about {total / len(idx) * len(lams):.0f} s "
        f"for all {len(lams)} values"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--images", type=int, default=12_000)
    p.add_argument("--values", type=int, default=81)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--no-cold", action="store_true")
    p.add_argument("--sklearn", type=int, default=0, metavar="K", help="LinearSVC on K values")
    args = p.parse_args()
    describe(torch.device("cpu"), ("sklearn",))
    print("the SVM solver runs on one torch thread on the CPU (advgeom.geometry.linear_svm)")
    x, y = mnist_sized(args.images, args.noise, seed=0)
    lams = torch.logspace(-7, 1, args.values, dtype=torch.float64)
    print(
        f"\nproblem: {x.shape[0]} x {x.shape[1]} (digits 2 vs 3 up-sampled to 28 x 28 + noise "
        f"{args.noise}), {args.values} penalties 1e-7 .. 10"
    )
    print(f"{'path':<8}{'wall s':>10}{'cpu s':>10}{'Newton steps':>14}{'exact':>11}{'max gap':>12}")
    warm, w_wall, w_cpu = run_path("warm", x, y, lams, True)
    if not args.no_cold:
        cold, c_wall, c_cpu = run_path("cold", x, y, lams, False)
        diff = float(((warm.W - cold.W).norm(dim=1) / warm.W.norm(dim=1)).max())
        print(
            f"cold / warm: {c_wall / w_wall:.1f}x wall, {c_cpu / w_cpu:.1f}x cpu; largest "
            f"relative difference of w between them {diff:.1e}"
        )
    angles = tilting_angle(warm.W, centroid_direction(x, y))
    print(
        f"tilting angle along the path: {float(angles[0]):.1f} deg (lam 1e-7) .. "
        f"{float(angles[-1]):.1f} deg (lam 10)"
    )
    if args.sklearn:
        sklearn_rows(x, y, lams, warm, args.sklearn)


if __name__ == "__main__":
    main()
