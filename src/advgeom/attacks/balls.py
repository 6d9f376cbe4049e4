"""The feasible set of an l_p attack, one small object per norm: random start, step, projection.

A gradient attack moves inside ``{x + delta : ||delta||_p <= eps} ∩ [lo, hi]^d``. Everything that
depends on p is here, as in Foolbox's gradient-descent base (one class per norm with
``get_random_start``, ``normalize``, ``project``), so PGD, APGD and FMN share one implementation:

- :meth:`NormBall.sample`: a perturbation uniform in the ball;
- :meth:`NormBall.direction`: the steepest-ascent direction of unit ``norm`` (sign for l_inf,
  the l2-normalised gradient for l2);
- :meth:`NormBall.limits` / :meth:`NormBall.project_`: the per-example tensors a projection needs
  and the in-place projection onto ball ∩ box.

The objects hold no per-example state: :meth:`limits` returns it as a dict of (batch, ...)
tensors, which the early-stop loop re-indexes when it drops finished examples, and which a CUDA
graph keeps as buffers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from advgeom.tensors import TINY, batch_view, lp_norm
from advgeom.tensors import arguments as v

Scalar = float | Tensor
Bounds = tuple[float, float] | None


def draw(kind: str, shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None):
    """Uniform [0, 1) (``kind="uniform"``) or standard normal numbers, ``like``'s dtype and device.

    Drawn on the generator's device, then moved: a CPU generator then also serves CUDA inputs.
    """
    device = generator.device if generator is not None else like.device
    fn = torch.rand if kind == "uniform" else torch.randn
    return fn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def _radius(eps: Scalar, like: Tensor) -> Scalar:
    return batch_view(eps, like) if isinstance(eps, Tensor) else eps


class NormBall:
    """Base of the per-norm balls; ``norm`` names the norm ("linf" or "l2")."""

    norm: str

    def sample(self, x: Tensor, eps: Scalar, generator: torch.Generator | None) -> Tensor:
        """(batch, ...) perturbations uniform in the ball of radius eps (number or (batch,))."""
        raise NotImplementedError

    def direction(self, grad: Tensor) -> Tensor:
        """The step direction of unit ``norm`` that raises a linear loss with gradient ``grad``."""
        raise NotImplementedError

    def limits(self, x: Tensor, eps: Scalar, bounds: Bounds) -> dict[str, Tensor]:
        """The per-example tensors :meth:`project_` reads (batch first)."""
        raise NotImplementedError

    def project_(self, xa: Tensor, lim: dict[str, Tensor], eps: Scalar, bounds: Bounds) -> Tensor:
        """Project ``xa`` onto ball ∩ box in place and return it.

        ``eps`` is the radius as a number, or None when it is a (batch,) tensor in ``lim``.
        """
        raise NotImplementedError

    def project(self, xa: Tensor, lim: dict[str, Tensor], eps: Scalar, bounds: Bounds) -> Tensor:
        """:meth:`project_` on a copy."""
        return self.project_(xa.clone(), lim, eps, bounds)

    def project_delta(self, delta: Tensor, eps: Tensor) -> Tensor:
        """Each row of ``delta`` projected onto the ball of radius eps (batch,), no box."""
        raise NotImplementedError


class LinfBall(NormBall):
    """l_inf: ball and box are both boxes, so their intersection is computed once."""

    norm = "linf"

    def sample(self, x: Tensor, eps: Scalar, generator: torch.Generator | None) -> Tensor:
        return (2 * draw("uniform", tuple(x.shape), x, generator) - 1) * _radius(eps, x)

    def direction(self, grad: Tensor) -> Tensor:
        return grad.sign()

    def limits(self, x: Tensor, eps: Scalar, bounds: Bounds) -> dict[str, Tensor]:
        e = _radius(eps, x)
        lo, hi = x - e, x + e
        if bounds is not None:
            lo.clamp_(min=bounds[0])
            hi.clamp_(max=bounds[1])
        return {"lo": lo, "hi": hi}

    def project_(self, xa: Tensor, lim: dict[str, Tensor], eps: Scalar, bounds: Bounds) -> Tensor:
        return xa.clamp_(min=lim["lo"], max=lim["hi"])

    def project_delta(self, delta: Tensor, eps: Tensor) -> Tensor:
        e = batch_view(eps, delta)
        return torch.maximum(torch.minimum(delta, e), -e)


class L2Ball(NormBall):
    """l2: radial projection onto the ball, then the box.

    Clipping a point of the ball to a box that contains x only shrinks each |delta_i|, so the
    result stays in the ball.
    """

    norm = "l2"

    def sample(self, x: Tensor, eps: Scalar, generator: torch.Generator | None) -> Tensor:
        # Direction uniform on the sphere, radius eps * U^(1/d): uniform in the ball, so
        # E||delta|| = eps d / (d + 1). torchattacks' PGDL2 draws eps * U (mean eps / 2), which
        # piles starts up near the centre of a high-dimensional ball
        # (Harry24k/adversarial-attacks-pytorch#161).
        direction = draw("normal", tuple(x.shape), x, generator)
        direction /= batch_view(lp_norm(direction, "l2").clamp_min(1e-30), x)
        radius = draw("uniform", (x.shape[0],), x, generator).pow(1.0 / x[0].numel())
        return direction * batch_view(radius, x) * _radius(eps, x)

    def direction(self, grad: Tensor) -> Tensor:
        return grad / batch_view(lp_norm(grad, "l2").clamp_min(TINY), grad)

    def limits(self, x: Tensor, eps: Scalar, bounds: Bounds) -> dict[str, Tensor]:
        lim = {"x": x}
        if isinstance(eps, Tensor):
            lim["eps"] = eps
        return lim

    def project_(self, xa: Tensor, lim: dict[str, Tensor], eps: Scalar, bounds: Bounds) -> Tensor:
        x = lim["x"]
        delta = xa - x
        e = lim.get("eps", eps)
        factor = (e / lp_norm(delta, "l2").clamp_min_(TINY)).clamp_(max=1.0)
        torch.addcmul(x, delta, batch_view(factor, xa), out=xa)
        return xa if bounds is None else xa.clamp_(bounds[0], bounds[1])

    def project_delta(self, delta: Tensor, eps: Tensor) -> Tensor:
        factor = (eps / lp_norm(delta, "l2").clamp_min(TINY)).clamp(max=1.0)
        return delta * batch_view(factor, delta)


BALLS: dict[str, NormBall] = {"linf": LinfBall(), "l2": L2Ball()}


def ball(norm: str) -> NormBall:
    """The ball object of ``norm`` ("linf" or "l2"); another name is an InputError."""
    v.check_norm(norm)
    return BALLS[norm]
