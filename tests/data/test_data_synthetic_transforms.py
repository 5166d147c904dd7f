"""The procedural synthetic dataset (deterministic, hard for connected components) and the seedable transforms."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from baiseg.config import DataConfig
from baiseg.data import build_dataset
from baiseg.data.transforms import EvalTransform, TrainTransform
from baiseg.errors import DataError


def test_synthetic_is_deterministic_and_sized():
    a = build_dataset("synthetic", num_images=3, size=[64, 80], seed=5)
    b = build_dataset("synthetic", num_images=3, size=[64, 80], seed=5)
    assert len(a) == 3 and a.class_names == ["disc", "box", "triangle"]
    s, t = a[2], b[2]
    assert s["image"].shape == (64, 80, 3) and s["semantic"].shape == (64, 80)
    assert np.array_equal(s["image"], t["image"]) and np.array_equal(s["semantic"], t["semantic"])
    assert not np.array_equal(s["image"], build_dataset("synthetic", num_images=3, size=[64, 80], seed=6)[2]["image"])
    val = build_dataset("synthetic", split="val", num_images=3, size=[64, 80], seed=5)
    assert not np.array_equal(val[2]["image"], s["image"])
    two = build_dataset("synthetic", num_images=2, size=64, num_classes=2)
    assert two.class_names == ["disc", "box"] and two[0]["semantic"][two[0]["semantic"] < 255].max() <= 2


def test_synthetic_instances_are_consistent_with_semantic():
    ds = build_dataset("synthetic", num_images=4, size=96)
    for i in range(4):
        s = ds[i]
        inst = s["instances"]
        assert inst["masks"].shape[0] == len(inst["classes"]) > 0
        assert inst["masks"].sum(0).max() == 1  # no overlap between visible masks
        for m, c in zip(inst["masks"], inst["classes"]):
            assert (s["semantic"][m] == c).all()
        assert ((s["semantic"] > 0) & (s["semantic"] < 255)).sum() == inst["masks"].sum()


def test_synthetic_is_not_solved_by_connected_components():
    """Fraction of instances that a connected component of their class matches with IoU >= 0.5."""
    ds = build_dataset("synthetic", num_images=12, size=128, seed=0)
    matched = total = 0
    for i in range(len(ds)):
        s = ds[i]
        inst = s["instances"]
        for c in np.unique(inst["classes"]):
            n, lab = cv2.connectedComponents((s["semantic"] == c).astype(np.uint8), connectivity=8)
            comps = [lab == k for k in range(1, n)]
            for m in inst["masks"][inst["classes"] == c]:
                total += 1
                ious = [(m & cc).sum() / (m | cc).sum() for cc in comps]
                matched += max(ious) >= 0.5
    assert total > 60
    assert matched / total < 0.6, f"{matched}/{total} instances already separated by connected components"


def test_synthetic_bad_arguments():
    with pytest.raises(DataError, match="size"):
        build_dataset("synthetic", size=8)
    with pytest.raises(DataError, match="num_classes"):
        build_dataset("synthetic", num_classes=5)


def test_train_transform_contract_and_seeding():
    ds = build_dataset("synthetic", num_images=2, size=100, load_instances=False)
    tf = TrainTransform.from_config(DataConfig(crop_size=64), mean=(127.0,) * 3, std=(128.0,) * 3)
    def view(i, seed):
        return tf(ds[i], np.random.default_rng(seed))

    b = view(1, 3)
    assert b["image"].shape == (3, 64, 64) and b["image"].dtype == torch.float32
    assert b["semantic"].shape == (64, 64) and b["semantic"].dtype == torch.int64
    assert b["contour"].dtype == torch.float32 and set(b["contour"].unique().tolist()) <= {0.0, 1.0, 255.0}
    assert torch.equal(view(1, 3)["image"], b["image"]) and torch.equal(view(1, 3)["contour"], b["contour"])
    assert not torch.equal(view(1, 4)["image"], b["image"])
    batch = torch.utils.data.default_collate([view(0, 3), view(1, 3)])
    assert batch["image"].shape == (2, 3, 64, 64) and batch["contour"].shape == (2, 64, 64)


def test_train_transform_pads_masks_with_ignore_and_flips():
    sample = {"image": np.full((20, 30, 3), 200, np.uint8), "semantic": np.ones((20, 30), np.uint8)}
    sample["semantic"][:, :15] = 2
    tf = TrainTransform(crop_size=40, scale_min=1.0, scale_max=1.0, hflip=False, color_jitter=0.0)
    out = tf(sample, np.random.default_rng(0))
    sem = out["semantic"].numpy()
    assert (sem[20:, :] == 255).all() and (sem[:, 30:] == 255).all() and (sem[:20, :15] == 2).all()
    assert (out["contour"].numpy()[:19, 14:16] == 1).all() and (out["contour"].numpy()[19] == 255).all()
    flipped = [tf.__class__(crop_size=20, scale_min=1.0, scale_max=1.0, hflip=True, color_jitter=0.0)(
        {"image": sample["image"][:, :20], "semantic": sample["semantic"][:, :20]}, np.random.default_rng(k)
    )["semantic"][0, 0].item() for k in range(8)]  # fmt: skip
    assert set(flipped) == {1, 2}


def test_eval_transform_keeps_resolution_and_instances():
    s = build_dataset("synthetic", num_images=1, size=[48, 64])[0]
    out = EvalTransform(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))(s)
    assert out["image"].shape == (3, 48, 64)
    assert np.allclose(out["image"].numpy().transpose(1, 2, 0), s["image"])
    assert out["instances"] is s["instances"] and out["semantic"].shape == (48, 64)
