"""Spheres speed: an ensemble of sphere networks vs the same networks one after another, and
Monte Carlo error-rate throughput in fp32 vs a reduced-precision pass with fp32 re-checks.

1. Training (Gilmer et al., Fig. 4): E copies of ReLU-h1000-d2 (n = 500, batch-norm), each with its
   own data, trained for the same steps with Adam, batch 50 — as one ``Ensemble`` (torch.func.vmap
   over stacked parameters) vs ``train_on_spheres`` per model. Both rows do identical work; the
   members' results are equal (tests/train/test_train_spheres.py).
2. mu(E): ``sphere_error_rate`` on ReLU-h1000-d2 at n = 500, sampling included, in samples per
   second for fp32, bf16 and (CUDA) tf32; the reduced-precision rows re-check small-margin samples
   in fp32 and must count exactly the fp32 errors (checked here too).

Usage:
    python benchmarks/spheres.py                        # CPU, small step counts
    python benchmarks/spheres.py --device cuda --members 20 --steps 200 --samples 10000000
"""

from __future__ import annotations

import argparse

import torch
from _timing import describe, measure, report

from advgeom.metrics.error_rate import sphere_error_rate
from advgeom.models import ReLUMLP
from advgeom.models.ensemble import Ensemble
from advgeom.models.mlp import initialise
from advgeom.train.spheres import SphereTraining, train_ensemble_on_spheres, train_on_spheres


def build(width: int, depth: int, n: int, seed: int, device: torch.device) -> ReLUMLP:
    model = ReLUMLP(in_features=n, hidden=width, depth=depth)
    return initialise(model, torch.Generator().manual_seed(seed)).to(device)


def training(args, device: torch.device) -> None:
    settings = SphereTraining(n=args.n, steps=args.steps, batch_size=50, lr=1e-4)
    models = [build(args.width, args.depth, args.n, i, device) for i in range(args.members)]

    def sequential() -> None:
        for i, m in enumerate(models):
            train_on_spheres(m, settings, generator=torch.Generator().manual_seed(i))

    def ensemble() -> None:
        e = Ensemble(models).to(device)
        gens = [torch.Generator().manual_seed(i) for i in range(args.members)]
        train_ensemble_on_spheres(e, [settings] * args.members, generators=gens)

    times = measure(
        {"sequential": sequential, "ensemble (vmap)": ensemble}, args.repeats, device, warmup=True
    )
    title = (
        f"Training {args.members} x ReLU-h{args.width}-d{args.depth} (batch-norm), n = "
        f"{args.n}, {args.steps} Adam steps of batch 50 each"
    )
    report(title, times, ("sequential",))
    best = min(w for w, _ in times["ensemble (vmap)"])
    print(f"ensemble: {args.members * args.steps / best:.0f} model-steps/s (best round)")


def monte_carlo(args, device: torch.device) -> None:
    model = build(args.width, args.depth, args.n, 0, device)
    # A few hundred training steps give the margins of a real classifier, not of a random one.
    train_on_spheres(
        model,
        SphereTraining(n=args.n, steps=args.mc_train_steps, lr=1e-3),
        generator=torch.Generator().manual_seed(0),
    )
    precisions = ["fp32", "bf16"] + (["tf32"] if device.type == "cuda" else [])
    results = {}

    def rate(precision: str):
        def call():
            gen = torch.Generator(device=device).manual_seed(1)
            results[precision] = sphere_error_rate(
                model,
                args.n,
                samples=args.samples,
                chunk=args.chunk,
                generator=gen,
                device=device,
                precision=precision,
            )

        return call

    times = measure({p: rate(p) for p in precisions}, args.repeats, device, warmup=True)
    report(
        f"mu(E) by Monte Carlo, ReLU-h{args.width}-d{args.depth}, n = {args.n}, "
        f"{args.samples} samples in chunks of {args.chunk}",
        times,
        ("fp32",),
    )
    for p in precisions:
        wall = min(w for w, _ in times[p])
        r = results[p]
        same = "same as fp32" if r["errors"] == results["fp32"]["errors"] else "DIFFERS FROM FP32"
        print(
            f"{p:>5}: {args.samples / wall / 1e6:.2f} M samples/s (best round), "
            f"{r['errors']} errors ({same}), {r['rechecked']} re-checked in fp32"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--width", type=int, default=1000)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--members", type=int, default=20)
    p.add_argument("--steps", type=int, default=10, help="training steps per timed round")
    p.add_argument("--samples", type=int, default=1_000_000, help="Monte Carlo points per round")
    p.add_argument("--chunk", type=int, default=100_000)
    p.add_argument("--mc-train-steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", choices=("training", "monte-carlo"), default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    describe(device)
    if args.only in (None, "training"):
        training(args, device)
    if args.only in (None, "monte-carlo"):
        monte_carlo(args, device)


if __name__ == "__main__":
    main()
