"""``bench/common.py`` ``Bench.evaluate`` runs on the one scheduler (one ``scheduler.run`` per setting) and scores
exactly as the per-sample loop it replaced (``tests/evaluation/per_sample.py`` with ``instances_from_semantic`` for the
baselines on ground-truth semantics, ``Predictor.instances_from_maps`` on the cached maps for the rest), per subset
(all, touching), with COCO on and off."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the package `bench` lives at the repository root
from bench.common import Bench  # noqa: E402

del sys.path[0]

SUBSETS = ("all", "touching")


@pytest.fixture
def bench(tmp_path, monkeypatch):
    """A Bench of 4 synthetic images counting its scheduler runs in ``bench.runs``."""
    import baiseg.inference.scheduler as scheduler

    data = tmp_path / "syn.yaml"
    data.write_text("format: synthetic\nnum_images: 4\nsize: 64\nseed: 5\n")
    b = Bench(str(data))
    b.runs = []
    real = scheduler.run
    monkeypatch.setattr(scheduler, "run", lambda *a, **k: b.runs.append(1) or real(*a, **k))
    return b


def _old(b: Bench, predict, coco: bool) -> dict:
    from tests.evaluation.per_sample import per_sample_scores

    return per_sample_scores(b.samples, predict, class_names=b.class_names, category_ids=b.category_ids,
                             subsets=SUBSETS, coco=coco, touching=b.touching)  # fmt: skip


def _same(new: dict, old: dict) -> None:
    for s in SUBSETS:
        assert new[s]["voc"] == old[s]["voc"] and new[s]["coco"] == old[s]["coco"]
        assert new[s]["images"] == old[s]["images"]
        assert new[s]["voc_raw"]["num_gt"] == old[s]["voc_raw"]["num_gt"]


@pytest.mark.parametrize(("method", "coco"), [("cc", False), ("dtws", True)])
def test_baselines_on_gt_semantics_score_as_the_per_sample_loop(bench, method, coco):
    from baiseg.postprocess import instances_from_semantic

    mep = bench.mep()
    old = _old(bench, lambda s: instances_from_semantic(method, np.asarray(s["semantic"]), image=s["image"],
                                                        cfg=mep), coco)  # fmt: skip
    new = bench.evaluate(method, "gt", mep, coco=coco)
    _same(new, old)
    assert new["all"]["images"] == 4 and new["all"]["voc"]["mAP50"] > 0  # a score that can differ
    assert bench.runs == [1]


def test_predictor_on_cached_maps_scores_as_the_per_sample_loop(tmp_path, bench, rows_net):
    pytest.importorskip("torch")
    from baiseg.evaluation.maps import MapCache
    from baiseg.predictor import Predictor

    pred = Predictor(rows_net(), bench.class_names, bench.category_ids)
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"stand-in")
    bench.predictor, bench.cache = pred, MapCache(tmp_path / "maps", pred, weights)
    mep = bench.mep()
    for semantic in ("gt", "model"):
        def facade(s, semantic=semantic):
            sem = np.asarray(s["semantic"]) if semantic == "gt" else None
            return pred.instances_from_maps(pred.infer(pred.working_image(s["image"])), s["semantic"].shape,
                                            semantic=sem, image=s["image"])[0]  # fmt: skip

        _same(bench.evaluate("baiseg", semantic, mep, coco=True), _old(bench, facade, True))
    assert bench.runs == [1, 1]
    assert len(list((tmp_path / "maps").glob("*.npz"))) == 4  # filled on the first run, read on the second


def test_a_model_setting_without_weights_is_refused(bench):
    with pytest.raises(SystemExit, match="needs --weights"):
        bench.evaluate("cc", "model", bench.mep())
