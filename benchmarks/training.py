"""Cost of each training objective relative to plain training, measured side by side.

One SGD step (objective, backward, optimiser step) of every method of ``advgeom.train`` on the
same model and the same batch, alternating in one process (the order rotates every round):
plain, gradient penalties q = 1, 2 (double back-propagation), adversarial augmentation l_inf and
l2 (one extra forward and backward), PGD-7 training (7 attack steps + the training step: about
8x plain is the expected figure), cross-Lipschitz (one differentiable backward per logit).

Models: ``cnn`` is Simon-Gabriel et al.'s Sec. 4.1 network (six 3x3 convolutions, 64 channels,
batch-norm, strides [1, 2, 2, 2, 2, 2]) on CIFAR-sized random images (3x32x32, 10 classes);
``fc`` is a fully connected 256 x 2 net with batch-norm on 1x8x8 digit-sized images.

Usage:
    python benchmarks/training.py                   # cnn, batch 128, CPU
    python benchmarks/training.py --model fc --batch 128 --repeats 20
    python benchmarks/training.py --device cuda

Prints median wall-clock and CPU time per step, and ``x plain`` = this row's median / plain's.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import torch
from _timing import describe, measure
from torch import nn

from advgeom.models.cnn import FCNet, StridedCNN
from advgeom.train import Method, objective

METHODS = (
    Method("plain"),
    Method("grad_l1", eps=0.01),
    Method("grad_l2", eps=0.01),
    Method("adv_linf", eps=0.01),
    Method("adv_l2", eps=0.01),
    Method("pgd", eps=0.01),
    Method("cross_lipschitz", eps=0.01),
)


def build(
    kind: str, batch: int, device: torch.device
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    shape = (3, 32, 32) if kind == "cnn" else (1, 8, 8)
    if kind == "cnn":
        model = StridedCNN(input_shape=shape, channels=64, generator=g)
    else:
        model = FCNet(input_shape=shape, hidden=256, depth=2, batch_norm=True, generator=g)
    x = torch.rand(batch, *shape, generator=g).to(device)
    y = torch.randint(0, 10, (batch,), generator=g).to(device)
    return model.to(device).train(), x, y


def steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, Callable[[], None]]:
    """One training step per method. Every method updates the same model: a step's cost does not
    depend on the weights' values, and resetting them would add copying to every timing."""
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    gen = torch.Generator().manual_seed(1)

    def step(method: Method) -> None:
        obj = objective(model, x, y, method, generator=gen)
        optimiser.zero_grad(set_to_none=True)
        obj.total.backward()
        optimiser.step()

    return {m.name: (lambda m=m: step(m)) for m in METHODS}


def report(title: str, times: dict[str, list[tuple[float, float]]]) -> None:
    wall = {n: statistics.median(w for w, _ in t) for n, t in times.items()}
    cpu = {n: statistics.median(c for _, c in t) for n, t in times.items()}
    print(f"\n{title}")
    print(
        f"{'method':<18}{'median ms':>10}{'min ms':>9}{'cpu ms':>9}{'x plain':>9}"
        f"{'x plain(cpu)':>14}"
    )
    for n, t in times.items():
        print(
            f"{n:<18}{1e3 * wall[n]:>10.1f}{1e3 * min(w for w, _ in t):>9.1f}"
            f"{1e3 * cpu[n]:>9.1f}{wall[n] / wall['plain']:>9.2f}"
            f"{cpu[n] / cpu['plain']:>14.2f}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", choices=("cnn", "fc"), default="cnn")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    describe(device)
    model, x, y = build(args.model, args.batch, device)
    times = measure(steps(model, x, y), args.repeats, device)
    report(f"one training step, {args.model}, batch {args.batch} ({args.repeats} rounds)", times)


if __name__ == "__main__":
    main()
