"""Badger's fully connected GELU autoencoders, with and without a bottleneck (App. 7).

- ``"none"``: no bottleneck, every hidden layer as wide as the input (the authors' 784 x 6);
- ``"8x"``: hidden widths 2000-1000-500-250-500-1000-2000 (largest / smallest = 8);
- ``"16x"``: 2000-1000-500-250-166-125-166-250-500-1000-2000 (largest / smallest = 16).

As in the authors' code the funnels put a LayerNorm after the first hidden GELU and the
no-bottleneck model has none; no residual connections. Trained on MSE reconstruction.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from advgeom.errors import InputError, check_choice, check_int, check_positive
from advgeom.models.funnel import check_widths

FUNNELS = {
    "8x": (2000, 1000, 500, 250, 500, 1000, 2000),
    "16x": (2000, 1000, 500, 250, 166, 125, 166, 250, 500, 1000, 2000),
}
KINDS = ("none", "8x", "16x")
NO_BOTTLENECK_DEPTH = 6


class MLPAutoencoder(nn.Module):
    """GELU autoencoder ``in -> hidden[0] -> ... -> hidden[-1] -> in``.

    Args:
        in_features: input size; the output has the input's shape.
        hidden: hidden widths.
        layer_norm: LayerNorm after the first hidden GELU (the authors' funnels).

    Shapes:
        input ``(batch, *shape)`` -> output of the same shape.
    """

    def __init__(
        self, *, in_features: int = 784, hidden: Sequence[int], layer_norm: bool = False
    ) -> None:
        super().__init__()
        in_features = check_int("in_features", in_features, minimum=1)
        hidden = check_widths("hidden", hidden)
        layers: list[nn.Module] = []
        width = in_features
        for k, h in enumerate(hidden):
            layers += [nn.Linear(width, h), nn.GELU()]
            if layer_norm and k == 0:
                layers.append(nn.LayerNorm(h))
            width = h
        layers.append(nn.Linear(width, in_features))
        self.net = nn.Sequential(*layers)
        self.in_features, self.hidden, self.layer_norm = in_features, hidden, layer_norm

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).view_as(x)

    @property
    def compression(self) -> float:
        """Input size over the narrowest hidden width (the paper's "compression ratio")."""
        return self.in_features / min(self.hidden)


def autoencoder_widths(kind: str, *, in_features: int, width_scale: float = 1.0) -> tuple:
    """Hidden widths of an autoencoder kind, funnels scaled by ``width_scale`` (>= 1 unit)."""
    check_choice("kind", kind, KINDS)
    if kind == "none":
        return (in_features,) * NO_BOTTLENECK_DEPTH
    width_scale = check_positive("width_scale", width_scale)
    return tuple(max(1, round(w * width_scale)) for w in FUNNELS[kind])


def autoencoder(kind: str, *, in_features: int = 784, width_scale: float = 1.0) -> MLPAutoencoder:
    """The paper's autoencoder ``kind`` ("none", "8x", "16x") for inputs of ``in_features``.

    ``width_scale`` shrinks the funnels' widths (e.g. ``in_features / 784`` keeps the paper's
    input-to-narrowest ratios on smaller images); the no-bottleneck model is always as wide as
    its input.
    """
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(map(repr, KINDS))} (got {kind!r})")
    hidden = autoencoder_widths(kind, in_features=in_features, width_scale=width_scale)
    return MLPAutoencoder(in_features=in_features, hidden=hidden, layer_norm=kind != "none")
