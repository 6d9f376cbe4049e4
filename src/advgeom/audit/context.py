"""What every audit instrument is handed: the model, the audit data and the settings.

:func:`prepare` loads the data set, checks that the model takes its inputs and that its outputs
fit the labels, and fixes the radii; it raises InputError before anything is measured or
written. An :class:`Instrument` is a ``measure(ctx)`` that returns plain JSON data (findings and
metrics) and a ``plot(result)`` that draws figures from that saved data only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from advgeom import data as data_mod
from advgeom.attacks.evaluate import PROTOCOLS
from advgeom.errors import InputError, check_choice, check_int, check_positive
from advgeom.metrics import scaled_eps

# Default l_inf radii as fractions of the data's range (1 for images in [0, 1]).
DEFAULT_EPS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)


@dataclass(frozen=True)
class Settings:
    """The audit's options (the CLI's flags).

    Attributes:
        data: data set name (:data:`advgeom.data.DATASETS`); its test split is used.
        samples: test examples measured (a seeded random subset when the split is larger).
        eps: l_inf radii; None = :data:`DEFAULT_EPS` times the data's range. The l2 radii are
            ``eps * sqrt(d)`` (Simon-Gabriel et al., eq. 3).
        steps: PGD steps of the PGD curve (shown beside the ensemble's).
        seed: the seed of the subset and of every random start.
        protocol: the evaluation ensemble (:data:`advgeom.attacks.evaluate.PROTOCOLS`).
    """

    data: str
    samples: int = 256
    eps: tuple[float, ...] | None = None
    steps: int = 50
    seed: int = 0
    protocol: str = "standard"

    def __post_init__(self) -> None:
        check_choice("--protocol", self.protocol, tuple(PROTOCOLS))
        check_int("--samples", self.samples, minimum=1)
        check_int("steps", self.steps, minimum=1)
        if self.eps is not None:
            if not self.eps:
                raise InputError("--eps needs at least one radius")
            for e in self.eps:
                check_positive("--eps", e, allow_zero=True)


@dataclass
class AuditContext:
    """The model and data an instrument measures, and the radii it uses.

    Attributes:
        model: the user's model, in eval mode, on ``device``.
        x: (samples, *input_shape) test inputs; y: (samples,) labels.
        classes: number of model outputs (1 for a single logit).
        bounds: (lo, hi) of valid inputs, or None (spheres: no box).
        eps_linf, eps_l2: the radii of the l_inf and l2 attacks (same length).
        memo: what an instrument measured that a later one reuses (the robustness instrument's
            evaluations, which the sanity checks read), by key; never saved.
    """

    model: nn.Module
    x: Tensor
    y: Tensor
    device: torch.device
    settings: Settings
    classes: int
    bounds: tuple[float, float] | None
    eps_linf: tuple[float, ...]
    eps_l2: tuple[float, ...]
    info: dict[str, Any] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)

    @property
    def d(self) -> int:
        """Input dimension (numbers per example)."""
        return int(self.x[0].numel())

    def radii(self, norm: str) -> tuple[float, ...]:
        return self.eps_linf if norm == "linf" else self.eps_l2

    def max_eps(self, norm: str) -> float:
        """The largest radius a minimal-distance search needs: the box's diameter in ``norm``
        (or twice the largest input norm when there is no box)."""
        if self.bounds is not None:
            side = self.bounds[1] - self.bounds[0]
            return side if norm == "linf" else side * self.d**0.5
        flat = self.x.flatten(1)
        largest = flat.abs().amax() if norm == "linf" else flat.norm(dim=1).amax()
        return 2.0 * float(largest)

    def generator(self, *parts: Any) -> torch.Generator:
        """A generator seeded from the audit seed and ``parts`` (one per use)."""
        text = repr((self.settings.seed, *parts)).encode()
        seed = int.from_bytes(hashlib.sha256(text).digest()[:8], "little") & ((1 << 63) - 1)
        return torch.Generator(device=self.device).manual_seed(seed)


@dataclass(frozen=True)
class Instrument:
    """One measurement of the audit.

    Attributes:
        id: short name (``robustness``); figures are saved as ``<id>-<name>``.
        title: one line saying what it measures.
        source: where the method or prediction comes from (shown under the title).
        measure: ``measure(ctx) -> {"findings": [claim, ...], "metrics": {...}}``, JSON data.
        plot: ``plot(result) -> {name: Figure}``, reading only the saved result.
    """

    id: str
    title: str
    source: str
    measure: Callable[[AuditContext], dict]
    plot: Callable[[dict], dict]


def prepare(
    model: nn.Module, settings: Settings, *, device: torch.device, data_dir: Path | None = None
) -> AuditContext:
    """Load the audit data, check the model against it and fix the radii.

    Raises:
        InputError: unknown data set, inputs the model cannot take, outputs that do not fit the
            labels. DataError: data files that cannot be found or read.
    """
    try:
        x, y = data_mod.load(settings.data, root=data_dir, split="test")
    except InputError as err:
        raise InputError(f"--data: {err}") from err
    if settings.samples < len(x):
        g = torch.Generator().manual_seed(settings.seed)
        keep = torch.randperm(len(x), generator=g)[: settings.samples].sort().values
        x, y = x[keep], y[keep]
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    model = model.to(device)
    x, y = x.to(device=device, dtype=dtype), y.to(device)
    classes = _check_model_on_data(model, x, y, settings.data)
    # data.load gives images (N, C, H, W) in [0, 1]; the spheres, (N, n) points, have no box.
    bounds = (0.0, 1.0) if x.dim() == 4 else None
    span = (bounds[1] - bounds[0]) if bounds else float(x.abs().amax())
    eps_linf = settings.eps if settings.eps is not None else tuple(e * span for e in DEFAULT_EPS)
    d = int(x[0].numel())
    eps_l2 = tuple(scaled_eps(e, d=d, norm="l2") for e in eps_linf)
    return AuditContext(
        model,
        x,
        y,
        device,
        settings,
        classes,
        bounds,
        tuple(eps_linf),
        eps_l2,
        info={"input_shape": list(x.shape[1:]), "d": d, "classes": classes},
    )


def _check_model_on_data(model: nn.Module, x: Tensor, y: Tensor, name: str) -> int:
    """Run the model on two inputs; return its number of outputs, or say why it does not fit."""
    shape = tuple(x.shape[1:])
    try:
        with torch.no_grad():
            out = model(x[:2])
    except Exception as err:  # the user's forward: any failure means the data does not fit it
        first = (str(err).strip().splitlines() or [""])[0]
        raise InputError(
            f"--data {name}: the model cannot take its inputs of shape {shape} "
            f"({type(err).__name__}: {first}); use the data set the model was "
            "built for"
        ) from err
    if not isinstance(out, Tensor) or out.dim() not in (1, 2) or out.shape[0] != 2:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise InputError(
            f"--model: on a batch of 2 inputs of shape {shape} the model returned "
            f"{got}; the audit needs class logits of shape (batch, classes) or "
            "(batch,)"
        )
    classes = 1 if out.dim() == 1 else int(out.shape[1])
    top = int(y.max())
    if (classes == 1 and top > 1) or (classes > 1 and top >= classes):
        raise InputError(
            f"--data {name} has labels 0..{top} but the model has {classes} "
            f"output{'s' if classes > 1 else ''}; use the data set the model was "
            "built for"
        )
    return classes
