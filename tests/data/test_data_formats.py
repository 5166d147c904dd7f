"""Each dataset format on small fixtures written in its real layout (see conftest.py)."""

from __future__ import annotations

import numpy as np

from baiseg.data import build_dataset
from baiseg.data.check import check_dataset
from baiseg.data.classes import VOC_CLASSES


def assert_sample_contract(s: dict, with_instances: bool = True) -> None:
    h, w = s["semantic"].shape
    assert s["image"].dtype == np.uint8 and s["image"].shape == (h, w, 3)
    assert s["semantic"].dtype == np.uint8
    assert isinstance(s["image_id"], str) and isinstance(s["path"], str)
    if with_instances:
        inst = s["instances"]
        n = len(inst["classes"])
        assert inst["masks"].dtype == bool and inst["masks"].shape == (n, h, w)
        assert inst["classes"].dtype == np.int64 and inst["crowd"].dtype == bool and inst["crowd"].shape == (n,)


def test_voc_val_instances_and_void_band(voc_yaml):
    ds = build_dataset(voc_yaml)
    assert len(ds) == 2 and ds.class_names == VOC_CLASSES and ds.category_ids == list(range(1, 21))
    s0, s1 = ds[0], ds[1]
    for s in (s0, s1):
        assert_sample_contract(s)
    assert s0["instances"]["classes"].tolist() == [8] and s0["instances"]["masks"][0].sum() == 64
    assert s1["instances"]["classes"].tolist() == [12, 12]
    assert (s1["semantic"][4:20, 15] == 255).all()  # the void band is kept as ignore
    assert s1["image_id"] == "2007_000002"


def test_voc_train_aug_uses_sbd_masks_without_instances(voc_yaml):
    ds = build_dataset(voc_yaml, split="train_aug", load_instances=True)
    assert len(ds) == 3
    s = ds[0]
    assert s["instances"] is None and set(np.unique(s["semantic"]).tolist()) == {0, 15}
    # an image that also has a SegmentationObject PNG gets instances (its class comes from the SBD mask)
    assert ds[2]["instances"] is not None


def test_coco_polygon_rle_and_crowd(coco_yaml):
    ds = build_dataset(coco_yaml)
    assert ds.class_names == ["person", "dog", "elephant"] and ds.category_ids == [1, 18, 22]
    s = ds[0]
    assert_sample_contract(s)
    sem, inst = s["semantic"], s["instances"]
    assert (sem[7:13, 5:11] == 2).all()  # the dog polygon
    assert (sem[12:20, 20:28] == 1).all()  # the person RLE
    assert (sem[0:4, :] == 255).all()  # the crowd region
    assert sorted(inst["classes"].tolist()) == [1, 1, 2] and inst["crowd"].sum() == 1
    assert inst["masks"][inst["crowd"]][0].sum() == 4 * 32
    assert ds[1]["instances"]["masks"].shape == (0, 24, 32)
    report = check_dataset(ds)
    assert report["images"] == 2 and report["instances"] == 2 and report["crowd"] == 1
    assert report["classes"] == ["person", "dog"] and report["problems"] == []


def test_coco_panoptic_things_only_crowd_ignored(panoptic_yaml):
    ds = build_dataset(panoptic_yaml)
    assert ds.class_names == ["person", "elephant"] and ds.category_ids == [1, 22]
    s = ds[0]
    assert_sample_contract(s)
    sem, inst = s["semantic"], s["instances"]
    assert (sem[2:12, 2:18] == 1).all() and (sem[14:20, 2:10] == 255).all() and (sem[14:20, 20:30] == 2).all()
    assert (sem[20:24] == 0).all()  # stuff -> background
    assert sem[0, 0] == 0  # unlabeled -> background by default
    assert inst["classes"].tolist() == [1, 1, 1, 2] and inst["crowd"].tolist() == [False, False, True, False]
    assert inst["masks"][0].sum() == 80 and not (inst["masks"][0] & inst["masks"][1]).any()


def test_coco_panoptic_voc_subset_and_unlabeled_ignore(panoptic_yaml, tmp_path):
    import yaml

    tree = yaml.safe_load(panoptic_yaml.read_text())
    tree.update(class_subset="voc", unlabeled="ignore")
    (tmp_path / "voc.yaml").write_text(yaml.safe_dump(tree))
    ds = build_dataset(tmp_path / "voc.yaml")
    assert ds.class_names == ["person"] and ds.category_ids == [1]
    s = ds[0]
    assert s["semantic"][0, 0] == 255
    assert (s["semantic"][14:20, 20:30] == 0).all()  # elephant is not a VOC class: background
    assert s["instances"]["classes"].tolist() == [1, 1, 1]


def test_instance_png_with_classes_file(instance_yaml):
    ds = build_dataset(instance_yaml)
    assert ds.class_names == ["person", "bike"] and len(ds) == 2
    s = ds[1]
    assert_sample_contract(s)
    assert s["instances"]["classes"].tolist() == [1, 2, 2]
    assert (s["semantic"][2:10, 2:10] == 1).all() and (s["semantic"][12:20, 4:12] == 2).all()
    assert check_dataset(ds)["instances"] == 5


def test_semantic_png_palette_and_index(semantic_yaml):
    ds = build_dataset(semantic_yaml)
    assert ds.class_names == ["road", "car"]
    for i in range(2):
        s = ds[i]
        assert_sample_contract(s, with_instances=False)
        assert s["instances"] is None
        assert set(np.unique(s["semantic"]).tolist()) == {0, i + 1, 255}


def test_load_instances_false_skips_instances(coco_yaml, panoptic_yaml):
    for y in (coco_yaml, panoptic_yaml):
        s = build_dataset(y, load_instances=False)[0]
        assert s["instances"] is None and s["semantic"].max() == 255
