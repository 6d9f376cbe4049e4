"""Badger's fully connected classifier: widths that halve layer by layer (a funnel).

The authors' script: 784-1000-500-250-125-100 with ReLU, 100 outputs whatever the number of
classes (cross-entropy on 10 classes then uses the first 10 logits). ``dropout > 0`` adds dropout
after every hidden ReLU, for the experiment that leaves it on at evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from advgeom.errors import InputError, check_int

PAPER_HIDDEN = (1000, 500, 250, 125)
PAPER_OUT = 100


def check_widths(name: str, widths: Sequence[int]) -> tuple[int, ...]:
    """``widths`` as a tuple of integers >= 1 (at least one)."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or not widths:
        raise InputError(f"{name} must be a non-empty sequence of widths (got {widths!r})")
    return tuple(check_int(f"{name}[{k}]", w, minimum=1) for k, w in enumerate(widths))


class FunnelClassifier(nn.Sequential):
    """Fully connected ReLU classifier, optionally with dropout after each hidden layer.

    Args:
        in_features: input size (784 for MNIST; 64 for the bundled digits); images are flattened.
        hidden: hidden widths (the paper's 1000, 500, 250, 125).
        out_features: number of logits (the authors' 100).
        dropout: dropout probability after each hidden ReLU (0: none).

    Shapes:
        input ``(batch, *shape)`` with ``prod(shape) == in_features`` -> ``(batch, out_features)``.
    """

    def __init__(
        self,
        *,
        in_features: int = 784,
        hidden: Sequence[int] = PAPER_HIDDEN,
        out_features: int = PAPER_OUT,
        dropout: float = 0.0,
    ) -> None:
        in_features = check_int("in_features", in_features, minimum=1)
        out_features = check_int("out_features", out_features, minimum=1)
        hidden = check_widths("hidden", hidden)
        if not 0 <= dropout < 1:
            raise InputError(f"dropout must be in [0, 1) (got {dropout!r})")
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out_features))
        super().__init__(*layers)
        self.in_features, self.hidden, self.out_features = in_features, hidden, out_features
        self.dropout = dropout
