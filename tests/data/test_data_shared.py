"""The shipped dataset YAMLs on the shared data folder (skipped when it is absent) and the `data` CLI."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from baiseg.cli import main
from baiseg.data import build_dataset
from baiseg.data.spec import DATASETS_DIR


def _check_json(capsys, path) -> dict:
    rc = main(["data", "check", str(path), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0, report["problems"][:3]
    return report


def test_coco128_panoptic_val_counts(shared_data, capsys):
    report = _check_json(capsys, DATASETS_DIR / "coco128_panoptic_val.yaml")
    assert report["images"] == 100 and report["instances"] == 707 and report["problems"] == []
    assert "person" in report["classes"] and len(report["classes"]) <= 80


def test_pennfudan_counts_and_fixed_split(shared_data, capsys):
    report = _check_json(capsys, DATASETS_DIR / "pennfudan.yaml")
    assert report["images"] == 170 and report["instances"] == 423 and report["classes"] == ["person"]
    train = build_dataset(DATASETS_DIR / "pennfudan_train.yaml")
    val = build_dataset(DATASETS_DIR / "pennfudan_val.yaml")
    ids_t, ids_v = {r["image_id"] for r in train.items}, {r["image_id"] for r in val.items}
    assert len(ids_t) == 120 and len(ids_v) == 50 and not ids_t & ids_v


def test_coco128_voc_subset(shared_data):
    ds = build_dataset(DATASETS_DIR / "coco128_voc_val.yaml", load_instances=False)
    assert len(ds) == 78 and len(ds.class_names) == 20 and "tvmonitor" in ds.class_names
    assert ds.category_ids[ds.class_names.index("aeroplane")] == 5  # COCO's id of airplane
    assert build_dataset(DATASETS_DIR / "coco128_voc_train.yaml").class_names == ds.class_names


def test_shipped_yamls_parse(shared_data):
    for y in sorted(DATASETS_DIR.glob("*.yaml")):
        assert len(build_dataset(y, load_instances=False)) > 0, y


def test_cli_check_text_and_show_sheets(tmp_path, capsys):
    (tmp_path / "syn.yaml").write_text("format: synthetic\nnum_images: 4\nsize: 128\nseed: 1\n")
    assert main(["data", "check", str(tmp_path / "syn.yaml")]) == 0
    out = capsys.readouterr().out
    assert "images    4 of 4 load" in out and "problems  0" in out
    assert main(["data", "show", "synthetic", "--out", str(tmp_path / "sheets"), "--n", "2"]) == 0
    sheets = sorted((tmp_path / "sheets").glob("*.png"))
    assert [p.name for p in sheets] == ["0000_synthetic_train_000000.png", "0001_synthetic_train_000001.png"]
    arr = np.asarray(Image.open(sheets[0]))
    assert arr.shape == (512, 512, 3)
    assert (arr[256:, :256] == 255).all(axis=2).sum() > 200  # the contour panel holds white contour pixels
