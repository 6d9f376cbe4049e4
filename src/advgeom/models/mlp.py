"""The two sphere networks of Gilmer et al. (2018), "Adversarial Spheres".

- :class:`ReLUMLP`: the fully connected ReLU network of section 3 ("ReLU-h1000-d2": two hidden
  layers of 1000 units with batch-norm on the hidden layers, not on the read-out).
- :class:`QuadraticNet`: the quadratic network of section 4, ``y = w * sum((W1 x)^2) + b``, whose
  decision boundary is the ellipsoid ``sum_i alpha_i z_i^2 = 1`` with ``alpha_i = w s_i^2 / (-b)``.

Both output one logit per example, shape ``(batch, 1)``; the label is 1 when the logit is positive
(outer sphere) and 0 otherwise, trained with sigmoid cross-entropy.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from advgeom.errors import InputError
from advgeom.theory import quadratic


def _check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum} (got {value!r})")


class ReLUMLP(nn.Sequential):
    """Fully connected ReLU network, optionally with batch-norm after each hidden layer.

    ``ReLUMLP(in_features=500, hidden=1000, depth=2)`` is Gilmer et al.'s "ReLU-h1000-d2".

    Args:
        in_features: input dimension n.
        hidden: width of each hidden layer.
        depth: number of hidden layers (>= 1).
        out_features: number of outputs (1: one logit for a binary task).
        batch_norm: batch-norm after each hidden linear layer (before the ReLU).

    Shapes:
        input ``(batch, in_features)`` -> output ``(batch, out_features)``.
    """

    def __init__(
        self,
        *,
        in_features: int,
        hidden: int,
        depth: int,
        out_features: int = 1,
        batch_norm: bool = True,
    ) -> None:
        for name, value in (("in_features", in_features), ("hidden", hidden), ("depth", depth)):
            _check_int(name, value, 1)
        _check_int("out_features", out_features, 1)
        layers: list[nn.Module] = []
        width = in_features
        for _ in range(depth):
            # The linear bias is redundant in front of batch-norm, which has its own shift.
            layers.append(nn.Linear(width, hidden, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(nn.ReLU())
            width = hidden
        layers.append(nn.Linear(width, out_features))
        super().__init__(*layers)
        self.in_features, self.hidden, self.depth = in_features, hidden, depth
        self.out_features, self.batch_norm = out_features, batch_norm


class QuadraticNet(nn.Module):
    """Gilmer et al.'s quadratic network: ``logit(x) = w * sum_j ((W1 x)_j)^2 + b``.

    Initialised with ``W1 ~ N(0, 1/hidden)`` (so ``sum_j (W1 x)_j^2 ~ ||x||^2``), ``w = 1`` and
    ``b = -1``: the initial boundary is close to the unit sphere, all ``alpha_i`` near 1.

    Args:
        in_features: input dimension n.
        hidden: number of hidden units h.

    Attributes:
        W1: ``(hidden, in_features)`` weight matrix, no bias.
        w: scalar read-out weight (shape ``()``).
        b: scalar bias (shape ``()``), negative for a bounded inner region.

    Shapes:
        input ``(batch, in_features)`` -> output ``(batch, 1)``.
    """

    def __init__(self, *, in_features: int, hidden: int) -> None:
        super().__init__()
        _check_int("in_features", in_features, 1)
        _check_int("hidden", hidden, 1)
        self.in_features, self.hidden = in_features, hidden
        self.W1 = nn.Parameter(torch.randn(hidden, in_features) / math.sqrt(hidden))
        self.w = nn.Parameter(torch.tensor(1.0))
        self.b = nn.Parameter(torch.tensor(-1.0))

    def forward(self, x: Tensor) -> Tensor:
        h = x @ self.W1.T
        return (self.w * h.square().sum(dim=-1) + self.b).unsqueeze(-1)

    @torch.no_grad()
    def alpha(self) -> Tensor:
        """The ellipsoid coefficients ``alpha_i = w s_i^2 / (-b)``, shape ``(in_features,)``.

        ``s_i`` are the singular values of ``W1`` in decreasing order; when ``hidden <
        in_features`` the missing ``n - h`` values are 0 (directions the network cannot see).
        The model is error-free on spheres of radii 1 and R iff every alpha_i is in [1/R^2, 1].
        """
        alpha = quadratic.alphas(self.W1, self.w.item(), self.b.item())
        return torch.from_numpy(alpha).to(self.W1)


@torch.no_grad()
def initialise(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Redraw ``model``'s initial weights from ``generator`` (in place; returns the model).

    Each ``nn.Linear`` gets PyTorch's default (uniform, bound 1/sqrt(fan_in), weight and bias)
    and each :class:`QuadraticNet` its ``W1 ~ N(0, 1/hidden)``; layer-norm is reset to (1, 0)
    and batch-norm keeps its parameters. Drawing
    from an explicit generator makes a model depend on the run's seed alone, not on torch's
    global generator or on how many models were built before it.
    """
    def uniform(p: Tensor, bound: float) -> None:  # drawn where the generator lives
        p.copy_(torch.empty(p.shape, device=generator.device).uniform_(-bound, bound,
                                                                       generator=generator))

    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            bound = 1 / math.sqrt(layer.in_features)
            uniform(layer.weight, bound)
            if layer.bias is not None:
                uniform(layer.bias, bound)
        elif isinstance(layer, nn.LayerNorm) and layer.elementwise_affine:
            nn.init.ones_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, QuadraticNet):
            draw = torch.randn(layer.W1.shape, generator=generator, device=generator.device)
            layer.W1.copy_(draw / math.sqrt(layer.hidden))
    return model
