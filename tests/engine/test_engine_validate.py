"""Training validation: instance mAP50 with GT / model semantics, the best-metric choice, its config check."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from baiseg.config import ConfigError, load_config
from baiseg.data import build_dataset
from baiseg.engine.validate import MAP_KEYS, has_instance_gt, resolve_best_metric, validate
from baiseg.errors import BaisegError

sys.path.insert(0, str(Path(__file__).parent))
from engine_tiny_model import TinyBAISeg  # noqa: E402

SECONDARY = ("val_boundary_f", "val_boundary_p", "val_boundary_r", "val_miou")


def _val_set(load_instances: bool = True, num_images: int = 2, size: int = 128):
    return build_dataset("synthetic", split="val", load_instances=load_instances, num_images=num_images, size=size)


class OracleNet(nn.Module):
    """Stand-in "perfect" network: for the i-th call it returns the true instance contours of sample i as boundary
    logits and the ground-truth semantic map as semantic logits (void counted as background)."""

    def __init__(self, dataset, num_classes: int) -> None:
        super().__init__()
        self.samples = [dataset[i] for i in range(len(dataset))]
        self.num_classes = num_classes
        self.calls = 0

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        s = self.samples[self.calls]
        self.calls += 1
        kernel = np.ones((3, 3), np.uint8)
        edge = np.zeros(s["semantic"].shape, bool)
        for m in s["instances"]["masks"]:
            edge |= m & ~cv2.erode(m.astype(np.uint8), kernel).astype(bool)
        sem = torch.from_numpy(np.where(s["semantic"] == 255, 0, s["semantic"]).astype(np.int64))
        pad = (0, x.shape[-1] - sem.shape[1], 0, x.shape[-2] - sem.shape[0])
        sem_logits = F.one_hot(sem, self.num_classes).permute(2, 0, 1)[None].float() * 20.0
        boundary = torch.from_numpy(edge)[None, None].float() * 40.0 - 20.0
        return {"sem_logits": F.pad(sem_logits, pad), "boundary_logits": F.pad(boundary, pad, value=-20.0)}


def test_validate_reports_instance_map50_with_random_weights():
    ds = _val_set()
    cfg = load_config(None, ["train.val_max_images=2"])
    torch.manual_seed(0)
    model = TinyBAISeg(num_classes=len(ds.class_names) + 1, dim=4).train()
    state = torch.random.get_rng_state()
    out = validate(model, ds, cfg, torch.device("cpu"), len(ds.class_names) + 1)
    assert set(out) == set(SECONDARY) | set(MAP_KEYS)
    assert all(0.0 <= out[k] <= 1.0 for k in out), out
    assert model.training  # mode given back
    assert torch.equal(torch.random.get_rng_state(), state)  # no RNG use: resume stays bitwise


class TouchingObjects:
    """One hand-made image: two touching boxes of class 1 (30 and 50 px wide), a disc of class 2 with a void ring."""

    class_names = ["box", "disc"]

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> dict:
        h, w = 96, 136
        masks = np.zeros((3, h, w), bool)
        masks[0, 10:50, 10:40] = True
        masks[1, 10:50, 40:90] = True
        masks[2] = cv2.circle(np.zeros((h, w), np.uint8), (110, 70), 15, 1, -1).astype(bool)
        semantic = np.zeros((h, w), np.uint8)
        semantic[masks[0] | masks[1]] = 1
        ring = cv2.dilate(masks[2].astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~masks[2]
        semantic[masks[2]], semantic[ring] = 2, 255
        image = np.full((h, w, 3), 40, np.uint8)
        image[masks[0]], image[masks[1]], image[masks[2]] = (200, 60, 50), (180, 80, 60), (60, 90, 210)
        inst = {"masks": masks, "classes": np.array([1, 1, 2]), "crowd": np.zeros(3, bool)}
        return {"image": image, "semantic": semantic, "instances": inst, "image_id": "touching", "path": ""}


def test_perfect_model_scores_map50_one_and_merged_objects_score_less():
    ds = TouchingObjects()
    cfg = load_config(None)
    out = validate(OracleNet(ds, 3), ds, cfg, torch.device("cpu"), 3)
    assert out["val_map50_gt"] == pytest.approx(1.0) and out["val_map50_model"] == pytest.approx(1.0), out
    assert out["val_miou"] > 0.99

    class NoBoundaries(OracleNet):  # same semantics, no contours: the touching boxes become one mask
        def forward(self, x):
            out = super().forward(x)
            return {**out, "boundary_logits": torch.full_like(out["boundary_logits"], -20.0)}

    merged = validate(NoBoundaries(ds, 3), ds, cfg, torch.device("cpu"), 3)
    # box AP 0.5 (the merged mask covers the wider box with IoU 0.625, the narrow one is missed), disc AP 1
    assert merged["val_map50_gt"] == pytest.approx(0.75) and merged["val_map50_model"] == pytest.approx(0.75), merged


def test_oracle_on_synthetic_data_scores_high():
    """On the synthetic data a perfect network is not quite 1: occluded fragments and slivers lose their markers."""
    ds = _val_set(num_images=2, size=256)
    out = validate(OracleNet(ds, 4), ds, load_config(None), torch.device("cpu"), 4)
    assert out["val_map50_gt"] > 0.9 and out["val_map50_model"] > 0.9, out


def test_without_instances_only_the_secondary_figures():
    ds = _val_set(load_instances=False, num_images=1, size=64)
    assert not has_instance_gt(ds) and has_instance_gt(_val_set(num_images=1, size=64))
    k1 = len(ds.class_names) + 1
    out = validate(TinyBAISeg(num_classes=k1, dim=4), ds, load_config(None), torch.device("cpu"), k1)
    assert set(out) == set(SECONDARY)


def test_best_metric_auto_and_explicit():
    assert load_config(None).train.best_metric == "auto"
    assert resolve_best_metric("auto", has_instances=True) == "val_map50_gt"
    assert resolve_best_metric("auto", has_instances=False) == "val_boundary_f"
    assert resolve_best_metric("val_map50_model", has_instances=True) == "val_map50_model"
    assert resolve_best_metric("val_miou", has_instances=False) == "val_miou"
    with pytest.raises(BaisegError, match="needs instance ground truth"):
        resolve_best_metric("val_map50_gt", has_instances=False)


def test_invalid_best_metric_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.best_metric: expected one of auto \| val_map50_gt") as e:
        load_config(None, ["train.best_metric=map50"])
    assert "\n" not in str(e.value) and "'map50'" in str(e.value)
    (tmp_path / "c.yaml").write_text("train:\n  best_metric: val_f\n")
    with pytest.raises(ConfigError, match="train.best_metric"):
        load_config(tmp_path / "c.yaml")
    for name in ("auto", "val_map50_gt", "val_map50_model", "val_boundary_f", "val_miou"):
        assert load_config(None, [f"train.best_metric={name}"]).train.best_metric == name


def test_validation_target_uses_the_configured_void_fill(monkeypatch):
    # T in validation must be the T of training: data.contour.void_fill_px included (it was left at its default 3)
    import baiseg.data.contour as contour_mod

    seen = []
    real = contour_mod.semantic_contour

    def spy(semantic, **kw):
        seen.append(kw.get("void_fill_px", "default"))
        return real(semantic, **kw)

    monkeypatch.setattr(contour_mod, "semantic_contour", spy)
    ds = _val_set(load_instances=False, num_images=1, size=64)
    cfg = load_config(None, ["train.val_max_images=1", "data.contour.void_fill_px=0"])
    model = TinyBAISeg(num_classes=len(ds.class_names) + 1, dim=4)
    validate(model, ds, cfg, torch.device("cpu"), len(ds.class_names) + 1)
    assert seen == [0]
