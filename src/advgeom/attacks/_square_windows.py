"""The geometry of the Square attack's proposals: window sizes, random windows, l2 bump patterns.

AutoAttack's reference code (``p_selection``, ``eta_rectangles``) with one difference: every
example draws its own window, signs and pattern orientation (the reference draws one window per
batch).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

from advgeom.attacks.balls import draw

# (query fraction in 1/10000 up to which, divisor of p_init), AutoAttack's ``p_selection``.
SCHEDULE = ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64),
            (6000, 128), (8000, 256))



def p_schedule(i: int, queries: int, p_init: float) -> float:
    """The fraction p of the image a window covers at iteration ``i`` (0-based) of ``queries``."""
    it = int(i / queries * 10000)
    for edge, divisor in SCHEDULE:
        if it <= edge:
            return p_init / divisor
    return p_init / 512


def window_side(p: float, h: int, w: int, norm: str) -> tuple[int, int]:
    """The window (rows, columns): side ``round(sqrt(p h w))`` (l2: odd, >= 3), clipped to h x w."""
    s = max(int(round(math.sqrt(p * h * w))), 1 if norm == "linf" else 3)
    if norm == "l2" and s % 2 == 0:
        s += 1
    return min(s, h), min(s, w)


def uniform(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    return draw("uniform", shape, like, generator)


def random_signs(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    return (uniform(shape, like, generator) < 0.5).to(like.dtype) * 2 - 1


def offsets(n: int, room: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """(n,) long, uniform in {0, ..., room} (the reference never draws ``room`` itself)."""
    u = uniform((n,), like, generator)
    return (u * (room + 1)).long().clamp_max(room)


def grid(x: Tensor) -> tuple[int, int, int]:
    """(C, H, W) of the layout the windows live in: an image, or one row of numel entries."""
    return tuple(x.shape[1:]) if x.dim() == 4 else (1, 1, x[0].numel())


def window(n: int, h: int, w: int, sh: int, sw: int, like: Tensor, generator) -> tuple:
    """A random sh x sw window per example: (mask (n, 1, h, w) bool, top (n,), left (n,))."""
    top = offsets(n, h - sh, like, generator)
    left = offsets(n, w - sw, like, generator)
    rows = torch.arange(h, device=like.device)
    cols = torch.arange(w, device=like.device)
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + sh)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + sw)
    return (in_rows[:, :, None] & in_cols[:, None, :]).unsqueeze(1), top, left


def window_index(top: Tensor, left: Tensor, sh: int, sw: int, c: int) -> tuple[Tensor, ...]:
    """Advanced indices of each example's window: t[index] is (n, c, sh, sw)."""
    n, device = top.shape[0], top.device
    batch = torch.arange(n, device=device).view(n, 1, 1, 1)
    chan = torch.arange(c, device=device).view(1, c, 1, 1)
    rows = (top[:, None] + torch.arange(sh, device=device)).view(n, 1, sh, 1)
    cols = (left[:, None] + torch.arange(sw, device=device)).view(n, 1, 1, sw)
    return batch, chan, rows, cols


def rings(a: int, b: int) -> Tensor:
    """(a, b) bump of unit l2 norm: cell weight sum_{k >= d} 1/(k+1)^2, d the Chebyshev
    distance to the centre (a // 2, b // 2), as AutoAttack's ``eta_rectangles``."""
    if a == 0:
        return torch.zeros(0, b, dtype=torch.float64)
    k = max(a // 2, b // 2) + 1
    tail = torch.cumsum((1.0 / torch.arange(1, k + 1, dtype=torch.float64) ** 2).flip(0), 0)
    tail = tail.flip(0)  # tail[d] = sum_{k=d}^{K-1} 1/(k+1)^2
    di = (torch.arange(a) - a // 2).abs()
    dj = (torch.arange(b) - b // 2).abs()
    bump = tail[torch.maximum(di[:, None], dj[None, :])]
    return bump / bump.norm()


@lru_cache(maxsize=256)
def pair(a: int, b: int, axis: int) -> Tensor:
    """(a, b) pattern of unit l2 norm: two bumps of opposite signs, split along ``axis``."""
    if axis == 1:
        return pair(b, a, 0).T.contiguous()
    pattern = torch.cat([rings(a // 2, b), -rings(a - a // 2, b)])
    return pattern / pattern.norm()


def patterns(n: int, sh: int, sw: int, like: Tensor, generator) -> Tensor:
    """(n, 1, sh, sw) bump pairs, each split along a random axis (one of length >= 2)."""
    both = torch.stack([pair(sh, sw, 0), pair(sh, sw, 1)]).to(like)
    if sh == 1 or sw == 1:
        return both[1 if sh == 1 else 0].expand(n, 1, sh, sw)
    pick = (uniform((n,), like, generator) < 0.5).long()
    return both[pick].unsqueeze(1)


def channel_norm(t: Tensor) -> Tensor:
    """(n, c, 1, 1) l2 norm of each channel of t (n, c, h, w)."""
    return t.square().sum(dim=(-2, -1), keepdim=True).sqrt()


def tiles(length: int) -> tuple[int, int, int]:
    """(count, size, offset) of the l2 start's tiles along an axis: at most 5, centred."""
    count = min(5, length)
    size = length // count
    return count, size, (length - count * size) // 2
