"""Small datasets written in the real layouts (VOC tree, COCO JSON, panoptic PNG, PNG folders)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools import mask as mask_utils

from baiseg.data.io import voc_palette

H, W = 24, 32


def save_palette(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(arr.astype(np.uint8), mode="P")
    img.putpalette(voc_palette().flatten().tolist())
    img.save(path)


def save(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def rgb(seed: int, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def write_yaml(path: Path, tree: dict) -> Path:
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.fixture
def voc_yaml(tmp_path: Path) -> Path:
    """VOC tree: 2 val images (cat + two touching dogs with a void band), 3 train_aug images (SBD, no objects)."""
    root = tmp_path / "VOC2012"
    for i, stem in enumerate(["2007_000001", "2007_000002"]):
        save(root / "JPEGImages" / f"{stem}.jpg", rgb(i))
        cls = np.zeros((H, W), np.uint8)
        obj = np.zeros((H, W), np.uint8)
        if i == 0:
            cls[2:10, 2:10], obj[2:10, 2:10] = 8, 1  # cat
        else:
            cls[4:20, 2:15], obj[4:20, 2:15] = 12, 1  # dog 1
            cls[4:20, 16:30], obj[4:20, 16:30] = 12, 2  # dog 2
            cls[4:20, 15], obj[4:20, 15] = 255, 255  # VOC's void band between them
        save_palette(root / "SegmentationClass" / f"{stem}.png", cls)
        save_palette(root / "SegmentationObject" / f"{stem}.png", obj)
    for i, stem in enumerate(["2008_000001", "2008_000002", "2007_000001"]):
        if not (root / "JPEGImages" / f"{stem}.jpg").exists():
            save(root / "JPEGImages" / f"{stem}.jpg", rgb(10 + i))
        aug = np.zeros((H, W), np.uint8)
        aug[5:15, 5:15] = 15
        save(root / "SegmentationClassAug" / f"{stem}.png", aug)  # index (mode L) PNGs
    sets = root / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True)
    (sets / "val.txt").write_text("2007_000001\n2007_000002\n")
    (sets / "train.txt").write_text("2007_000001\n")
    aug_sets = root / "ImageSets" / "SegmentationAug"
    aug_sets.mkdir(parents=True)
    (aug_sets / "train_aug.txt").write_text("2008_000001\n2008_000002\n2007_000001\n")
    return write_yaml(tmp_path / "voc.yaml", {"format": "voc", "root": "VOC2012", "split": "val"})


@pytest.fixture
def coco_yaml(tmp_path: Path) -> Path:
    """COCO instances JSON: one image with a polygon (cat 18 dog), a compressed RLE (cat 1 person), an
    uncompressed-RLE crowd region (person); a second image with no annotation."""
    for i, name in enumerate(["a.jpg", "b.jpg"]):
        save(tmp_path / "images" / name, rgb(i))
    rle_mask = np.zeros((H, W), np.uint8, order="F")
    rle_mask[12:20, 20:28] = 1
    rle = mask_utils.encode(np.asfortranarray(rle_mask))
    rle["counts"] = rle["counts"].decode("ascii")
    crowd = np.zeros((H, W), np.uint8)
    crowd[0:4, :] = 1
    flat = crowd.flatten(order="F")
    counts, cur, run = [], 0, 0
    for v in flat:
        if v != cur:
            counts.append(run)
            cur, run = v, 0
        run += 1
    counts.append(run)
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": H, "width": W},
                   {"id": 2, "file_name": "b.jpg", "height": H, "width": W}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 18, "iscrowd": 0, "area": 64,
             "segmentation": [[4.0, 6.0, 12.0, 6.0, 12.0, 14.0, 4.0, 14.0]]},
            {"id": 11, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 64, "segmentation": rle},
            {"id": 12, "image_id": 1, "category_id": 1, "iscrowd": 1, "area": 128,
             "segmentation": {"size": [H, W], "counts": counts}},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}, {"id": 22, "name": "elephant"}],
    }  # fmt: skip
    (tmp_path / "instances.json").write_text(json.dumps(data))
    return write_yaml(tmp_path / "coco.yaml", {"format": "coco", "images": "images", "annotations": "instances.json"})


@pytest.fixture
def panoptic_yaml(tmp_path: Path) -> Path:
    """Panoptic: two touching persons, a crowd of persons, an elephant, a stuff segment and unlabeled pixels."""
    save(tmp_path / "images" / "000000000001.jpg", rgb(3))
    ids = np.zeros((H, W), np.int64)
    segs = [(1001, 1, 0, (slice(2, 12), slice(2, 10))), (1002, 1, 0, (slice(2, 12), slice(10, 18))),
            (70000, 1, 1, (slice(14, 20), slice(2, 10))), (300, 22, 0, (slice(14, 20), slice(20, 30))),
            (5, 184, 0, (slice(20, 24), slice(0, 32)))]  # fmt: skip
    for sid, _, _, sl in segs:
        ids[sl] = sid
    png = np.stack([ids % 256, (ids // 256) % 256, ids // 65536], axis=-1).astype(np.uint8)
    save(tmp_path / "panoptic" / "000000000001.png", png)
    data = {
        "images": [{"id": 1, "file_name": "000000000001.jpg", "height": H, "width": W}],
        "annotations": [{"image_id": 1, "file_name": "000000000001.png", "segments_info": [
            {"id": sid, "category_id": c, "iscrowd": crowd} for sid, c, crowd, _ in segs]}],
        "categories": [{"id": 1, "name": "person", "isthing": 1}, {"id": 22, "name": "elephant", "isthing": 1},
                       {"id": 184, "name": "tree-merged", "isthing": 0}],
    }  # fmt: skip
    (tmp_path / "panoptic.json").write_text(json.dumps(data))
    tree = {"format": "coco_panoptic", "images": "images", "annotations": "panoptic.json", "masks": "panoptic"}
    return write_yaml(tmp_path / "panoptic.yaml", tree)


@pytest.fixture
def instance_yaml(tmp_path: Path) -> Path:
    """Penn-Fudan-like layout with two classes given per instance in a side file."""
    for i in range(2):
        save(tmp_path / "PNGImages" / f"img{i}.png", rgb(20 + i))
        m = np.zeros((H, W), np.uint8)
        m[2:10, 2:10] = 1
        m[2:10, 10:18] = 2  # touching instance
        if i == 1:
            m[12:20, 4:12] = 3
        save(tmp_path / "PedMasks" / f"img{i}_mask.png", m)
    (tmp_path / "classes.txt").write_text("# stem id class\nimg0 1 person\nimg0 2 person\n"
                                          "img1 1 person\nimg1 2 bike\nimg1 3 bike\n")  # fmt: skip
    tree = {"format": "instance_png", "images": "PNGImages", "masks": "PedMasks", "mask_suffix": "_mask",
            "classes": ["person", "bike"], "classes_file": "classes.txt"}  # fmt: skip
    return write_yaml(tmp_path / "inst.yaml", tree)


@pytest.fixture
def semantic_yaml(tmp_path: Path) -> Path:
    """Semantic PNGs: one palette PNG, one index PNG."""
    for i in range(2):
        save(tmp_path / "img" / f"s{i}.jpg", rgb(30 + i))
        m = np.zeros((H, W), np.uint8)
        m[3:9, 3:9] = 1 + i
        m[0, 0] = 255
        (save_palette if i == 0 else save)(tmp_path / "sem" / f"s{i}.png", m)
    tree = {"format": "semantic_png", "images": "img", "masks": "sem", "classes": ["road", "car"]}
    return write_yaml(tmp_path / "sem.yaml", tree)
