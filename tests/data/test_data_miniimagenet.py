"""Simon-Gabriel et al.'s 12-class Mini-ImageNet: the authors' ImageFolder layout, their
Resize(256) + CenterCrop(256), exact down-sampling, and files that are refused.

The image files are written here with Pillow (PNG: lossless, so pixels can be compared exactly).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from advgeom.data import downsample
from advgeom.data import miniimagenet as mi
from advgeom.errors import DataError, InputError


def _pixels(seed: int, h: int = 256, w: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def write_tree(root, classes=("cat", "dog", "ship"), per_class=(2, 1, 3), folder="imgnet12",
               h=256, w=256) -> dict:
    """``root/folder/{train,val}/<class>/i.png``; returns {(split, class, i): HxWx3 pixels}."""
    written = {}
    for split in ("train", "val"):
        for k, (name, n) in enumerate(zip(classes, per_class, strict=True)):
            d = root / folder / split / name
            d.mkdir(parents=True)
            for i in range(n):
                px = _pixels(100 * k + 10 * i + (split == "val"), h, w)
                Image.fromarray(px).save(d / f"{i}.png")
                written[(split, name, i)] = px
    return written


def test_round_trip_labels_and_class_interleaving(tmp_path):
    written = write_tree(tmp_path)
    x, y = mi.load_miniimagenet(root=tmp_path, split="train", classes=3)
    assert x.shape == (6, 3, 256, 256) and x.dtype == torch.float32
    # One image of each class in turn, classes by sorted folder name (cat 0, dog 1, ship 2).
    assert y.tolist() == [0, 1, 2, 0, 2, 2]
    order = [("cat", 0), ("dog", 0), ("ship", 0), ("cat", 1), ("ship", 1), ("ship", 2)]
    for row, (name, i) in enumerate(order):
        expected = torch.from_numpy(written[("train", name, i)]).permute(2, 0, 1).float() / 255
        assert torch.equal(x[row], expected)
    xt, yt = mi.load_miniimagenet(root=tmp_path, split="test", classes=3)  # test reads val/
    assert yt.tolist() == y.tolist()
    assert torch.equal(xt[0], torch.from_numpy(written[("val", "cat", 0)]).permute(2, 0, 1) / 255)


def test_limit_and_down_sampling_are_exact(tmp_path):
    write_tree(tmp_path, folder="miniimagenet")  # the other accepted folder name
    full, _ = mi.load_miniimagenet(root=tmp_path, classes=3)
    small, y = mi.load_miniimagenet(root=tmp_path, size=32, limit=4, classes=3)
    assert small.shape == (4, 3, 32, 32) and y.tolist() == [0, 1, 2, 0]
    assert torch.allclose(small, downsample(full[:4], 8), atol=1e-6)
    with pytest.raises(InputError, match="size must divide 256"):
        mi.load_miniimagenet(root=tmp_path, size=100, classes=3)
    with pytest.raises(InputError):
        mi.load_miniimagenet(root=tmp_path, limit=0, classes=3)


def test_shorter_side_to_256_then_center_crop(tmp_path):
    # 256 x 512 (h x w): already 256 high, so no resampling; the crop keeps columns 128..383.
    px = _pixels(7, 256, 512)
    path = tmp_path / "wide.png"
    Image.fromarray(px).save(path)
    assert np.array_equal(mi.read_image(path), px[:, 128:384].transpose(2, 0, 1))
    # A small image is enlarged to 256 (bilinear): a constant one stays constant.
    Image.fromarray(np.full((40, 60, 3), 77, np.uint8)).save(tmp_path / "small.png")
    out = mi.read_image(tmp_path / "small.png")
    assert out.shape == (3, 256, 256) and (out == 77).all()


def test_jpeg_and_grey_images_are_read_as_rgb(tmp_path):
    Image.fromarray(np.full((300, 300), 200, np.uint8), mode="L").save(tmp_path / "g.JPEG")
    out = mi.read_image(tmp_path / "g.JPEG")
    assert out.shape == (3, 256, 256) and np.abs(out.astype(int) - 200).max() <= 2


def test_other_formats_and_broken_files_are_refused(tmp_path):
    Image.fromarray(_pixels(1, 64, 64)).save(tmp_path / "really.gif", format="GIF")
    (tmp_path / "really.gif").rename(tmp_path / "fake.jpg")
    with pytest.raises(DataError, match="fake.jpg is not a readable JPEG or PNG"):
        mi.read_image(tmp_path / "fake.jpg")
    good = tmp_path / "cut.png"
    Image.fromarray(_pixels(2)).save(good)
    good.write_bytes(good.read_bytes()[:200])  # truncated
    with pytest.raises(DataError, match="cut.png"):
        mi.read_image(good)
    (tmp_path / "text.png").write_text("#!/bin/sh\necho not an image\n")
    with pytest.raises(DataError, match="text.png"):
        mi.read_image(tmp_path / "text.png")


def test_a_missing_split_names_where_it_looked_and_what_to_supply(tmp_path):
    (tmp_path / "imgnet12" / "train" / "cat").mkdir(parents=True)
    with pytest.raises(DataError) as err:
        mi.locate_miniimagenet_files(root=tmp_path, split="test")
    message = str(err.value)
    assert "Mini-ImageNet" in message and "imgnet12/val/<class>/" in message
    assert str(tmp_path / "imgnet12" / "val") in message and "--data-dir" in message
    with pytest.raises(DataError, match="holds cat; needs images in cat"):
        mi.locate_miniimagenet_files(root=tmp_path, split="train")
    Image.fromarray(_pixels(3)).save(tmp_path / "imgnet12" / "train" / "cat" / "0.png")
    with pytest.raises(DataError, match="has cat; lacks two or more class folders"):
        mi.locate_miniimagenet_files(root=tmp_path, split="train")


def test_class_folders_are_checked(tmp_path):
    write_tree(tmp_path)
    with pytest.raises(DataError, match="needs 12 class folders, found 3"):
        mi.load_miniimagenet(root=tmp_path)  # the paper's 12 by default
    (tmp_path / "imgnet12" / "val" / "ship").rename(tmp_path / "imgnet12" / "val" / "boat")
    with pytest.raises(DataError, match="same class folders"):
        mi.load_miniimagenet(root=tmp_path, classes=3)
    empty = tmp_path / "imgnet12" / "train" / "zebra"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match="images in zebra"):
        mi.locate_miniimagenet_files(root=tmp_path, split="train")
