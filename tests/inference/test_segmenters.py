"""The segmenters through the protocol: the single-image facade, the scheduler and the direct calls agree."""

from __future__ import annotations

import numpy as np
import pytest

from baiseg.config import MEPConfig
from baiseg.errors import BaisegError
from baiseg.inference.baselines import BaselineSegmenter
from baiseg.inference.protocol import Item, TwoStageSegmenter
from baiseg.inference.scheduler import run
from baiseg.postprocess.methods import instances_from_semantic
from baiseg.predictor import Predictor


def _scene(h: int = 96, w: int = 130, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    img = np.zeros((h, w, 3), np.uint8)
    img[20:70, 15 + shift:60] = 120
    img[20:70, 60:110 - shift] = 220
    sem = np.zeros((h, w), np.uint8)
    sem[20:70, 15 + shift:60], sem[20:70, 60:110 - shift] = 1, 2
    return img, sem


def _items(n: int, sizes=None) -> list[Item]:
    out = []
    for i in range(n):
        h, w = sizes[i] if sizes else (96, 130)
        img, sem = _scene(h, w, shift=i)
        out.append(Item(index=i, image_id=f"s{i}", image=img, semantic=sem))
    return out


def _run(items, seg, **kw):
    got = []
    run(items, seg, lambda p, inst, ex: got.append((p.image_id, inst)), **kw)
    return got


@pytest.mark.parametrize("method", ["cc", "dtws"])
@pytest.mark.parametrize("workers", [0, 2])
def test_baselines_through_the_scheduler_match_the_direct_call(method, workers):
    seg = BaselineSegmenter(method, ["a", "b"], MEPConfig())
    assert isinstance(seg, TwoStageSegmenter)
    items = _items(4)
    got = _run(items, seg, workers=workers, batch_size=2)
    assert [g[0] for g in got] == ["s0", "s1", "s2", "s3"]
    for it, (_, inst) in zip(items, got):
        ref = instances_from_semantic(method, it.semantic, cfg=MEPConfig())
        assert len(inst) == len(ref) > 0
        assert np.array_equal(inst.masks, ref.masks) and np.array_equal(inst.scores, ref.scores)


def test_baselines_refuse_ids_above_k_and_a_missing_map():
    img, sem = _scene()
    sem[0, 0] = 3
    with pytest.raises(BaisegError, match="'s0'"):
        _run([Item(index=0, image_id="s0", image=img, semantic=sem)], BaselineSegmenter("cc", ["a", "b"]))
    with pytest.raises(BaisegError, match="needs a semantic map"):
        _run([Item(index=0, image_id="s0", image=img)], BaselineSegmenter("cc", ["a", "b"]))


@pytest.mark.parametrize("mep_at", ["image", "work"])
def test_predictor_scheduler_and_facade_give_the_same_instances(edge_net, mep_at):
    pred = Predictor(edge_net(), ["a", "b"], mep=MEPConfig(min_area_px=50), max_side=64, mep_at=mep_at)
    items = _items(3, sizes=[(96, 130), (60, 50), (96, 130)])
    items[1].semantic = None  # the network's own semantic map
    got = _run(items, pred, workers=2, batch_size=2)
    for it, (_, inst) in zip(items, got):
        ref, maps = pred.predict_instances(it.image, semantic=it.semantic)
        assert len(inst) == len(ref) > 0
        for key in ("masks", "classes", "scores"):
            assert np.array_equal(getattr(inst, key), getattr(ref, key))
        assert maps["semantic"].max() <= 2


def test_predictor_finish_leaves_the_maps_it_used_in_the_extras(edge_net):
    pred = Predictor(edge_net(), ["a", "b"], mep=MEPConfig(min_area_px=50), max_side=64)
    got = []
    run(_items(1), pred, lambda p, inst, ex: got.append(ex))
    assert got[0]["boundary"].shape == (96, 130) and got[0]["semantic"].shape == (96, 130)


@pytest.mark.parametrize("workers", [0, 1])
def test_mobilesam_through_the_scheduler_matches_sam_instances(workers):
    pytest.importorskip("segment_anything")
    import torch

    from baiseg.inference.sam import SAMSegmenter
    from baiseg.sam import build_mobilesam, sam_instances
    from baiseg.sam.config import SAMConfig

    torch.manual_seed(0)
    model = build_mobilesam(img_size=64).eval()
    cfg = SAMConfig(points_per_side=8, pred_iou_thresh=-1, stability_score_thresh=0, min_area_px=4)
    items = _items(2, sizes=[(64, 80), (48, 64)])
    got = _run(items, SAMSegmenter(model, ["a", "b"], cfg), workers=workers)
    assert [g[0] for g in got] == ["s0", "s1"]
    for it, (_, inst) in zip(items, got):
        ref = sam_instances(it.image, it.semantic, model=model, cfg=cfg)
        assert len(inst) == len(ref) > 0
        assert np.array_equal(inst.masks, ref.masks) and np.array_equal(inst.scores, ref.scores)
