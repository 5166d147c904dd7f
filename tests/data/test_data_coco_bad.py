"""COCO JSON that the loader used to drop silently or crash on (issue 10 §1): each is a listed problem in
`data check` and a one-line DataError when the dataset is opened for use."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from baiseg.cli import main
from baiseg.data import build_dataset
from baiseg.data.check import check_dataset
from baiseg.data.coco import rasterise
from baiseg.errors import DataError


def edit_json(coco_yaml: Path, edit: Callable[[dict], None]) -> None:
    path = coco_yaml.parent / "instances.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))  # NaN / Infinity are written as JSON's NaN / Infinity tokens


def set_polygon(poly: list) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["annotations"][0]["segmentation"] = [poly]

    return edit


CASES = {
    "huge_coordinate": (set_polygon([1e12, 5, 5, 5, 5, 1e12]), "far outside the 32x24 image"),
    "nan_coordinate": (set_polygon([4.0, 6.0, float("nan"), 6.0, 12.0, 14.0]), "non-finite coordinate"),
    "inf_coordinate": (set_polygon([4.0, 6.0, float("inf"), 6.0, 12.0, 14.0]), "non-finite coordinate"),
    "four_coordinates": (set_polygon([4.0, 6.0, 12.0, 6.0]), "polygon of 4 coordinates"),
    "unknown_image_id": (lambda d: d["annotations"][0].update(image_id=99), "refers to image id 99"),
    "duplicate_image_id": (lambda d: d["images"][1].update(id=1), "image id 1 is used by both 'a.jpg' and 'b.jpg'"),
    "string_image_id": (lambda d: d["images"][0].update(id="a"), "has id 'a': COCO image ids are integers"),
    "string_annotation_image_id": (lambda d: d["annotations"][0].update(image_id="1"), "has image_id '1'"),
    "unnamed_category": (lambda d: d["categories"][1].pop("name"), "category id 18 has no name"),
    "empty_category_name": (lambda d: d["categories"][1].update(name=" "), "category id 18 has no name"),
    "unknown_category": (lambda d: d["annotations"][0].update(category_id=5), "category_id 5, which is not in"),
    "rle_of_other_size": (lambda d: d["annotations"][1]["segmentation"].update(size=[10, 10]), "RLE of size [10, 10]"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_coco_json_is_listed_by_check_and_refused_when_loading(coco_yaml: Path, case: str, capsys) -> None:
    edit, expected = CASES[case]
    edit_json(coco_yaml, edit)
    with pytest.raises(DataError) as e:
        build_dataset(coco_yaml)
    msg = str(e.value)
    assert "\n" not in msg and expected in msg and "baiseg data check" in msg
    report = check_dataset(build_dataset(coco_yaml, strict=False))
    assert sum(expected in p for p in report["problems"]) == 1, report["problems"]
    assert main(["data", "check", str(coco_yaml)]) == 1  # no crash, no traceback: the problem is listed
    assert expected in capsys.readouterr().out


def test_huge_polygon_never_reaches_pycocotools() -> None:
    with pytest.raises(DataError, match="far outside"):
        rasterise([[1e12, 5, 5, 5, 5, 1e12]], 24, 32, "annotation 1")
    with pytest.raises(DataError, match="non-finite"):
        rasterise([[1.0, 2.0, np.nan, 4.0, 5.0, 6.0]], 24, 32, "annotation 1")


def test_vertices_slightly_outside_the_image_are_fine(coco_yaml: Path) -> None:
    edit_json(coco_yaml, set_polygon([-3.0, -2.0, 40.0, -2.0, 40.0, 30.0, -3.0, 30.0]))
    sample = build_dataset(coco_yaml)[0]
    assert any(m.all() for m in sample["instances"]["masks"])  # clipped to the whole image


def test_clean_coco_has_no_errors(coco_yaml: Path) -> None:
    ds = build_dataset(coco_yaml)
    assert ds.errors == [] and check_dataset(ds)["problems"] == []
