"""The ``instance_folders`` format (a folder per image, one mask PNG per instance: the Kaggle DSB layout)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from baiseg.cli import main
from baiseg.data import build_dataset
from baiseg.data.spec import DATASETS_DIR
from baiseg.errors import DataError
from baiseg.evaluation.coco import COCOInstanceEvaluator


def _write_image_folder(root, image_id, masks, mode="RGBA", size=(40, 50), class_dirs=None):
    """<root>/<id>/images/<id>.png and one 0/255 PNG per mask in <id>/masks/ (or masks/<class>/)."""
    h, w = size
    (root / image_id / "images").mkdir(parents=True)
    rgb = np.random.default_rng(0).integers(0, 255, (h, w, 4 if mode == "RGBA" else 3), dtype=np.uint8)
    Image.fromarray(rgb, mode).save(root / image_id / "images" / f"{image_id}.png")
    for i, m in enumerate(masks):
        folder = root / image_id / "masks" / (class_dirs[i] if class_dirs else "")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((m * 255).astype(np.uint8)).save(folder / f"{image_id}_{i}.png")


def _box(y0, y1, x0, x1, size=(40, 50)):
    m = np.zeros(size, bool)
    m[y0:y1, x0:x1] = True
    return m


@pytest.fixture
def folders_yaml(tmp_path):
    root = tmp_path / "stage1"
    # two touching nuclei (their masks share a border, not pixels), one alone; an RGBA and an RGB image
    _write_image_folder(root, "aaa", [_box(5, 15, 5, 15), _box(5, 15, 15, 25), _box(25, 35, 30, 45)])
    _write_image_folder(root, "bbb", [_box(2, 8, 2, 8), np.zeros((40, 50), bool)], mode="RGB")
    (tmp_path / "split.txt").write_text("bbb\naaa\n")
    spec = {"format": "instance_folders", "root": "stage1", "classes": ["nucleus"], "list": "split.txt"}
    path = tmp_path / "ds.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_instance_folders_samples(folders_yaml):
    ds = build_dataset(folders_yaml)
    assert [r["image_id"] for r in ds.items] == ["bbb", "aaa"]  # the list file's order
    s = ds[1]
    assert s["image"].shape == (40, 50, 3) and s["image"].dtype == np.uint8  # alpha dropped
    inst = s["instances"]
    assert inst["masks"].shape == (3, 40, 50) and inst["classes"].tolist() == [1, 1, 1]
    assert inst["masks"].sum(axis=(1, 2)).tolist() == [100, 100, 150]
    assert (s["semantic"] == 1).sum() == 350 and set(np.unique(s["semantic"]).tolist()) == {0, 1}
    assert ds[0]["instances"]["masks"].shape[0] == 1  # the empty mask file is no instance
    assert build_dataset(folders_yaml, load_instances=False)[1]["instances"] is None


def test_instance_folders_data_check_and_problems(folders_yaml, capsys):
    root = folders_yaml.parent / "stage1"
    (root / "ccc" / "images").mkdir(parents=True)  # no image, not in the list: not indexed
    spec = yaml.safe_load(folders_yaml.read_text())
    del spec["list"]
    path = folders_yaml.parent / "all.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["data", "check", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 2 and report["instances"] == 4
    assert len(report["problems"]) == 2 and "must hold exactly one image" in report["problems"][0]
    assert "bbb_1.png' holds no pixel: it is no instance" in report["problems"][1]  # was not listed (campaign 5, D02)


def test_instance_folders_bad_mask_size_is_a_clear_error(tmp_path):
    root = tmp_path / "r"
    _write_image_folder(root, "x", [_box(1, 5, 1, 5)])
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "x" / "masks" / "small.png")
    ds = build_dataset({"format": "instance_folders", "root": str(root)})
    with pytest.raises(DataError, match="every instance mask must have its image's size"):
        ds[0]


def test_instance_folders_several_classes_in_sub_folders(tmp_path):
    root = tmp_path / "r"
    _write_image_folder(root, "x", [_box(1, 5, 1, 5), _box(10, 20, 10, 20)], class_dirs=["b", "a"])
    ds = build_dataset({"format": "instance_folders", "root": str(root), "classes": ["a", "b"]})
    s = ds[0]
    assert s["instances"]["classes"].tolist() == [1, 2]  # sub-folders in name order: a, then b
    assert s["semantic"][2, 2] == 2 and s["semantic"][15, 15] == 1
    _write_image_folder(tmp_path / "r2", "y", [_box(1, 5, 1, 5)])
    ds2 = build_dataset({"format": "instance_folders", "root": str(tmp_path / "r2"), "classes": ["a", "b"]})
    with pytest.raises(DataError, match="put each class's masks in"):
        ds2[0]


def test_coco_evaluator_raises_the_detection_limit_for_dense_images():
    n, size = 120, (24, 300)
    masks = np.zeros((n, *size), bool)
    for i in range(n):
        masks[i, (i // 60) * 12:(i // 60) * 12 + 10, (i % 60) * 5:(i % 60) * 5 + 4] = True
    sample = {"image_id": "dense", "semantic": masks.any(0).astype(np.uint8),
              "instances": {"masks": masks, "classes": np.ones(n, np.int64), "crowd": np.zeros(n, bool)}}
    pred = {"masks": masks, "classes": np.ones(n, np.int64), "scores": np.linspace(1, 0.5, n).astype(np.float32)}
    adaptive, capped = COCOInstanceEvaluator(1), COCOInstanceEvaluator(1, max_dets=100)
    for ev in (adaptive, capped):
        ev.process(sample, pred)
    assert adaptive.max_dets == 120
    assert adaptive.evaluate()["AP"] == pytest.approx(1.0)
    assert capped.evaluate()["AP"] < 0.9  # 20 of the 120 perfect masks are cut off by COCO's default limit


def test_dsb2018_split(shared_data):
    train = build_dataset(DATASETS_DIR / "dsb2018_train.yaml", load_instances=False)
    val = build_dataset(DATASETS_DIR / "dsb2018_val.yaml")
    assert len(train) == 45 and len(val) == 20
    assert not {r["image_id"] for r in train.items} & {r["image_id"] for r in val.items}
    s = val[0]
    assert s["image"].shape[2] == 3 and s["instances"]["masks"].shape[0] > 0
    assert not (s["instances"]["masks"].sum(0) > 1).any()  # the data's masks do not overlap
