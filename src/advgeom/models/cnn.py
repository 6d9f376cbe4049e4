"""Image classifiers of Simon-Gabriel et al. (2019), He-initialised: fully connected, strided CNN,
average-pooling CNN.

- :class:`FCNet`: flatten, ``depth`` hidden ReLU layers, a linear read-out (Theorem 4).
- :class:`StridedCNN`: Sec. 4.1's network, "strided convolution -> batch-norm -> ReLU" layers of
  3x3 kernels and 64 channels, strides [1, 2, 2, ...]; stride-2 layers are added until the feature
  map is ``final_size`` wide, so the read-out sees the same shape whatever the input resolution
  (on 32x32 images: strides [1, 2, 2, 2, 2, 2], the paper's six layers). Corollary 6 covers it.
- :class:`AvgPoolCNN`: the same with each stride-2 convolution replaced by a stride-1 convolution
  followed by 2x2 average pooling (App. B: average pooling dampens the input gradients, because
  its weights do not follow He's variance 2 / fan-in).

He initialisation (assumption H3 of the paper; the authors' ``initialize_params``): every
convolution and linear weight ~ N(0, 2 / fan_in), except the read-out, N(0, 1 / fan_in) (no ReLU
follows it); biases 0; batch-norm scale 1, shift 0 and fresh running statistics (mean 0, variance
1), so that in eval mode at initialisation every batch-norm is the identity and the network is the
plain He-initialised ReLU network the theorems are about. Constructors build the layers and apply
:func:`he_init_` with the ``generator`` they are given (torch's global one when None).

Padding is ``reflect`` by default, as in the authors' code: mirror padding keeps the path-degree
statistics of border pixels close to the interior's (the paper's symmetry assumption S).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from advgeom.errors import InputError, check_choice, check_int

PADDING_MODES = ("reflect", "zeros", "circular", "replicate")


def _shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise InputError(f"input_shape must be (channels, height, width) (got {shape!r})")
    for name, v in zip(("channels", "height", "width"), shape, strict=True):
        check_int(f"input_shape {name}", v, minimum=1)
    return shape  # type: ignore[return-value]


@torch.no_grad()
def he_init_(
    model: nn.Module,
    *,
    generator: torch.Generator | None = None,
    readout: nn.Module | None = None,
) -> nn.Module:
    """He-initialise ``model`` in place (weights ~ N(0, gain^2 / fan_in)); return it.

    Args:
        model: any module; its ``nn.Conv*`` and ``nn.Linear`` weights are redrawn with gain
            sqrt(2) (fan_in = in_channels / groups * kernel size), biases set to 0, batch-norms
            reset to scale 1, shift 0 and running mean 0, variance 1.
        generator: source of the weights (CPU generator; weights are drawn on the CPU and copied,
            so a result does not depend on the model's device). None: torch's global generator.
        readout: the layer initialised with gain 1 (no ReLU follows it). Default: the last
            convolution or linear layer in ``model.modules()`` order.
    """
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    if readout is None and layers:
        readout = layers[-1]
    for layer in layers:
        gain = 1.0 if layer is readout else math.sqrt(2.0)
        fan_in = layer.weight[0].numel()
        w = torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64)
        layer.weight.copy_(w * (gain / math.sqrt(fan_in)))
        if layer.bias is not None:
            layer.bias.zero_()
    for bn in model.modules():
        if isinstance(bn, nn.modules.batchnorm._BatchNorm):
            bn.reset_parameters()  # running stats (0, 1), weight 1, bias 0
    return model


class FCNet(nn.Sequential):
    """Fully connected ReLU network on images (or vectors), He-initialised.

    Args:
        input_shape: shape of one example, e.g. (1, 8, 8); it is flattened to d = prod(shape).
        hidden: width of each hidden layer.
        depth: number of hidden layers (>= 1).
        out_features: number of logits.
        batch_norm: batch-norm after each hidden linear layer (before the ReLU).
        generator: source of the initial weights (see :func:`he_init_`).

    Shapes:
        input ``(batch, *input_shape)`` -> logits ``(batch, out_features)``.
    """

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        hidden: int = 256,
        depth: int = 2,
        out_features: int = 10,
        batch_norm: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        shape = tuple(input_shape)
        if not shape:
            raise InputError("input_shape must have at least one dimension")
        for v in shape:
            check_int("input_shape", v, minimum=1)
        check_int("hidden", hidden, minimum=1)
        check_int("depth", depth, minimum=1)
        check_int("out_features", out_features, minimum=1)
        width = math.prod(shape)
        layers: list[nn.Module] = [nn.Flatten()]
        for _ in range(depth):
            layers.append(nn.Linear(width, hidden, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(nn.ReLU())
            width = hidden
        readout = nn.Linear(width, out_features)
        super().__init__(*layers, readout)
        self.input_shape, self.in_features = shape, math.prod(shape)
        he_init_(self, generator=generator, readout=readout)

    @property
    def readout(self) -> nn.Linear:
        """The last (linear) layer."""
        return self[-1]


class _ConvStack(nn.Module):
    """Shared body of the two CNNs: an optional input batch-norm, conv layers, a read-out.

    Subclasses set ``pooling`` ("stride" or "avg") and inherit this keyword-only constructor, so
    both CNNs take the same explicit arguments (documented on :class:`StridedCNN`).
    """

    pooling: str

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        channels: int = 64,
        out_features: int = 10,
        final_size: int = 1,
        batch_norm: bool = True,
        input_norm: bool = False,
        padding_mode: str = "reflect",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        pooling = self.pooling
        c, h, w = _shape(input_shape)
        check_int("channels", channels, minimum=1)
        check_int("out_features", out_features, minimum=1)
        check_int("final_size", final_size, minimum=1)
        check_choice("padding_mode", padding_mode, PADDING_MODES)
        if min(h, w) < final_size:
            raise InputError(
                f"final_size ({final_size}) must not exceed the image size {h}x{w}: "
                "choose a smaller final_size"
            )
        self.input_shape = (c, h, w)
        self.input_norm = nn.BatchNorm2d(c) if input_norm else nn.Identity()
        layers = [self._layer(c, channels, 1, batch_norm, padding_mode, pooling)]
        while max(h, w) > final_size:
            if min(h, w) < 2 and padding_mode == "reflect":
                raise InputError(
                    f"reflect padding needs feature maps >= 2 pixels wide (reached {h}x{w}): "
                    "use square images or padding_mode='zeros'"
                )
            layers.append(self._layer(channels, channels, 2, batch_norm, padding_mode, pooling))
            h, w = -(-h // 2), -(-w // 2)  # a 3x3 stride-2 conv (pad 1) or 2x2 ceil pooling
        self.features = nn.Sequential(*layers)
        self.final_shape = (channels, h, w)
        self.readout = nn.Linear(channels * h * w, out_features)
        he_init_(self, generator=generator, readout=self.readout)

    @staticmethod
    def _layer(cin: int, cout: int, down: int, bn: bool, padding_mode: str, pooling: str):
        strided = pooling == "stride" and down == 2
        parts: list[nn.Module] = [
            nn.Conv2d(
                cin,
                cout,
                3,
                stride=2 if strided else 1,
                padding=1,
                padding_mode=padding_mode,
                bias=not bn,
            )
        ]
        if pooling == "avg" and down == 2:
            # As in the authors' code: conv -> average pool -> batch-norm -> ReLU.
            parts.append(nn.AvgPool2d(2, ceil_mode=True))
        if bn:
            parts.append(nn.BatchNorm2d(cout))
        parts.append(nn.ReLU())
        return nn.Sequential(*parts)

    @property
    def depth(self) -> int:
        """Number of convolution layers."""
        return len(self.features)

    def forward(self, x: Tensor) -> Tensor:
        return self.readout(self.features(self.input_norm(x)).flatten(1))


class StridedCNN(_ConvStack):
    """Sec. 4.1's CNN: 3x3 convolutions (stride 1, then stride 2 until the map is ``final_size``
    wide), each followed by batch-norm and ReLU, then a linear read-out; He-initialised.

    On 32x32 inputs with ``final_size=1`` this is the paper's network (strides [1, 2, 2, 2, 2, 2],
    64 channels). Up-sampled inputs get one more stride-2 layer per doubling of the edge, so the
    read-out, and the number of parameters apart from one 3x3 layer per doubling, stays the same.

    Args:
        input_shape: (channels, height, width) of one example.
        channels: output channels of every convolution (64 in the paper).
        out_features: number of logits.
        final_size: width of the last feature map (stride-2 layers stop there).
        batch_norm: batch-norm after every convolution.
        input_norm: a batch-norm on the input channels first (the authors' code with raw inputs).
        padding_mode: "reflect" (the authors'), "zeros", "circular" or "replicate".
        generator: source of the initial weights (see :func:`he_init_`).

    Shapes:
        input ``(batch, *input_shape)`` -> logits ``(batch, out_features)``.
    """

    pooling = "stride"


class AvgPoolCNN(_ConvStack):
    """App. B's variant of :class:`StridedCNN`: every down-sampling is a stride-1 3x3 convolution
    followed by 2x2 average pooling (then batch-norm and ReLU). Same arguments and shapes."""

    pooling = "avg"


__all__ = ["AvgPoolCNN", "FCNet", "StridedCNN", "he_init_"]
