"""Bad input: every case gets a one-line DataError naming the file and the fix; `data check` lists, not fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from baiseg.cli import main
from baiseg.data import build_dataset
from baiseg.data.check import check_dataset
from baiseg.data.io import read_image, read_label_png, voc_palette
from baiseg.errors import DataError


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400
    return msg


def test_missing_mask_and_image_are_listed(instance_yaml):
    root = instance_yaml.parent
    (root / "PedMasks" / "img0_mask.png").unlink()
    ds = build_dataset(instance_yaml)
    assert len(ds) == 1
    report = check_dataset(ds)
    assert any("img0.png' has no mask" in p and "img0_mask.png" in p for p in report["problems"])


def test_missing_file_at_load_time_names_it(semantic_yaml):
    ds = build_dataset(semantic_yaml)
    Path(ds.items[0]["image"]).unlink()
    with pytest.raises(DataError) as e:
        ds[0]
    assert "s0.jpg' does not exist" in one_line(e)


def test_unreadable_image(semantic_yaml):
    (semantic_yaml.parent / "img" / "s1.jpg").write_bytes(b"not a jpeg at all")
    ds = build_dataset(semantic_yaml)
    with pytest.raises(DataError) as e:
        ds[1]
    assert "s1.jpg' cannot be read" in one_line(e)
    report = check_dataset(ds)
    assert report["images"] == 1 and len(report["problems"]) == 1 and "s1.jpg" in report["problems"][0]


def test_size_mismatch(semantic_yaml):
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(semantic_yaml.parent / "sem" / "s1.png")
    with pytest.raises(DataError) as e:
        build_dataset(semantic_yaml)[1]
    msg = one_line(e)
    assert "s1.png' is 10x10 but image" in msg and "24x32" in msg


def test_class_ids_outside_class_list(semantic_yaml):
    m = np.zeros((24, 32), np.uint8)
    m[0:3, 0:3] = 7
    Image.fromarray(m).save(semantic_yaml.parent / "sem" / "s1.png")
    with pytest.raises(DataError) as e:
        build_dataset(semantic_yaml)[1]
    msg = one_line(e)
    assert "s1.png' has class ids [7] outside the class list" in msg and "sem.yaml" in msg


def test_rgb_coloured_mask_where_palette_expected_is_converted(voc_yaml):
    path = voc_yaml.parent / "VOC2012" / "SegmentationClass" / "2007_000002.png"
    idx = np.asarray(Image.open(path))
    Image.fromarray(voc_palette()[idx]).save(path)  # the same labels, saved as RGB colours
    assert Image.open(path).mode == "RGB"
    s = build_dataset(voc_yaml)[1]
    assert np.array_equal(s["semantic"], idx) and s["instances"]["classes"].tolist() == [12, 12]


def test_rgb_mask_with_unknown_colours(tmp_path):
    arr = np.zeros((4, 4, 3), np.uint8)
    arr[0, 0] = (1, 2, 3)
    Image.fromarray(arr).save(tmp_path / "m.png")
    with pytest.raises(DataError) as e:
        read_label_png(tmp_path / "m.png")
    assert "outside the VOC palette" in one_line(e) and "m.png" in str(e.value)


def test_rgba_grayscale_16bit_images_and_16bit_labels(tmp_path):
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    Image.fromarray(np.full((5, 6), 77, np.uint8)).save(tmp_path / "gray.png")
    Image.fromarray(np.full((5, 6), 65535, np.uint16)).save(tmp_path / "g16.png")
    a, g, g16 = (read_image(tmp_path / n) for n in ("rgba.png", "gray.png", "g16.png"))
    assert a.shape == g.shape == g16.shape == (5, 6, 3) and a.dtype == g.dtype == g16.dtype == np.uint8
    assert (a[..., 0] == 200).all() and (g == 77).all() and (g16 == 255).all()
    ids = np.arange(30, dtype=np.uint16).reshape(5, 6) * 300
    Image.fromarray(ids).save(tmp_path / "ids16.png")
    assert np.array_equal(read_label_png(tmp_path / "ids16.png"), ids.astype(np.int64))


def test_empty_dataset(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "sem").mkdir()
    (tmp_path / "d.yaml").write_text(yaml.safe_dump({"format": "semantic_png", "images": "img", "masks": "sem",
                                                      "classes": ["a"]}))  # fmt: skip
    with pytest.raises(DataError) as e:
        build_dataset(tmp_path / "d.yaml")
    assert "d.yaml' has no usable images" in one_line(e)


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ({"format": "semantic_png", "images": "img", "masks": "sem", "classes": ["a"], "colour": 1},
         "unknown key(s) colour for format 'semantic_png'. Valid keys:"),
        ({"format": "semantic_png", "images": "nowhere", "masks": "sem", "classes": ["a"]},
         "images '"),
        ({"format": "cocoo"}, "'format' must be one of voc, coco"),
        ({"format": "semantic_png", "images": "img", "masks": "sem"}, "needs 'classes'"),
        ({"format": "coco", "images": "img"}, "needs the key 'annotations'"),
        ({"format": "voc", "root": "missing_root"}, "root folder"),
    ],
)  # fmt: skip
def test_bad_yaml_keys_and_paths(tmp_path, tree, expected):
    (tmp_path / "img").mkdir()
    (tmp_path / "sem").mkdir()
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(tree))
    with pytest.raises(DataError) as e:
        build_dataset(tmp_path / "d.yaml")
    msg = one_line(e)
    assert expected in msg and "d.yaml" in msg


def test_missing_and_malformed_yaml_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        build_dataset(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("format: [unclosed\n")
    with pytest.raises(DataError) as e:
        build_dataset(tmp_path / "bad.yaml")
    assert "is not valid YAML" in one_line(e)


def test_cli_check_lists_problems_and_cli_errors_are_one_line(semantic_yaml, capsys, tmp_path):
    (semantic_yaml.parent / "img" / "s1.jpg").write_bytes(b"\x00garbage")
    assert main(["data", "check", str(semantic_yaml), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 1 and report["classes"] == ["road"] and len(report["problems"]) == 1
    assert main(["data", "check", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("baiseg data: error:") and "missing.yaml' does not exist" in err and "\n" not in err
    assert main(["data", "check", str(tmp_path / "missing.yaml"), "--json"]) == 1
    assert "does not exist" in json.loads(capsys.readouterr().out)["problems"][0]
