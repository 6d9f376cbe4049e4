"""Injectivity over a data set: the minimum pairwise L1 distance d_m (Badger, Eq. 1).

``d_m = min_{i != j} ||O(x_i) - O(x_j)||_1`` over every pair of a data set. A model is "effectively
injective" on the set when d_m > 0 (Badger, Table 1). Pairs of exactly equal inputs necessarily
give 0, so they are found first (exact row equality), reported, and left out of the minimum, as
the paper does for CIFAR-100 ("with duplicated inputs removed").

The scan is exact (no approximate neighbours): blocks of ``chunk x chunk`` L1 distances
(``torch.cdist(p=1)``, which computes each pair directly rather than through a matrix product)
over the upper triangle only, so each pair is seen once and memory stays at one block whatever N
is (60,000 MNIST outputs: 1.8e9 pairs; a 4096-block is 64 MiB in float32).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from advgeom.errors import InputError, check_int
from advgeom.tensors import eval_mode

DEFAULT_CHUNK = 4096
MAX_GROUPS_SHOWN = 10


@dataclass(frozen=True)
class MinDistance:
    """The closest pair of a data set and what was left out.

    Attributes:
        distance: min L1 distance over pairs of distinct inputs (inf when there is no such pair).
        pair: ``(i, j)``, ``i < j``, indices into the data set of one closest pair.
        n: size of the data set.
        n_distinct: number of distinct inputs (None when no inputs were given to compare).
        duplicate_pairs: pairs ``i < j`` with ``x_i == x_j`` exactly (None: inputs not given).
        duplicate_groups: up to 10 groups of indices of equal inputs.
        distance_with_duplicates: min over all pairs, duplicates included (0 when there are any).
    """

    distance: float
    pair: tuple[int, int]
    n: int
    n_distinct: int | None
    duplicate_pairs: int | None
    duplicate_groups: list[list[int]]
    distance_with_duplicates: float

    def to_dict(self) -> dict:
        """Plain JSON data (the pair as a list)."""
        out = asdict(self)
        out["pair"] = list(self.pair)
        return out


def min_pairwise_distance(z: Tensor, *, chunk: int = DEFAULT_CHUNK) -> tuple[float, int, int]:
    """Exact ``min_{i<j} ||z_i - z_j||_1`` over the rows of ``z``, scanned in blocks.

    Args:
        z: (N, m) rows (any float dtype; the distance is computed in that dtype).
        chunk: block edge; memory is one ``chunk x chunk`` block of distances.

    Returns:
        ``(distance, i, j)`` with ``i < j``; ``(inf, -1, -1)`` when N < 2.
    """
    if not isinstance(z, Tensor) or z.dim() != 2 or not z.is_floating_point():
        raise InputError(f"z must be a 2-D float tensor (N, m) (got {_describe(z)})")
    chunk = check_int("chunk", chunk, minimum=1)
    N = z.shape[0]
    if N < 2:
        return float("inf"), -1, -1
    # Strictly upper triangle of a diagonal block: each pair once, never i == j.
    upper = torch.ones(chunk, chunk, dtype=torch.bool, device=z.device).triu(1)
    values, where = [], []
    for i0 in range(0, N, chunk):
        a = z[i0 : i0 + chunk]
        for j0 in range(i0, N, chunk):
            b = z[j0 : j0 + chunk]
            d = torch.cdist(a.unsqueeze(0), b.unsqueeze(0), p=1)[0]
            if j0 == i0:
                d = d.masked_fill(~upper[: len(a), : len(b)], float("inf"))
            k = d.view(-1).argmin()
            values.append(d.view(-1)[k])
            # Global indices, kept on the device: no host sync per block (matters on a GPU).
            where.append(torch.stack((i0 + k // d.shape[1], j0 + k % d.shape[1])))
    best = int(torch.stack(values).argmin())
    i, j = (int(t) for t in where[best])
    return float(values[best]), i, j


def distinct_rows(x: Tensor) -> tuple[Tensor, Tensor, list[list[int]], int]:
    """Exact duplicates among the rows of ``x`` (any shape; rows are ``x[k]``).

    Returns:
        ``(first, inverse, groups, duplicate_pairs)``: ``first`` (U,) the index of the first
        occurrence of each distinct row, ``inverse`` (N,) the distinct row of each example,
        ``groups`` up to 10 lists of indices of equal rows, and the number of equal pairs.
    """
    flat = x.reshape(x.shape[0], -1)
    _, inverse, counts = torch.unique(flat, dim=0, return_inverse=True, return_counts=True)
    N, U = flat.shape[0], counts.shape[0]
    order = torch.arange(N, device=flat.device)
    first = torch.full((U,), N, dtype=torch.long, device=flat.device)
    first = first.scatter_reduce(0, inverse, order, reduce="amin")
    pairs = int((counts * (counts - 1) // 2).sum())
    groups = []
    for k in torch.nonzero(counts > 1).flatten()[:MAX_GROUPS_SHOWN].tolist():
        groups.append(torch.nonzero(inverse == k).flatten().tolist())
    # Keep the data set's order among distinct rows (unique() sorts them).
    rank = torch.argsort(first)
    first = first[rank]
    remap = torch.empty_like(rank)
    remap[rank] = torch.arange(U, device=flat.device)
    return first, remap[inverse], groups, pairs


@torch.no_grad()
def model_outputs(
    model: Callable[[Tensor], Tensor], x: Tensor, *, batch_size: int = 1024
) -> Tensor:
    """``model(x)`` flattened to (N, m), in batches, every submodule in eval mode."""
    batch_size = check_int("batch_size", batch_size, minimum=1)
    with eval_mode(model):
        parts = [
            model(x[k : k + batch_size]).reshape(len(x[k : k + batch_size]), -1)
            for k in range(0, len(x), batch_size)
        ]
    return torch.cat(parts)


def min_output_distance(
    model_or_outputs: Callable[[Tensor], Tensor] | Tensor,
    x: Tensor | None = None,
    *,
    batch_size: int = 1024,
    chunk: int = DEFAULT_CHUNK,
) -> MinDistance:
    """d_m of Badger's Eq. 1: the exact minimum L1 distance between outputs of distinct inputs.

    Exact duplicates among the inputs are found first and left out (each distinct input is
    passed through the model once), so ``distance`` is over pairs of different inputs;
    ``distance_with_duplicates`` is 0 whenever a duplicate exists.

    Args:
        model_or_outputs: a model ``(batch, *input_shape) -> (batch, ...)`` (run in eval mode),
            or its outputs already computed, (N, ...).
        x: (N, *input_shape) inputs. Needed with a model; with outputs it is optional and, when
            given, used to find duplicates.
        batch_size: examples per forward pass.
        chunk: block edge of the pairwise scan (memory: ``chunk**2`` distances).

    Returns:
        :class:`MinDistance`, indices into the data set as given.
    """
    if isinstance(model_or_outputs, Tensor):
        outputs = model_or_outputs.reshape(model_or_outputs.shape[0], -1)
        if x is not None and len(x) != len(outputs):
            raise InputError(
                f"x has {len(x)} rows but the outputs {len(outputs)}: pass the "
                "inputs the outputs were computed from"
            )
    elif callable(model_or_outputs):
        if x is None:
            raise InputError("x is required when a model is given: pass the data set's inputs")
        outputs = None
    else:
        raise InputError(
            "model_or_outputs must be a model or a tensor of outputs "
            f"(got {type(model_or_outputs).__name__})"
        )
    if x is None:
        d, i, j = min_pairwise_distance(outputs, chunk=chunk)
        return MinDistance(d, (i, j), len(outputs), None, None, [], d)
    first, _, groups, dup_pairs = distinct_rows(x)
    if outputs is None:
        outputs = model_outputs(model_or_outputs, x[first], batch_size=batch_size)
    else:
        outputs = outputs[first]
    d, i, j = min_pairwise_distance(outputs, chunk=chunk)
    pair = tuple(sorted((int(first[i]), int(first[j])))) if i >= 0 else (-1, -1)
    return MinDistance(d, pair, len(x), len(first), dup_pairs, groups, 0.0 if dup_pairs else d)


def min_input_distance(x: Tensor, *, chunk: int = DEFAULT_CHUNK) -> MinDistance:
    """The same minimum for the inputs themselves, ``min ||x_i - x_j||_1`` over distinct inputs.

    With :func:`min_output_distance` it gives the ratio d_m(outputs) / d_m(inputs). The cost
    grows with the input size (784 floats per MNIST image against ~10-100 outputs).
    """
    return min_output_distance(x.reshape(len(x), -1), x, chunk=chunk)


def _describe(z: object) -> str:
    if isinstance(z, Tensor):
        return f"shape {tuple(z.shape)}, dtype {z.dtype}"
    return type(z).__name__


__all__ = [
    "MinDistance",
    "distinct_rows",
    "min_input_distance",
    "min_output_distance",
    "min_pairwise_distance",
    "model_outputs",
]
