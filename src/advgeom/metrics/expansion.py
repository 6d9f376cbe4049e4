"""Neighbourhood expansion along an adversarial and a random direction (Badger, Eq. 3-6).

For a model O and a step eta:

- ``e_a = ||O(x) - O(x_a)||_1 / ||x - x_a||_1`` with ``x_a = x + eta * sign(grad_x L)`` (Eq. 3-4);
- ``e_n = ||O(x) - O(x')||_1 / ||x - x'||_1`` with ``x' = x + eta * z``, ``z ~ N(0, I)`` (Eq. 5);
- ``r = e_a / e_n`` (Eq. 6), the expansion along the gradient relative to a random direction.

A smooth model has finite limits of e_a, e_n and r as eta -> 0 (the Jacobian takes over), so r
growing without bound as eta -> 0 signals an (approximate) discontinuity, or rounding: in float32
a step of 1e-7 on a pixel near 1 is below the spacing of representable numbers. The measures are
therefore computed in a chosen dtype (float32 or float64) and every norm is taken of the
perturbation as actually stored, ``x_a - x``, not of the intended ``eta * sign(g)``. Outputs that
did not change at all (the step rounded away) are counted, not divided by.

Two directions for x_a: ``direction="loss"`` (Eq. 3, the gradient of the training loss) or
``"summed_output"`` (the gradient of the summed outputs, which is what the authors' classifier
and generator scripts step along). Note that in the authors' autoencoder, GAN and diffusion
scripts the noise terms of Eq. 6 cancel, so their curves show e_a, not r: both are returned.

Reconstruction (``y=None`` with ``loss="mse"``): Eq. 3 differentiates ``L(O(x), y)`` through the
model's output with the target y held fixed, so the target is the input *as a constant*
(gradient ``J^T dL/dO``). The authors' autoencoder script passes the input tensor that requires
grad as its own target, so its gradient also flows through the target (``(J - I)^T dL/dO`` for
MSE); ``target_grad=True`` reproduces that variant.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from advgeom.attacks.losses import LossFn, resolve_loss
from advgeom.errors import InputError, check_choice, check_int, check_positive
from advgeom.tensors import eval_mode

DEFAULT_ETAS = tuple(10.0**-k for k in range(8))  # 1 ... 1e-7, as in the authors' scripts
PAPER_RANGE = (1e-1, 1e-5)  # Sec. 4: "the eta range that is pertinent ... 1e-1 < eta < 1e-5"
DIRECTIONS = ("loss", "summed_output")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Expansion:
    """Per-example expansions over a grid of steps.

    Attributes:
        etas: (n_eta,) step sizes.
        e_a: (batch, n_eta) adversarial expansion (Eq. 4); NaN where the step was rounded away.
        e_n: (batch, n_eta, draws) random expansion (Eq. 5), one column per Gaussian draw.
        adv_unchanged: (batch, n_eta) bool, the output did not change along the FGSM step.
        noise_unchanged: (batch, n_eta, draws) bool, the output did not change along the draw.
        adv_output_l1, adv_input_l1: (batch, n_eta) the norms of Eq. 4.
        noise_output_l1, noise_input_l1: (batch, n_eta, draws) the norms of Eq. 5.
    """

    etas: Tensor
    e_a: Tensor
    e_n: Tensor
    adv_unchanged: Tensor
    noise_unchanged: Tensor
    adv_output_l1: Tensor
    adv_input_l1: Tensor
    noise_output_l1: Tensor
    noise_input_l1: Tensor

    @property
    def r(self) -> Tensor:
        """(batch, n_eta, draws) ``e_a / e_n`` (Eq. 6); inf/NaN where an output was unchanged."""
        return self.e_a.unsqueeze(-1) / self.e_n

    def summary(self) -> dict:
        """Averages over inputs per eta, as plain lists (one entry per eta).

        ``r`` is the mean over inputs and draws of the per-example ratio, among pairs where both
        outputs changed; ``r_draws`` that mean for each draw (the paper plots one line per draw);
        ``r_pooled`` the authors' batch form ``sum ||dO_a|| * sum ||dx_n|| / (sum ||dO_n|| *
        sum ||dx_a||)`` averaged over draws; ``e_a``, ``e_n`` means over changed outputs;
        ``unchanged_adv``, ``unchanged_noise`` the shares of steps rounded away. Means with
        nothing to average are None.
        """
        r = self.r
        ok = torch.isfinite(r) & (r > 0)
        draws = r.shape[-1]
        r_draws = [_mean(r[..., k], ok[..., k]) for k in range(draws)]
        pooled = (self.adv_output_l1.sum(0).unsqueeze(-1) * self.noise_input_l1.sum(0)) / (
            self.noise_output_l1.sum(0) * self.adv_input_l1.sum(0).unsqueeze(-1)
        )
        return {
            "eta": self.etas.tolist(),
            "e_a": _nan_to_none(_mean(self.e_a, torch.isfinite(self.e_a))),
            "e_n": _nan_to_none(_mean(_per_draw(self.e_n), _per_draw(torch.isfinite(self.e_n)))),
            "r": _nan_to_none(_mean(_per_draw(r), _per_draw(ok))),
            "r_draws": [_nan_to_none(v) for v in torch.stack(r_draws, dim=1)],
            "r_pooled": _nan_to_none(pooled.mean(-1)),
            "unchanged_adv": self.adv_unchanged.double().mean(0).tolist(),
            "unchanged_noise": self.noise_unchanged.double().mean((0, 2)).tolist(),
        }


def _per_draw(v: Tensor) -> Tensor:
    """(batch, n_eta, draws) -> (batch * draws, n_eta): draws counted as more inputs."""
    return v.transpose(1, 2).flatten(0, 1)


def _mean(v: Tensor, ok: Tensor) -> Tensor:
    """Mean over dim 0 of the entries where ``ok`` (NaN where none)."""
    v = torch.where(ok, v, torch.zeros_like(v)).double()
    count = ok.sum(0).double()
    return torch.where(count > 0, v.sum(0) / count.clamp(min=1), torch.nan)


def _nan_to_none(v: Tensor) -> list:
    return [x if x == x and abs(x) != float("inf") else None for x in v.double().tolist()]


@contextlib.contextmanager
def _mode(model: Callable, keep_mode: bool) -> Iterator[None]:
    if keep_mode:
        yield
    else:
        with eval_mode(model):
            yield


def as_dtype(model: Callable, dtype: torch.dtype) -> Callable:
    """A copy of ``model`` whose parameters and buffers are ``dtype`` (the model itself when it
    already is, or when it is not an ``nn.Module``: a plain callable must handle the dtype)."""
    if not isinstance(model, nn.Module):
        return model
    tensors = [*model.parameters(), *model.buffers()]
    if all(t.dtype == dtype for t in tensors if t.is_floating_point()):
        return model
    return copy.deepcopy(model).to(dtype)


def _direction(
    model: Callable,
    x: Tensor,
    y: Tensor | None,
    loss: str | LossFn | None,
    direction: str,
    target_grad: bool = False,
) -> Tensor:
    """sign of the gradient of the loss (or of the summed outputs) at x, per example.

    With ``y=None`` the target is the input: a constant (Eq. 3) unless ``target_grad``, where
    the gradient also flows through it (the authors' autoencoder script).
    """
    xa = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = model(xa)
        if direction == "summed_output":
            total = out.sum()
        else:
            target = y if y is not None else (xa if target_grad else x)
            total = resolve_loss(loss, out)(out, target).sum()
        (grad,) = torch.autograd.grad(total, xa)
    return grad.sign()


def _l1(v: Tensor) -> Tensor:
    return v.flatten(1).abs().sum(dim=1)


def _ratio(d_out: Tensor, d_in: Tensor) -> Tensor:
    """``d_out / d_in``, NaN where the output did not change (nothing measured)."""
    return torch.where(d_out > 0, d_out / d_in, torch.nan)


@torch.no_grad()
def expansion(
    model: Callable[[Tensor], Tensor],
    x: Tensor,
    y: Tensor | None = None,
    *,
    etas: Sequence[float] = DEFAULT_ETAS,
    draws: int = 4,
    loss: str | LossFn | None = None,
    direction: str = "loss",
    dtype: str = "float32",
    generator: torch.Generator | None = None,
    keep_mode: bool = False,
    target_grad: bool = False,
) -> Expansion:
    """e_a (Eq. 4), e_n (Eq. 5) and their ratio r (Eq. 6) for each input and step eta.

    Args:
        model: maps (batch, *input_shape) to (batch, ...) outputs; evaluated in one pass per
            step (split large sets yourself and concatenate).
        x: (batch, *input_shape) inputs.
        y: labels or targets for the loss; None with ``loss="mse"`` means the input itself
            (autoencoder reconstruction). Unused for ``direction="summed_output"``.
        etas: step sizes (> 0), e.g. 1 ... 1e-7.
        draws: Gaussian draws per input and step (the same draw z is scaled by every eta;
            drawn in float32 and cast, so both dtypes see the same directions for one seed).
        loss: "cross_entropy", "binary_cross_entropy", "mse", a callable ``(output, y) ->
            (batch,)``, or None to infer from the output (see :mod:`advgeom.attacks.losses`).
        direction: "loss" (FGSM, Eq. 3) or "summed_output" (the authors' classifier script).
        dtype: "float32" or "float64"; an ``nn.Module`` is copied to it, x and y are cast.
        generator: source of the Gaussian draws (on x's device, or the CPU).
        keep_mode: leave the modules' train/eval modes as they are (e.g. dropout left on);
            by default the model runs in eval mode.
        target_grad: with ``y=None``, differentiate through the target (the input) as well,
            as the authors' autoencoder script does; by default the target is held fixed, as
            in Eq. 3 (``grad_x L(O(x), y)`` with y a constant).

    Returns:
        :class:`Expansion` (per-example tensors on x's device, in ``dtype``).
    """
    check_choice("direction", direction, DIRECTIONS)
    check_choice("dtype", dtype, tuple(DTYPES))
    draws = check_int("draws", draws, minimum=1)
    if not etas:
        raise InputError("etas must hold at least one step size")
    eta_t = torch.tensor([check_positive("etas", e) for e in etas], dtype=torch.float64)
    if not isinstance(x, Tensor) or x.dim() < 2 or not x.is_floating_point():
        raise InputError("x must be a float tensor (batch, *input_shape)")
    dt = DTYPES[dtype]
    model = as_dtype(model, dt)
    x = x.to(dt)
    if y is not None and y.is_floating_point():
        y = y.to(dt)
    with _mode(model, keep_mode):
        sign = _direction(model, x, y, loss, direction, target_grad)
        out = model(x)
        # Drawn in float32 whatever the dtype, so a float32 and a float64 run with the same
        # seed step along the very same directions.
        z = torch.randn(
            (draws, *x.shape),
            generator=generator,
            device=generator.device if generator is not None else x.device,
        )
        z = z.to(device=x.device, dtype=dt)
        cols = [_one_step(model, x, out, sign, z, float(e)) for e in eta_t]
    fields = [torch.stack(c, dim=1) for c in zip(*cols, strict=True)]
    a_out, a_in, n_out, n_in = fields
    return Expansion(
        etas=eta_t,
        e_a=_ratio(a_out, a_in),
        e_n=_ratio(n_out, n_in),
        adv_unchanged=a_out == 0,
        noise_unchanged=n_out == 0,
        adv_output_l1=a_out,
        adv_input_l1=a_in,
        noise_output_l1=n_out,
        noise_input_l1=n_in,
    )


def _one_step(
    model: Callable, x: Tensor, out: Tensor, sign: Tensor, z: Tensor, eta: float
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Output and input L1 changes along the FGSM step and along each draw, at one eta."""
    x_a = x + eta * sign
    a_out, a_in = _l1(model(x_a) - out), _l1(x_a - x)
    n_out, n_in = [], []
    for zk in z:
        x_n = x + eta * zk
        n_out.append(_l1(model(x_n) - out))
        n_in.append(_l1(x_n - x))
    return a_out, a_in, torch.stack(n_out, dim=1), torch.stack(n_in, dim=1)


__all__ = ["DEFAULT_ETAS", "DIRECTIONS", "PAPER_RANGE", "Expansion", "as_dtype", "expansion"]
