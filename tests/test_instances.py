"""One implementation of the instances helpers (empty dict, RLE, results image id) shared by every writer."""

from __future__ import annotations

import json

import numpy as np
from pycocotools import mask as mask_util

import baiseg.evaluation.coco as coco_eval
import baiseg.evaluation.results as results
import baiseg.postprocess.assembly as assembly
import baiseg.sam.assembly as sam_assembly
from baiseg.instances import coco_image_id, empty_instances, encode_rle


def test_every_module_uses_the_one_implementation():
    for mod in (assembly, results, sam_assembly):
        assert mod.empty_instances is empty_instances
    for mod in (assembly, results, coco_eval):
        assert mod.encode_rle is encode_rle and mod.coco_image_id is coco_image_id


def test_empty_instances_dtypes():
    e = empty_instances(3, 4)
    assert e["masks"].shape == (0, 3, 4) and e["masks"].dtype == bool
    assert e["classes"].dtype == np.int64 and e["scores"].dtype == np.float32


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


def test_both_results_writers_encode_alike():
    rng = np.random.default_rng(1)
    inst = {"masks": rng.random((2, 6, 6)) > 0.4, "classes": np.array([1, 2]), "scores": np.array([0.5, 0.25])}
    a = results.instances_to_results("0042", inst, category_ids=[3, 9])
    b = assembly.to_coco_results(inst, "0042", [3, 9])
    keys = ("image_id", "category_id", "segmentation", "score")
    assert json.dumps([{k: r[k] for k in keys} for r in a]) == json.dumps([{k: r[k] for k in keys} for r in b])
