"""The evaluators per image subset (evaluation.run.SubsetEvaluators) and the network-map cache (evaluation.maps)."""

from __future__ import annotations

import numpy as np
import pytest

from baiseg.errors import BaisegError
from baiseg.evaluation.maps import MapCache, pack_maps, unpack_maps
from tests.evaluation.per_sample import per_sample_scores


def test_subset_evaluators_subsets_and_perfect_score(ev):
    touching = ev.sample([ev.box(2, 2, 10, 10), ev.box(2, 10, 10, 18)], [1, 1], image_id="a")
    apart = ev.sample([ev.box(12, 2, 20, 8)], [2], image_id="b")
    samples = [touching, apart]

    def perfect(s):
        gt = s["instances"]
        return ev.pred(gt["masks"], gt["classes"], np.linspace(1, 0.5, len(gt["classes"])))

    res = per_sample_scores(samples, perfect, class_names=["a", "b"], category_ids=[1, 2],
                            subsets=("all", "touching"), touching=[True, False])  # fmt: skip
    assert res["all"]["images"] == 2 and res["touching"]["images"] == 1
    assert res["all"]["voc"]["mAP50"] == 100.0 and res["all"]["coco"]["AP"] == 100.0

    def merged(s):  # the two touching boxes as one instance: half the GT found, at IoU 0.5 exactly the union
        gt = s["instances"]
        return ev.pred(gt["masks"].any(0, keepdims=True), gt["classes"][:1], [0.9])

    res = per_sample_scores(samples, merged, class_names=["a", "b"], category_ids=[1, 2], coco=False)
    assert res["all"]["voc"]["mAP25"] == pytest.approx(75.0)  # class a: recall 1/2 at precision 1; class b: 1
    assert res["all"]["coco"] is None
    with pytest.raises(ValueError, match="unknown subsets"):
        per_sample_scores(samples, merged, class_names=["a"], category_ids=[1], subsets=("some",))


def test_pack_unpack_keeps_what_the_mep_reads():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 20, 30)).astype(np.float32)
    logits[3] += 3  # class 3 wins almost everywhere, so some classes are absent from the arg-max
    prob = np.exp(logits) / np.exp(logits).sum(0, keepdims=True)
    maps = {"boundary_prob": rng.random((20, 30)).astype(np.float32), "sem_prob": prob}
    back = unpack_maps(pack_maps(maps))
    assert back["sem_prob"].shape == prob.shape
    assert np.array_equal(back["sem_prob"].argmax(0), prob.argmax(0))
    present = np.unique(prob.argmax(0))
    np.testing.assert_allclose(back["sem_prob"][present], prob[present], atol=1e-3)
    np.testing.assert_allclose(back["boundary_prob"], maps["boundary_prob"], atol=1e-3)


class _FakePredictor:
    class_names = ["a"]
    max_side = 64

    def __init__(self) -> None:
        self.calls = 0

    def working_image(self, rgb):
        return rgb

    def infer(self, image):
        self.calls += 1
        h, w = image.shape[:2]
        return {"boundary_prob": np.full((h, w), 0.25, np.float32), "sem_prob": np.ones((2, h, w), np.float32) / 2}


def test_map_cache_computes_once_and_refuses_other_weights(tmp_path):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"first")
    pred = _FakePredictor()
    cache = MapCache(tmp_path / "cache", pred, weights)
    sample = {"image": np.zeros((8, 12, 3), np.uint8), "image_id": "x"}
    first = cache.maps(sample)
    again = MapCache(tmp_path / "cache", pred, weights).maps(sample)
    assert pred.calls == 1 and np.array_equal(first["boundary_prob"], again["boundary_prob"])
    weights.write_bytes(b"second")
    with pytest.raises(BaisegError, match="other weights"):
        MapCache(tmp_path / "cache", pred, weights)
