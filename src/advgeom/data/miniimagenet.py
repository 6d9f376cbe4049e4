"""Simon-Gabriel et al.'s 12-class "Mini-ImageNet" (Sec. 4.2, App. H), read from image folders.

The paper merged similar ImageNet classes into 12 (ball, car, cat, dog, elephant, fish, monkey,
plane, ship, string instrument, truck, wind instrument), about 80,000 images, center-cropped and
resized to 3x256x256. Its authors publish the list of images (``imgnet12/train.txt`` and
``val.txt`` in facebookresearch/AdversarialAndDimensionality), not the images, and read them as a
torchvision ``ImageFolder``; this reader takes the same layout, inside each searched root (see
:mod:`advgeom.data.locate`):

- ``<root>/imgnet12/train/<class>/<image>`` and ``<root>/imgnet12/val/<class>/<image>`` (the
  authors' folder name; ``<root>/miniimagenet/`` is accepted too), one sub-folder per class
  (12 in the paper; the names are free, their sorted order gives the labels 0..K-1, as
  ``ImageFolder`` does). ``split="train"`` reads ``train/``, ``split="test"`` reads ``val/``
  (the authors' test set).
- Images are JPEG or PNG files (``.jpeg``, ``.jpg``, ``.png``, any case). Each is preprocessed as
  the authors' loader did: its shorter side resized to 256 (bilinear), then center-cropped to
  256x256; a smaller ``size`` (a divisor of 256) then averages ``256 / size`` squared pixel
  blocks (:func:`advgeom.data.downsample`, exact, not an interpolation).

It is not the few-shot "mini-ImageNet" of Vinyals et al. (``mini-imagenet-cache-*.pkl``: 100
classes of 84x84 images, disjoint between its splits), which cannot be classified train vs test.

Security: no pickle is read. Pillow is allowed only its JPEG and PNG decoders (so a file that is
really, say, an EPS never reaches a plug-in that runs an external program), and its limit on
decompression bombs stays on; an unreadable file is a DataError naming it.

Nothing is downloaded (ImageNet's licence does not allow it): the folders must be supplied.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from advgeom.data.locate import Looked, describe, not_found_error, search_roots
from advgeom.data.transforms import downsample
from advgeom.errors import DataError, InputError, check_choice

__all__ = [
    "EDGE",
    "FOLDERS",
    "check_same_classes",
    "load_miniimagenet",
    "locate_miniimagenet_files",
    "read_image",
]

EDGE = 256  # pixels per edge after the authors' Resize(256) + CenterCrop(256)
FOLDERS = ("imgnet12", "miniimagenet")  # accepted names of the data set's folder in a root
SPLIT_FOLDER = {"train": "train", "test": "val"}
SUFFIXES = (".jpeg", ".jpg", ".png")
DISPLAY = "Mini-ImageNet (12 classes)"


def _classes(split_dir: Path) -> dict[str, Path]:
    """The class sub-folders of a split folder (hidden ones skipped), by sorted name."""
    return {p.name: p for p in sorted(split_dir.iterdir())
            if p.is_dir() and not p.name.startswith(".")}


def _images(class_dir: Path) -> list[Path]:
    return sorted(p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in SUFFIXES)


def _look(folder: Path) -> tuple[dict[str, Path] | None, Looked]:
    """A split folder's classes when it has at least two, each holding images."""
    if not folder.is_dir():
        return None, Looked(folder, (), ("class folders",), None)
    classes = _classes(folder)
    empty = tuple(name for name, path in classes.items() if not _images(path))
    if len(classes) < 2 or empty:
        missing = (f"images in {', '.join(empty)}",) if empty else ("two or more class folders",)
        return None, Looked(folder, tuple(n for n in classes if n not in empty), missing,
                            f"{describe(folder)}; needs {missing[0]}")
    return classes, Looked(folder, tuple(classes), (), describe(folder))


def locate_miniimagenet_files(
    *, root: str | os.PathLike | None = None, split: str = "train"
) -> dict[str, Path]:
    """The class folders of a split, ``{class name: folder}``, without reading any image.

    Raises:
        InputError: bad ``split``, or a ``root`` that is no folder.
        DataError: no searched root holds the split (the message lists every place looked and
            the layout to supply).
    """
    check_choice("split", split, tuple(SPLIT_FOLDER))
    looked: list[Looked] = []
    for base in search_roots(root):
        for name in FOLDERS:
            classes, record = _look(base / name / SPLIT_FOLDER[split])
            looked.append(record)
            if classes is not None:
                return classes
    how = (f"put the images listed in the authors' imgnet12/{SPLIT_FOLDER[split]}.txt in "
           f"DIR/imgnet12/{SPLIT_FOLDER[split]}/<class>/ (one folder per class, JPEG or PNG)")
    raise not_found_error(DISPLAY, split, looked, "nothing is downloaded (ImageNet's licence)",
                          how)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """One image as the authors' loader saw it: RGB, shorter side resized to 256 (bilinear),
    center-cropped to 256x256.

    Returns:
        ``(3, 256, 256)`` uint8.

    Raises:
        DataError: naming ``path``: not a JPEG or PNG, unreadable, truncated, or a bomb.
    """
    from PIL import Image  # matplotlib's dependency; imported here: only this reader needs it

    path = Path(path)
    try:
        with Image.open(path, formats=("JPEG", "PNG")) as img:
            img = img.convert("RGB")
            w, h = img.size
            scale = EDGE / min(w, h)
            size = (max(EDGE, round(w * scale)), max(EDGE, round(h * scale)))
            img = img.resize(size, Image.Resampling.BILINEAR)
            left, top = (size[0] - EDGE) // 2, (size[1] - EDGE) // 2
            pixels = np.asarray(img.crop((left, top, left + EDGE, top + EDGE)), dtype=np.uint8)
    except Image.DecompressionBombError as exc:
        raise DataError(f"refusing {path}: {exc}") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # PIL's ways of failing on a bad file
        raise DataError(f"{path} is not a readable JPEG or PNG image ({type(exc).__name__}: "
                        f"{exc}); replace it with the original file") from exc
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def _interleaved(classes: dict[str, Path]) -> list[tuple[Path, int]]:
    """(image, label) taking one image of each class in turn, so that any prefix (``limit``)
    holds every class: an ImageFolder's order would give the first class alone."""
    lists = [_images(folder) for folder in classes.values()]
    order = []
    for i in range(max(len(files) for files in lists)):
        order += [(files[i], label) for label, files in enumerate(lists) if i < len(files)]
    return order


def load_miniimagenet(
    *,
    root: str | os.PathLike | None = None,
    split: str = "train",
    size: int = EDGE,
    limit: int | None = None,
    classes: int | None = 12,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a split as tensors.

    Args:
        root: folder to search first (else ``$ADVGEOM_DATA``), then the cache.
        split: ``"train"`` (``train/``) or ``"test"`` (``val/``).
        size: pixels per edge, a divisor of 256 (256, 128, 64, 32, ...): 256 / size squared
            blocks are averaged (App. H's down-sampled versions).
        limit: the first ``limit`` images of the class-interleaved order (None: all).
        classes: the number of class folders required (12, the paper's), or None for any.

    Returns:
        x: ``(N, 3, size, size)`` float32 in [0, 1]; y: ``(N,)`` int64 labels, sorted class
        folder names giving 0..K-1. Memory: N x 3 x size^2 floats (the paper's ~72,000 training
        images at 256 px: 57 GB).

    Raises:
        InputError: bad ``split``, ``size`` or ``limit``.
        DataError: files not found, a wrong number of classes, train and test classes that
            differ, or an unreadable image.
    """
    if size < 1 or EDGE % size:
        raise InputError(f"size must divide {EDGE} (got {size}): e.g. 256, 128, 64 or 32")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be None or >= 1 (got {limit})")
    check_same_classes(root)
    found = locate_miniimagenet_files(root=root, split=split)
    if classes is not None and len(found) != classes:
        raise DataError(f"{DISPLAY}: {split} needs {classes} class folders, found {len(found)} "
                        f"({', '.join(found)})")
    order = _interleaved(found)[:limit]
    x = torch.empty((len(order), 3, size, size), dtype=torch.float32)
    for i, (path, _) in enumerate(order):
        pixels = torch.from_numpy(read_image(path)).to(torch.float32).div_(255.0)
        x[i] = downsample(pixels[None], EDGE // size)[0]
    return x, torch.tensor([label for _, label in order], dtype=torch.int64)


def check_same_classes(root: str | os.PathLike | None = None) -> list[str]:
    """The class names, or DataError when ``train/`` and ``val/`` name different classes (their
    labels would then not mean the same)."""
    train = list(locate_miniimagenet_files(root=root, split="train"))
    test = list(locate_miniimagenet_files(root=root, split="test"))
    if train != test:
        raise DataError(f"{DISPLAY}: train/ and val/ must hold the same class folders (train: "
                        f"{', '.join(train)}; val: {', '.join(test)})")
    return train
