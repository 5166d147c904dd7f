"""The Instances type and the one implementation of the instances helpers (boxes, RLE, results image id, the COCO
results serializer) shared by every producer and writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_util

import baiseg.evaluation.coco as coco_eval
import baiseg.postprocess.assembly as assembly
import baiseg.sam.assembly as sam_assembly
from baiseg.instances import Instances, InstancesError, box_xywh, coco_image_id, coco_results, encode_rle, mask_boxes


def test_every_module_uses_the_one_implementation():
    import baiseg.instances as module

    for mod in (assembly, sam_assembly, coco_eval):
        assert mod.Instances is Instances
    assert coco_eval.coco_results is coco_results and coco_eval.encode_rle is encode_rle
    # no instances dict left to convert to or from (issue 22): producers and consumers share the type
    assert not any(hasattr(Instances, n) for n in ("as_dict", "from_dict")) and not hasattr(module, "empty_instances")


def test_one_results_writer_in_the_package():
    # every COCO results file is written through coco_results: no other module builds "segmentation" entries
    root = Path(__file__).resolve().parents[1] / "baiseg"
    writers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                     if '"segmentation": rle,' in p.read_text() or "def to_coco_results" in p.read_text())  # fmt: skip
    assert writers == ["instances.py"]


def test_empty_instances_dtypes():
    e = Instances.empty(3, 4)
    assert len(e) == 0 and e.image_size == (3, 4) and e.masks.shape == (0, 3, 4) and e.masks.dtype == bool
    assert e.classes.dtype == np.int64 and e.scores.dtype == np.float32 and e.boxes().shape == (0, 4)
    assert e.to_coco("x") == [] and len(e.resize(6, 8)) == 0 and e.resize(6, 8).image_size == (6, 8)


def test_rle_and_image_id_match_pycocotools_and_the_coco_convention():
    rng = np.random.default_rng(0)
    masks = rng.random((3, 7, 5)) > 0.5
    rles = encode_rle(masks)
    ref = mask_util.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    assert [r["counts"] for r in rles] == [r["counts"].decode("ascii") for r in ref]
    assert all(r["size"] == [7, 5] for r in rles) and encode_rle(np.zeros((0, 7, 5), bool)) == []
    np.testing.assert_array_equal(mask_util.decode([dict(r, counts=r["counts"].encode()) for r in rles]),
                                  masks.transpose(1, 2, 0))  # fmt: skip
    assert coco_image_id("000000000139") == 139 and coco_image_id("pic_7") == "pic_7" and coco_image_id(5) == 5


def _instances(seed: int = 1) -> Instances:
    rng = np.random.default_rng(seed)
    masks = np.zeros((3, 12, 16), bool)
    masks[0, 1:5, 2:9] = True
    masks[1, 6:11, 0:4] = True
    masks[2] = rng.random((12, 16)) > 0.8
    return Instances(masks, np.array([1, 2, 2]), np.array([0.75, 0.5, 0.123456789123], np.float32))


def test_instances_type_boxes_select_resize():
    inst = _instances()
    assert len(inst) == 3 and inst.image_size == (12, 16) and inst.classes.dtype == np.int64
    np.testing.assert_array_equal(inst.boxes()[:2], [[2, 1, 9, 5], [0, 6, 4, 11]])
    assert box_xywh(inst.boxes()[0]) == [2.0, 1.0, 7.0, 4.0]
    assert mask_boxes(np.zeros((1, 4, 4), bool)).tolist() == [[0, 0, 0, 0]]
    picked = inst.select([2, 0])
    assert picked.classes.tolist() == [2, 1] and np.array_equal(picked.masks[1], inst.masks[0])
    assert len(inst.select(inst.scores > 0.6)) == 1 and len(Instances.empty(4, 5)) == 0
    big = inst.select([0, 1]).resize(24, 32)
    assert big.image_size == (24, 32) and big.masks.sum() == 4 * inst.select([0, 1]).masks.sum()
    np.testing.assert_array_equal(big.boxes(), 2 * inst.boxes()[:2])
    assert inst.resize(12, 16) is inst
    with pytest.raises(InstancesError, match="masks N x H x W"):
        Instances(np.zeros((2, 4, 4), bool), [1], [0.5])


def test_results_entries_have_no_bbox_and_load_with_mask_areas(tmp_path):
    # pycocotools' loadRes takes the area from "bbox" when a result has one (AP_small/medium/large by box area):
    # results carry the mask only, so the area is the mask's
    from pycocotools.coco import COCO

    inst = _instances()
    entries = inst.to_coco("000000000042", category_ids=[7, 9])
    assert [list(e) for e in entries] == [["image_id", "category_id", "segmentation", "score"]] * 3
    assert entries[2]["score"] == round(float(np.float32(0.123456789123)), 9) and entries[1]["category_id"] == 9
    assert coco_results(inst, "000000000042", [7, 9]) == entries
    gt = {"images": [{"id": 42, "height": 12, "width": 16}], "annotations": [],
          "categories": [{"id": 7, "name": "a"}, {"id": 9, "name": "b"}]}  # fmt: skip
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(entries))
    res = COCO(str(tmp_path / "gt.json")).loadRes(str(tmp_path / "res.json"))
    areas = [a["area"] for a in res.dataset["annotations"]]
    assert areas == [float(m.sum()) for m in inst.masks]
    assert [list(map(float, a["bbox"])) for a in res.dataset["annotations"]] == [box_xywh(b) for b in inst.boxes()]
