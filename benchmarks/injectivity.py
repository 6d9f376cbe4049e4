"""d_m speed: ``min_output_distance``'s blocked exact scan against naive baselines.

Badger's Eq. 1 takes the minimum L1 distance over all pairs of a data set's outputs: 1.8e9 pairs
for the 60,000 MNIST training images. Baselines, on the same data in one process:

- "row loop": the authors' script (for each row i, the distances to rows i+1..N at once; a Python
  loop of N - 1 steps);
- "full cdist": the whole N x N distance matrix at once (memory N^2: 14 GB in float32 at 60,000,
  so it is timed on the small set only).

Outputs are random Gaussian (N, 10) float32 rows (10 = a classifier's logits). Pairs per second
counts each unordered pair once. All variants must find the same minimum; the script checks.

Usage:
    python benchmarks/injectivity.py                    # N = 60,000 blocked; 8,000 for all three
    python benchmarks/injectivity.py --device cuda --n 60000 --small 8000 --chunk 4096
"""

from __future__ import annotations

import argparse

import torch
from _timing import describe, measure, report
from torch import Tensor

from advgeom.metrics import min_output_distance


def row_loop(z: Tensor) -> tuple[float, int, int]:
    """The authors' loop: one Python step per row."""
    best, where = float("inf"), (-1, -1)
    for i in range(len(z) - 1):
        d = (z[i + 1 :] - z[i]).abs().sum(dim=1)
        k = int(d.argmin())
        if float(d[k]) < best:
            best, where = float(d[k]), (i, i + 1 + k)
    return best, *where


def full_cdist(z: Tensor) -> tuple[float, int, int]:
    """All N^2 distances at once, the lower triangle and diagonal masked."""
    d = torch.cdist(z.unsqueeze(0), z.unsqueeze(0), p=1)[0]
    d = d.masked_fill(torch.ones_like(d, dtype=torch.bool).tril(), float("inf"))
    k = int(d.argmin())
    return float(d.view(-1)[k]), k // len(z), k % len(z)


def _blocked(z: Tensor, chunk: int) -> tuple[float, int, int]:
    """advgeom: outputs given directly (no model), upper triangle in chunk x chunk blocks."""
    res = min_output_distance(z, chunk=chunk)
    return res.distance, *res.pair


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60_000, help="rows for the blocked scan")
    parser.add_argument("--small", type=int, default=8_000, help="rows for the comparison")
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--chunk", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    describe(device)
    gen = torch.Generator().manual_seed(0)  # the benchmark's own seed
    big = torch.randn(args.n, args.dim, generator=gen).to(device)
    small = big[: args.small]

    fns = {f"blocked chunk={c}": (lambda c=c: _blocked(small, c)) for c in args.chunk}
    fns |= {"full cdist": lambda: full_cdist(small), "row loop": lambda: row_loop(small)}
    answers = {name: fn() for name, fn in fns.items()}
    assert len({round(a[0], 4) for a in answers.values()}) == 1, answers
    times = measure(fns, args.repeats, device, warmup=False)
    title = f"N = {args.small} x {args.dim} ({pairs(args.small):.3g} pairs), {device}"
    report(title, times, baseline=("row loop", "full cdist"))
    rates = _pairs_per_second(times, pairs(args.small))

    fns = {f"blocked chunk={c}": (lambda c=c: _blocked(big, c)) for c in args.chunk}
    times = measure(fns, max(1, args.repeats - 1), device, warmup=False)
    report(f"N = {args.n} x {args.dim} ({pairs(args.n):.3g} pairs), {device}", times, baseline=())
    _pairs_per_second(times, pairs(args.n))
    print(
        f"row loop at N = {args.n}, at its N = {args.small} rate: "
        f"~{pairs(args.n) / rates['row loop'][0]:.0f} s wall (not run)"
    )


def _pairs_per_second(times: dict, n_pairs: int) -> dict[str, tuple[float, float]]:
    """Print and return (wall, CPU) pairs per second from the median times."""
    rates = {}
    for name, t in times.items():
        wall = sorted(w for w, _ in t)[len(t) // 2]
        cpu = sorted(c for _, c in t)[len(t) // 2]
        rates[name] = (n_pairs / wall, n_pairs / cpu)
        print(
            f"  {name:<24} {n_pairs / wall / 1e6:>10.1f} M pairs/s (wall), "
            f"{n_pairs / cpu / 1e6:>10.1f} M pairs/s per CPU second"
        )
    return rates


if __name__ == "__main__":
    main()
