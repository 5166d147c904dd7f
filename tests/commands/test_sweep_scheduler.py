"""``experiments/sweep.py`` evaluates through the one scheduler (``_voc``): its rows (cached network maps + the
MEP, GT or model semantics) and its reference rows (cc, dtws) score exactly as the per-sample facades did
(``Predictor.instances_from_maps``, ``instances_from_semantic`` through ``tests/evaluation/per_sample.py``); the
map cache is filled on the first pass and read on the second."""

from __future__ import annotations

import numpy as np
import pytest

from tests.evaluation.per_sample import per_sample_scores


@pytest.fixture
def val(tmp_path):
    from baiseg.data import build_dataset

    data = tmp_path / "syn.yaml"
    data.write_text("format: synthetic\nnum_images: 4\nsize: 64\nseed: 5\n")
    ds = build_dataset(str(data))
    return [ds[i] for i in range(len(ds))], ds


def test_rows_equal_the_per_sample_facade(tmp_path, val, rows_net):
    pytest.importorskip("torch")
    from baiseg.evaluation.maps import MapCache
    from baiseg.experiments.sweep import CachedMaps, _voc
    from baiseg.predictor import Predictor

    samples, ds = val
    pred = Predictor(rows_net(), list(ds.class_names), list(ds.category_ids))
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"stand-in")
    cache = MapCache(tmp_path / "maps", pred, weights)
    for semantic in ("gt", "model"):
        def facade(s, semantic=semantic):
            sem = np.asarray(s["semantic"]) if semantic == "gt" else None
            return pred.instances_from_maps(pred.infer(pred.working_image(s["image"])), s["semantic"].shape,
                                            semantic=sem, image=s["image"])[0]  # fmt: skip

        old = per_sample_scores(samples, facade, class_names=list(ds.class_names),
                                category_ids=list(ds.category_ids), coco=False)["all"]  # fmt: skip
        new = _voc(samples, CachedMaps(pred, cache), semantic, ds)
        assert new["voc"] == old["voc"] and new["images"] == old["images"] == 4
        assert new["voc_raw"]["num_gt"] == old["voc_raw"]["num_gt"]
        assert semantic == "model" or new["voc"]["mAP25"] > 0  # a score that can differ
    assert len(list((tmp_path / "maps").glob("*.npz"))) == 4  # one per image, the second pass read them


@pytest.mark.parametrize("method", ["cc", "dtws"])
def test_reference_rows_equal_the_per_sample_baseline(val, method):
    from baiseg.config import MEPConfig
    from baiseg.experiments.sweep import _voc
    from baiseg.inference.baselines import BaselineSegmenter
    from baiseg.postprocess import instances_from_semantic

    samples, ds = val
    mep = MEPConfig()
    old = per_sample_scores(samples, lambda s: instances_from_semantic(method, np.asarray(s["semantic"]),
                            image=s["image"], cfg=mep), class_names=list(ds.class_names),
                            category_ids=list(ds.category_ids), coco=False)["all"]  # fmt: skip
    new = _voc(samples, BaselineSegmenter(method, list(ds.class_names), mep), "gt", ds)
    assert new["voc"] == old["voc"] and new["images"] == old["images"] == 4 and new["voc"]["mAP50"] > 0
