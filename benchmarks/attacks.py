"""PGD speed: advgeom vs torchattacks vs Foolbox, measured alternately in one process.

The model is Gilmer et al.'s sphere network "ReLU-h1000-d2" (n = 500, two hidden layers of 1000
with batch-norm, one logit). Peers need class logits and inputs in [0, 1], so every tool attacks
the same wrapper ``[0, z]`` (two logits: softmax cross-entropy on it *is* sigmoid cross-entropy on
z) on sphere points shifted into [0, 1]. Equal work: PGD l_inf, same steps and step size, random
start off, no early stop, box (0, 1), and each tool's time includes one final forward pass that
decides success (Foolbox does that itself; for torchattacks and the plain loop it is added).

Separately, early stop: on the same model with labels = clean predictions and an eps at which
most examples break in a few steps, advgeom with ``early_stop=True`` vs the full-length run.

Minimal-norm attacks and APGD (``--attacks deepfool fmn apgd``), same model and points, labels =
clean predictions (so every example is attacked), each timed call ending with the check that
decides success: DeepFool l2 (50 steps, overshoot 0.02, per-example stop in both) vs
torchattacks' ``DeepFool``, also without advgeom's bisection (``refine_steps=0``); FMN (l2 and
l_inf, ``--fmn-steps``, the same step sizes and gamma) vs Foolbox's ``L2FMNAttack`` /
``LInfFMNAttack``; DeepFool's candidate gradients on a 10-class version of the net, one backward
per class (what ``deepfool`` does) vs one vmapped backward (``jacobian``); APGD-CE l_inf at
``--apgd-eps`` (``--steps`` iterations, one restart, no early stop) vs torchattacks' ``APGD``,
plus advgeom with early stop; the standard evaluation (``--attacks evaluate``: APGD-CE, APGD-T,
FAB-T, Square) vs the same ensemble of torchattacks' attacks at AutoAttack's settings (100 steps;
equal work) and vs torchattacks' ``AutoAttack(version="standard")`` as shipped (10 steps), on a
10-class CNN (the
ensemble's targeted DLR needs >= 4 classes, which the sphere net does not have), no warm-up
round (one evaluation is long). Each table also prints what the attack
found (median distance, or robust accuracy), so speed is never bought with strength.

Usage:
    python benchmarks/attacks.py                       # batch 500 and 10,000, 50 steps, CPU
    python benchmarks/attacks.py --batch 500 --repeats 7
    python benchmarks/attacks.py --device cuda         # adds CUDA graph / TF32 / bf16 variants
    python benchmarks/attacks.py --batch 500 --attacks deepfool jacobian fmn apgd --repeats 5
    python benchmarks/attacks.py --batch 500 --attacks deepfool fmn --net cnn --repeats 5
    python benchmarks/attacks.py --attacks evaluate --eval-repeats 3

Prints one table per batch size: median and min time per attack run, and ``speed vs fastest
peer`` = (fastest peer's median) / (this row's median): >= 1.0 means at least as fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from _timing import describe, measure, report
from torch import Tensor, nn

from advgeom.attacks import apgd, deepfool, evaluate, fmn, pgd
from advgeom.models import ReLUMLP

PEERS = ("torchattacks", "foolbox")


class TwoLogits(nn.Module):
    """One logit z -> logits [0, z], so every tool can use softmax cross-entropy."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        z = self.net(x)
        return torch.cat([torch.zeros_like(z), z], dim=1)


def build_model(device: torch.device) -> nn.Module:
    torch.manual_seed(0)  # the benchmark script's own seed, not library code
    net = ReLUMLP(in_features=500, hidden=1000, depth=2, out_features=1, batch_norm=True)
    return TwoLogits(net).to(device).eval()


def sphere_points(batch: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Points on the spheres of radius 1 and 1.3 in R^500, shifted into [0, 1]; label 1 = outer."""
    g = torch.Generator().manual_seed(batch)
    x = torch.randn(batch, 500, generator=g)
    y = torch.randint(0, 2, (batch,), generator=g)
    radius = torch.where(y == 1, 1.3, 1.0)
    x = (0.5 + x / x.norm(dim=1, keepdim=True) * radius[:, None]).clamp(0, 1)
    return x.to(device), y.to(device)


def plain_loop(model, x, y, *, eps: float, step: float, steps: int) -> Tensor:
    """The shortest correct PGD l_inf loop: what any hand-written attack costs."""
    lo, hi = (x - eps).clamp(min=0), (x + eps).clamp(max=1)
    xa = x.clone()
    for _ in range(steps):
        xa.requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(xa), y), xa)
        xa = torch.min(torch.max(xa.detach() + step * g.sign(), lo), hi)
    with torch.no_grad():
        return model(xa).argmax(1) != y


def runners(model, x, y, *, eps, step, steps, device, variants) -> dict[str, Callable[[], Tensor]]:
    """Each entry runs one full attack and returns the (batch,) success mask."""
    kw = dict(eps=eps, norm="linf", steps=steps, step_size=step, bounds=(0.0, 1.0))
    out: dict[str, Callable[[], Tensor]] = {
        "plain loop": lambda: plain_loop(model, x, y, eps=eps, step=step, steps=steps),
        "advgeom": lambda: pgd(model, x, y, **kw).success,
    }
    extra = {
        "advgeom cuda-graph": dict(cuda_graph=True),
        "advgeom tf32": dict(precision="tf32"),
        "advgeom bf16": dict(precision="bf16"),
        "advgeom cuda-graph+bf16": dict(cuda_graph=True, precision="bf16"),
    }
    for name, opts in extra.items():
        if name.removeprefix("advgeom ") in variants:
            out[name] = lambda opts=opts: pgd(model, x, y, **kw, **opts).success
    out.update(peer_runners(model, x, y, eps=eps, step=step, steps=steps, device=device))
    return out


def peer_runners(model, x, y, *, eps, step, steps, device) -> dict[str, Callable[[], Tensor]]:
    out: dict[str, Callable[[], Tensor]] = {}
    try:
        import torchattacks

        atk = torchattacks.PGD(model, eps=eps, alpha=step, steps=steps, random_start=False)

        def run_torchattacks() -> Tensor:
            adv = atk(x, y)
            with torch.no_grad():
                return model(adv).argmax(1) != y

        out["torchattacks"] = run_torchattacks
    except ImportError:
        print("torchattacks not installed: pip install 'advgeom[bench]'")
    try:
        import foolbox as fb

        fmodel = fb.PyTorchModel(model, bounds=(0, 1), device=device)
        fb_atk = fb.attacks.LinfPGD(abs_stepsize=step, steps=steps, random_start=False)
        out["foolbox"] = lambda: fb_atk(fmodel, x, y, epsilons=[eps])[2][0]
    except ImportError:
        print("foolbox not installed: pip install 'advgeom[bench]'")
    return out


def equal_work(args, device, model) -> None:
    for batch in args.batch:
        x, y = sphere_points(batch, device)
        fns = runners(
            model,
            x,
            y,
            eps=args.eps,
            step=args.eps / 10,
            steps=args.steps,
            device=device,
            variants=args.variants,
        )
        # Large batches: fewer rounds, and no warm-up round (every tool is already warm from the
        # smaller batch, and one round at batch 10,000 costs minutes on a 2-core CPU).
        large = batch > 1000 and device.type == "cpu"
        repeats = args.repeats_large if large else args.repeats
        times = measure(fns, repeats, device, warmup=not large)
        title = f"PGD l_inf, {args.steps} steps, batch {batch}, equal work ({repeats} repeats)"
        report(title, times, PEERS)


def early_stop(args, device, model) -> None:
    """Most examples break within a few steps: early stop vs the full-length run."""
    x, _ = sphere_points(args.batch[0], device)
    with torch.no_grad():
        y = model(x).argmax(1)
    eps, step = args.es_eps, args.es_eps / 10
    kw = dict(eps=eps, norm="linf", steps=args.steps, step_size=step, bounds=(0.0, 1.0))
    res = pgd(model, x, y, early_stop=True, **kw)
    s = res.steps_to_success[res.success].float()
    print(
        f"\nEarly stop (batch {x.shape[0]}, eps {eps}): {res.success.float().mean():.0%} broken, "
        f"median step {s.median().item() if s.numel() else float('nan'):.0f}, "
        f"{(res.steps_to_success.clamp(min=0) <= 5).logical_and(res.success).float().mean():.0%}"
        " by step 5"
    )
    fns = {
        "advgeom full length": lambda: pgd(model, x, y, **kw).success,
        "advgeom early_stop": lambda: pgd(model, x, y, early_stop=True, **kw).success,
    }
    report(
        "PGD l_inf with early stop", measure(fns, args.repeats, device), ("advgeom full length",)
    )


def _median_distance(model, x, y, adv: Tensor, norm: str) -> float:
    """Median over all examples of ||adv - x|| (inf where adv is not adversarial)."""
    with torch.no_grad():
        broken = model(adv).argmax(1) != y
    flat = (adv - x).flatten(1)
    d = flat.norm(dim=1) if norm == "l2" else flat.abs().amax(1)
    return torch.where(broken, d, torch.inf).median().item()


def _clean_points(args, device, model) -> tuple[Tensor, Tensor]:
    """The sphere points for the ReLU net, uniform 1 x 16 x 16 images for the CNN (``--net``)."""
    if args.net == "cnn":
        g = torch.Generator().manual_seed(args.batch[0])
        x = torch.rand(args.batch[0], 1, 16, 16, generator=g).to(device)
    else:
        x, _ = sphere_points(args.batch[0], device)
    with torch.no_grad():
        return x, model(x).argmax(1)


def bench_deepfool(args, device, model) -> None:
    x, y = _clean_points(args, device, model)
    kw = dict(norm="l2", steps=50, overshoot=0.02, bounds=(0.0, 1.0))
    found: dict[str, float] = {}

    def ours(name: str, **opts):
        def run() -> Tensor:
            res = deepfool(model, x, y, **kw, **opts)
            found[name] = res.distance.median().item()
            return res.success
        return run

    fns = {"advgeom": ours("advgeom"),
           "advgeom refine_steps=0": ours("advgeom refine_steps=0", refine_steps=0)}
    try:
        import torchattacks

        atk = torchattacks.DeepFool(model, steps=50, overshoot=0.02)

        def theirs() -> Tensor:
            adv = atk(x, y)
            found["torchattacks"] = _median_distance(model, x, y, adv, "l2")
            with torch.no_grad():
                return model(adv).argmax(1) != y

        fns["torchattacks"] = theirs
    except ImportError:
        print("torchattacks not installed: see benchmarks/README.md")
    times = measure(fns, args.repeats, device)
    title = f"DeepFool l2, {args.net} net, batch {x.shape[0]} ({args.repeats} repeats)"
    report(title, times, ("torchattacks",))
    print("median l2 distance: " + ", ".join(f"{k} {v:.4f}" for k, v in found.items()))


def bench_jacobian(args, device, _model) -> None:
    """DeepFool's candidate gradients on a 10-class net: one backward per class (what deepfool
    does) vs one vmapped backward (``is_grads_batched``)."""
    from advgeom.attacks.deepfool import _linearize

    torch.manual_seed(1)  # the benchmark script's own seed, not library code
    net = ReLUMLP(in_features=500, hidden=1000, depth=2, out_features=10, batch_norm=True)
    net = net.to(device).eval()
    x, _ = sphere_points(args.batch[0], device)
    with torch.no_grad():
        y = net(x).argmax(1)
    cand = torch.stack([y, *[(y + j) % 10 for j in range(1, 10)]], dim=1)

    def batched() -> Tensor:
        xa = x.clone().requires_grad_(True)
        z = net(xa)
        diff = z.gather(1, cand[:, 1:]) - z.gather(1, cand[:, :1])
        basis = torch.eye(9, dtype=diff.dtype, device=device).unsqueeze(1).expand(9, *diff.shape)
        return torch.autograd.grad(diff, xa, basis, is_grads_batched=True)[0].transpose(0, 1)

    fns = {"batched backward": batched,
           "one backward per class": lambda: _linearize(net, x, y, cand, 10, grad=True)[3]}
    times = measure(fns, args.repeats, device)
    title = f"DeepFool candidate gradients, 10 classes (9 rows), batch {x.shape[0]}"
    report(title, times, ("one backward per class",))


def bench_fmn(args, device, model) -> None:
    x, y = _clean_points(args, device, model)
    for norm in ("l2", "linf"):
        found: dict[str, float] = {}

        def ours(norm=norm, found=found) -> Tensor:
            res = fmn(model, x, y, norm=norm, steps=args.fmn_steps, bounds=(0.0, 1.0))
            found["advgeom"] = res.distance.median().item()
            return res.success

        fns = {"advgeom": ours}
        try:
            import foolbox as fb

            cls = fb.attacks.L2FMNAttack if norm == "l2" else fb.attacks.LInfFMNAttack
            atk, fmodel = cls(steps=args.fmn_steps), fb.PyTorchModel(model, bounds=(0, 1))

            def theirs(atk=atk, fmodel=fmodel, norm=norm, found=found) -> Tensor:
                adv = atk(fmodel, x, y, epsilons=None)[0]
                found["foolbox"] = _median_distance(model, x, y, adv, norm)
                with torch.no_grad():
                    return model(adv).argmax(1) != y

            fns["foolbox"] = theirs
        except ImportError:
            print("foolbox not installed: see benchmarks/README.md")
        times = measure(fns, args.repeats, device)
        title = (f"FMN {norm}, {args.fmn_steps} steps, {args.net} net, batch {x.shape[0]} "
                 f"({args.repeats} repeats)")
        report(title, times, ("foolbox",))
        print(f"median {norm} distance: " + ", ".join(f"{k} {v:.4f}" for k, v in found.items()))


def bench_apgd(args, device, model) -> None:
    x, y = _clean_points(args, device, model)
    # torchattacks' APGD needs (batch, C, H, W): every tool gets the same 4-D view.
    x, model = x.view(x.shape[0], 1, 1, -1), nn.Sequential(nn.Flatten(), model).eval()
    eps, acc = args.apgd_eps, {}
    kw = dict(eps=eps, norm="linf", loss="ce", steps=args.steps, bounds=(0.0, 1.0))

    def ours(early: bool):
        def run() -> Tensor:
            res = apgd(model, x, y, early_stop=early, generator=torch.Generator().manual_seed(0),
                       **kw)
            acc["advgeom early_stop" if early else "advgeom"] = res.robust_accuracy
            return res.success
        return run

    fns = {"advgeom": ours(False), "advgeom early_stop": ours(True)}
    try:
        import torchattacks

        atk = torchattacks.APGD(model, norm="Linf", eps=eps, steps=args.steps, loss="ce", seed=0)

        def theirs() -> Tensor:
            adv = atk(x, y)
            with torch.no_grad():
                broken = model(adv).argmax(1) != y
            acc["torchattacks"] = 1 - broken.float().mean().item()
            return broken

        fns["torchattacks"] = theirs
    except ImportError:
        print("torchattacks not installed: see benchmarks/README.md")
    times = measure(fns, args.repeats, device)
    title = f"APGD-CE l_inf eps {eps:.4f}, {args.steps} steps, batch {x.shape[0]}"
    report(f"{title} ({args.repeats} repeats)", times, ("torchattacks",))
    print("robust accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))


def small_cnn(device: torch.device) -> nn.Module:
    """A 10-class CNN on 1 x 16 x 16 inputs: the evaluation needs >= 4 classes (targeted DLR)."""
    torch.manual_seed(0)  # the benchmark script's own seed, not library code
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(), nn.Flatten(), nn.Linear(32 * 8 * 8, 10),
    ).to(device).eval()


def bench_evaluate(args, device, _model) -> None:
    model = small_cnn(device)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(args.eval_batch, 1, 16, 16, generator=g).to(device)
    with torch.no_grad():
        y = model(x).argmax(1)
    eps, acc = args.eval_eps, {}

    def ours() -> Tensor:
        r = evaluate(model, x, y, eps=eps, norm="linf", bounds=(0.0, 1.0))
        acc["advgeom"] = r.robust_accuracy
        return r.robust

    fns = {"advgeom": ours}
    try:
        import torchattacks

        shipped = torchattacks.AutoAttack(model, norm="Linf", eps=eps, version="standard",
                                          n_classes=10, seed=0)
        # torchattacks' "standard" keeps APGD's, APGD-T's and FAB's default 10 steps; AutoAttack
        # (and advgeom) run 100. Equal work is the same ensemble at the reference's settings.
        kw = dict(eps=eps, norm="Linf", seed=0, n_restarts=1)
        reference = torchattacks.MultiAttack([
            torchattacks.APGD(model, steps=100, loss="ce", **kw),
            torchattacks.APGDT(model, steps=100, n_classes=10, **kw),
            torchattacks.FAB(model, steps=100, multi_targeted=True, n_classes=10, **kw),
            torchattacks.Square(model, n_queries=5000, **kw),
        ])

        def theirs(atk, name):
            def run() -> Tensor:
                adv = atk(x, y)
                with torch.no_grad():
                    robust = model(adv).argmax(1) == y
                acc[name] = robust.float().mean().item()
                return robust
            return run

        fns["torchattacks 100 steps"] = theirs(reference, "torchattacks 100 steps")
        fns["torchattacks AutoAttack"] = theirs(shipped, "torchattacks AutoAttack")
    except ImportError:
        print("torchattacks not installed: see benchmarks/README.md")
    times = measure(fns, args.eval_repeats, device, warmup=False)
    title = (f"standard evaluation (APGD-CE, APGD-T, FAB-T, Square) l_inf eps {eps:.4f}, "
             f"10-class CNN, batch {x.shape[0]}")
    report(f"{title} ({args.eval_repeats} repeats)", times, ("torchattacks 100 steps",))
    print("robust accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--batch", type=int, nargs="+", default=[500, 10_000])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=7, help="rounds at batch <= 1000")
    p.add_argument("--repeats-large", type=int, default=2, help="rounds at batch > 1000 on CPU")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--eps", type=float, default=8 / 255)
    p.add_argument("--es-eps", type=float, default=0.1, help="eps of the early-stop comparison")
    p.add_argument(
        "--variants",
        nargs="*",
        default=None,
        help="extra advgeom rows: cuda-graph tf32 bf16 cuda-graph+bf16 "
        "(default: all on CUDA, none on CPU)",
    )
    p.add_argument("--no-early-stop", action="store_true")
    p.add_argument("--attacks", nargs="+", default=["pgd", "early-stop"],
                   choices=["pgd", "early-stop", "deepfool", "jacobian", "fmn", "apgd",
                            "evaluate"],
                   help="comparisons to run (default: pgd early-stop)")
    p.add_argument("--net", choices=["relu", "cnn"], default="relu",
                   help="the model of the DeepFool and FMN comparisons: the ReLU-h1000-d2 sphere "
                   "net or the 10-class CNN on 1 x 16 x 16 images")
    p.add_argument("--fmn-steps", type=int, default=100)
    p.add_argument("--apgd-eps", type=float, default=0.045,
                   help="APGD radius (default 0.045: about the untrained net's median l_inf "
                   "distance, so about half the examples break)")
    p.add_argument("--eval-batch", type=int, default=200, help="examples of the evaluation")
    p.add_argument("--eval-eps", type=float, default=0.01, help="l_inf radius of the evaluation")
    p.add_argument("--eval-repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.variants is None:
        args.variants = (
            ["cuda-graph", "tf32", "bf16", "cuda-graph+bf16"] if device.type == "cuda" else []
        )
    describe(device, PEERS)
    if args.net == "cnn" and set(args.attacks) - {"deepfool", "fmn", "evaluate"}:
        p.error("--net cnn applies to --attacks deepfool fmn evaluate only")
    model = build_model(device) if args.net == "relu" else small_cnn(device)
    if "pgd" in args.attacks:
        equal_work(args, device, model)
    if "early-stop" in args.attacks and not args.no_early_stop:
        early_stop(args, device, model)
    benches = {"deepfool": bench_deepfool, "jacobian": bench_jacobian, "fmn": bench_fmn,
               "apgd": bench_apgd, "evaluate": bench_evaluate}
    for name, bench in benches.items():
        if name in args.attacks:
            bench(args, device, model)


if __name__ == "__main__":
    main()
