"""Fig. S1 in ``discontinuity.expansion``: the autoencoder without bottleneck denoises and is not
the identity.

Paper (Sec. 4): "the overcomplete autoencoder presented in Figure 1 does not approximate the
identity function, and indeed is capable of denoising an input (Figure S1)"; the caption: "note
the distinctly rounded edges in the autoencoder outputs present in the lower right panel". The
text gives no noise level; the authors' autoencoder script (``observe_denoising``) mixes half the
image with half Gaussian noise, ``x_noisy = 0.5 x + 0.5 N(0.7, 0.2)``, and shows x, AE(x),
x_noisy and AE(x_noisy) (min-max normalised for display). We measure, on the first ``inputs``
training images as their script does (its first batch):

- denoising: MSE(AE(x_noisy), x) / MSE(x_noisy, x), below 1 when the output is closer to the
  clean image than the noisy input is (the identity gives exactly 1); we ask for at most
  :data:`DENOISES` (0.9: a tenth of the noise's squared error removed, clear of the identity);
- not the identity: ||AE(x) - x|| / ||x|| (pooled over the images); the identity gives 0 (float32
  rounding, ~1e-7). We read "does not approximate the identity" as a departure of at least
  :data:`NOT_IDENTITY` (5%) of the images' size, the scale of a visible change such as rounded
  edges.
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from advgeom.plotting import new_figure
from advgeom.runs import rules
from advgeom.runs.claims import claim

NOT_IDENTITY = 0.05  # ||AE(x) - x|| / ||x|| at least this: clearly not the identity
DENOISES = 0.9  # MSE(AE(x_noisy), x) / MSE(x_noisy, x) at most this: the output is cleaner
ROWS = ("x", "reconstruction", "noisy", "denoised")


def _image(v: Tensor) -> list:
    """One image (C, H, W) as an (H, W) nested list (channels averaged) for the results."""
    return v.float().mean(dim=0).cpu().tolist() if v.dim() == 3 else v.float().cpu().tolist()


def _mse(a: Tensor, b: Tensor) -> float:
    return float((a - b).double().pow(2).mean())


def _ratio(a: Tensor, b: Tensor) -> float:
    """||a|| / ||b||, each the l2 norm of all pixels of the batch together (pooled)."""
    return float(a.double().norm() / b.double().norm().clamp_min(1e-300))


@torch.no_grad()
def measure(
    model: nn.Module, x: Tensor, *, mix: float, mean: float, std: float, images: int,
    generator: torch.Generator,
) -> dict:
    """Fig. S1's four panels and their errors for images x (N, C, H, W) in [0, 1].

    The noisy input is ``mix * x + (1 - mix) * N(mean, std)`` (the authors' script: 0.5, 0.7,
    0.2); ``generator`` draws the noise (on the CPU, then moved to x's device).
    """
    model.eval()
    noise = torch.randn(x.shape, generator=generator).to(x.device) * std + mean
    noisy = mix * x + (1 - mix) * noise
    out, den = model(x), model(noisy)
    k = min(images, len(x))
    return {
        "mse_noisy": _mse(noisy, x),
        "mse_denoised": _mse(den, x),
        "relative_error": _ratio(out - x, x),
        "noisy_change": _ratio(den - noisy, noisy - x),
        "output_change": _ratio(den - out, noisy - x),
        "images": {
            name: [_image(v) for v in t[:k]]
            for name, t in zip(ROWS, (x, out, noisy, den), strict=True)
        },
        "noise": {"mix": mix, "mean": mean, "std": std, "inputs": len(x)},
    }


def claims(d: dict, *, dataset: str, measurable: bool, scale: str) -> list[dict]:
    """Fig. S1: the no-bottleneck autoencoder denoises and is not the identity."""
    nz = d["noise"]
    setting = (
        f"{scale}{dataset}, the autoencoder without bottleneck, the first {nz['inputs']} "
        f"training images; x_noisy = {nz['mix']:g} x + {1 - nz['mix']:g} N({nz['mean']:g}, "
        f"{nz['std']:g}) as in the authors' script (the text gives no noise level)"
    )
    return [
        claim(
            "autoencoder_denoises",
            "The overcomplete autoencoder is capable of denoising an input: its output is "
            "closer to the clean image than the noisy input is (Sec. 4, Fig. S1).",
            paper_value="denoises",
            measured=d["mse_denoised"] / d["mse_noisy"],
            rule=rules.at_most(DENOISES, what="MSE(AE(x_noisy), x) / MSE(x_noisy, x)"),
            measurable=measurable,
            note=f"MSE(AE(x_noisy), x) {d['mse_denoised']:.4g}, MSE(x_noisy, x) "
            f"{d['mse_noisy']:.4g}; ||AE(x_noisy) - AE(x)|| / ||x_noisy - x|| "
            f"{d['output_change']:.3g} (the L2 distances the authors' script prints); our "
            f"reading of 'capable of denoising': at least {1 - DENOISES:.0%} of the noise's "
            f"squared error removed (the identity removes none: ratio 1); {setting}",
        ),
        claim(
            "autoencoder_not_identity",
            "The overcomplete autoencoder does not approximate the identity function (Sec. 4, "
            "Fig. S1: the rounded edges of its outputs).",
            paper_value="not the identity",
            measured=d["relative_error"],
            rule=rules.at_least(NOT_IDENTITY, what="||AE(x) - x|| / ||x||"),
            measurable=measurable,
            note=f"relative l2 reconstruction error of the clean images, pooled (the identity: "
            f"0 up to float32 rounding, ~1e-7); on the noisy ones ||AE(x_noisy) - x_noisy|| / "
            f"||x_noisy - x|| = {d['noisy_change']:.3g} (the identity: 0); our reading of 'does "
            f"not approximate the identity': a departure of >= {NOT_IDENTITY:.0%} of the "
            f"images' size, the scale of a visible change; {setting}",
        ),
    ]


def figure(d: dict, dataset: str) -> Figure:
    """Fig. S1: rows x, AE(x), x_noisy, AE(x_noisy); one column per image, grey scale [0, 1]."""
    ims = d["images"]
    k = len(ims["x"])
    fig, axes = new_figure(k, len(ROWS), width=1.4, height=1.5)
    titles = {"x": "x", "reconstruction": "AE(x)", "noisy": "x_noisy", "denoised": "AE(x_noisy)"}
    for i, name in enumerate(ROWS):
        for j in range(k):
            ax = axes[i, j]
            ax.imshow(ims[name][j], cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(titles[name], fontsize=8)
    nz = d["noise"]
    fig.suptitle(
        f"{dataset}, no bottleneck (Fig. S1): x_noisy = {nz['mix']:g} x + {1 - nz['mix']:g} "
        f"N({nz['mean']:g}, {nz['std']:g})\nMSE to x: noisy {d['mse_noisy']:.3g}, denoised "
        f"{d['mse_denoised']:.3g}; ||AE(x) - x|| / ||x|| = {d['relative_error']:.3g}",
        fontsize=7,
    )
    fig.tight_layout()
    return fig
