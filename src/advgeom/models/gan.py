"""Badger's fully connected GAN (Sec. 5; the authors' Fashion-MNIST script).

Generator ``100 -> 256 -> 512 -> 1024 -> 784`` (ReLU, tanh output) and discriminator
``784 -> 1024 -> 512 -> 256 -> 1`` (ReLU, sigmoid output), trained with binary cross-entropy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from advgeom.errors import check_int
from advgeom.models.funnel import check_widths

GENERATOR_HIDDEN = (256, 512, 1024)
DISCRIMINATOR_HIDDEN = (1024, 512, 256)


def _relu_stack(widths: Sequence[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return layers


class Generator(nn.Sequential):
    """Maps latent codes to images in [-1, 1].

    Args:
        latent_features: size of the latent code z (the paper's 100).
        hidden: hidden widths (256, 512, 1024).
        out_features: flattened image size (784).

    Shapes:
        ``(batch, latent_features)`` -> ``(batch, out_features)``.
    """

    def __init__(
        self,
        *,
        latent_features: int = 100,
        hidden: Sequence[int] = GENERATOR_HIDDEN,
        out_features: int = 784,
    ) -> None:
        latent_features = check_int("latent_features", latent_features, minimum=1)
        out_features = check_int("out_features", out_features, minimum=1)
        hidden = check_widths("hidden", hidden)
        widths = (latent_features, *hidden)
        super().__init__(*_relu_stack(widths), nn.Linear(widths[-1], out_features), nn.Tanh())
        self.latent_features, self.hidden, self.out_features = latent_features, hidden, out_features


class Discriminator(nn.Module):
    """Probability that an image is real; :meth:`logit` gives the pre-sigmoid value.

    Args:
        in_features: flattened image size (784); images are flattened.
        hidden: hidden widths (1024, 512, 256).

    Shapes:
        ``(batch, *shape)`` -> ``(batch, 1)`` in (0, 1).
    """

    def __init__(
        self, *, in_features: int = 784, hidden: Sequence[int] = DISCRIMINATOR_HIDDEN
    ) -> None:
        super().__init__()
        in_features = check_int("in_features", in_features, minimum=1)
        hidden = check_widths("hidden", hidden)
        widths = (in_features, *hidden)
        self.net = nn.Sequential(nn.Flatten(), *_relu_stack(widths), nn.Linear(widths[-1], 1))
        self.in_features, self.hidden = in_features, hidden

    def logit(self, x: Tensor) -> Tensor:
        """Pre-sigmoid output, (batch, 1) (train with BCE on logits: it is stabler)."""
        return self.net(x)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.logit(x))
