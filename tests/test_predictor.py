"""Predictor API (issue 5): a tiny stand-in network with the model contract, image modes, large-image policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from baiseg.config import MEPConfig
from baiseg.errors import BaisegError
from baiseg.predictor import Predictor
from baiseg.segmenter import Instance, as_rgb_uint8


def _scene(h: int = 96, w: int = 130) -> np.ndarray:
    """Two touching squares of different grey levels on black."""
    img = np.zeros((h, w, 3), np.uint8)
    img[20:70, 15:60] = 120
    img[20:70, 60:110] = 220
    return img


def test_predict_two_touching_objects(edge_net):
    pred = Predictor(edge_net(), ["thing"], [7], mep=MEPConfig(min_area_px=50))
    out = pred.predict(_scene())
    assert len(out) == 2 and all(isinstance(i, Instance) for i in out)
    assert {i.class_name for i in out} == {"thing"} and {i.category_id for i in out} == {7}
    boxes = sorted(i.box for i in out)
    assert abs(boxes[0][0] - 15) <= 2 and abs(boxes[1][2] - 110) <= 2
    assert all(0 <= i.score <= 1 and i.mask.shape == (96, 130) for i in out)


def test_external_semantic_and_image_modes(edge_net):
    pred = Predictor(edge_net(), ["a", "b"], mep=MEPConfig(min_area_px=50))
    img = _scene()
    sem = np.zeros(img.shape[:2], np.uint8)
    sem[20:70, 15:60], sem[20:70, 60:110] = 1, 2
    out = pred.predict(img, semantic=sem)
    assert sorted(i.class_name for i in out) == ["a", "b"] and all(i.score > 0 for i in out)
    gray16 = img[..., 0].astype(np.uint16) * 257
    rgba = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    for variant in (gray16, rgba, img[..., 0], img.astype(np.float32) / 255):
        assert np.array_equal(as_rgb_uint8(variant), img)
        assert len(pred.predict(variant)) == 2
    with pytest.raises(BaisegError):
        pred.predict(img, semantic=sem[:10])


def test_large_image_policy_downscales_and_restores_size(edge_net):
    img = np.kron(_scene(), np.ones((4, 4, 1), np.uint8))  # 384 x 520
    pred = Predictor(edge_net(), ["thing"], mep=MEPConfig(min_area_px=50), max_side=200)
    inst, maps = pred.predict_instances(img)
    assert inst.masks.shape[1:] == (384, 520) and maps["boundary_prob"].shape[1] == 200
    assert len(inst.masks) == 2


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_mep_at_image_or_work_size_for_shrunk_images(edge_net):
    """mep_at=image runs the MEP on maps upsampled to the image's size; work on the shrunk maps, masks resized."""
    img = np.kron(_scene(), np.ones((4, 4, 1), np.uint8))  # 384 x 520; squares [80:280, 60:240], [80:280, 240:440]
    truth = np.zeros((2, 384, 520), bool)
    truth[0, 80:280, 60:240], truth[1, 80:280, 240:440] = True, True
    ious = {}
    for mep_at in ("image", "work"):
        pred = Predictor(edge_net(), ["thing"], mep=MEPConfig(min_area_px=50), max_side=130, mep_at=mep_at)
        inst, maps = pred.predict_instances(img)
        assert inst.masks.shape == (2, 384, 520) and maps["boundary_prob"].shape == (96, 130)
        assert maps["semantic"].shape == ((384, 520) if mep_at == "image" else (96, 130))
        order = np.argsort([m.nonzero()[1].mean() for m in inst.masks])
        ious[mep_at] = [_iou(inst.masks[k], t) for k, t in zip(order, truth)]
        assert min(ious[mep_at]) > 0.9, (mep_at, ious[mep_at])
    assert min(ious["image"]) >= min(ious["work"]) - 0.01  # at the image size, not coarser
    with pytest.raises(BaisegError, match="mep_at='nope'"):
        Predictor(edge_net(), ["thing"], mep_at="nope")


def test_mep_at_image_reports_semantic_ids_not_compact_ones():
    """Only model class 2 is present: the upsampled maps are compacted to (background, 2) and mapped back."""
    img = np.kron(_scene(), np.ones((3, 3, 1), np.uint8))
    pred = Predictor(ThreeClassNet(), ["zebra", "couch"], mep=MEPConfig(min_area_px=50), max_side=130)
    inst, maps = pred.predict_instances(img)
    assert len(inst.classes) and set(inst.classes.tolist()) == {2}
    assert maps["semantic"].shape == img.shape[:2] and set(np.unique(maps["semantic"]).tolist()) == {0, 2}
    work = Predictor(ThreeClassNet(), ["zebra", "couch"], mep=MEPConfig(min_area_px=50), max_side=130, mep_at="work")
    assert set(work.predict_instances(img)[0].classes.tolist()) == {2}


def test_odd_sizes_and_empty(edge_net):
    pred = Predictor(edge_net(), ["thing"])
    assert pred.predict(np.zeros((33, 47, 3), np.uint8)) == []
    with pytest.raises(BaisegError):
        as_rgb_uint8(np.zeros((4, 4, 5)))


class ThreeClassNet(nn.Module):
    """Semantic logits favour model class 2 ('couch') on bright pixels, class 1 ('zebra') nowhere."""

    input_norm = ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0))

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        fg = (x.mean(1, keepdim=True) > 0.1).float()
        sem = torch.cat([(1 - fg) * 5, fg * 1.0, fg * 4.0], 1) * self.w
        return {"sem_logits": sem, "boundary_logits": torch.full_like(fg, -8.0)}


def test_for_classes_maps_model_classes_by_name():
    pred = Predictor(ThreeClassNet(), ["zebra", "couch"], mep=MEPConfig(min_area_px=50))
    voc = pred.for_classes(["person", "sofa"], [15, 18])
    assert voc.model_class_names == ["zebra", "couch"] and pred.class_names == ["zebra", "couch"]
    maps = voc.infer(_scene())
    assert maps["sem_prob"].shape[0] == 3
    np.testing.assert_allclose(maps["sem_prob"].sum(0), 1.0, atol=1e-5)  # zebra's probability went to background
    out = voc.predict(_scene())
    assert out and {i.class_name for i in out} == {"sofa"} and {i.category_id for i in out} == {18}
    with pytest.raises(BaisegError, match="none of the model's classes"):
        pred.for_classes(["cat", "dog"])
    assert pred.for_classes(["zebra", "couch"]) is pred


def test_for_classes_takes_the_category_ids_when_the_names_match():
    pred = Predictor(ThreeClassNet(), ["zebra", "couch"], mep=MEPConfig(min_area_px=50))
    same = pred.for_classes(["zebra", "couch"], [7, 9])
    assert same.category_ids == [7, 9] and pred.category_ids == [1, 2]
    assert {i.category_id for i in same.predict(_scene())} <= {7, 9}
    assert pred.for_classes(["zebra", "couch"], [1, 2]) is pred


class _BadNet(nn.Module):
    """Returns the model contract's outputs with one non-finite value in ``where`` at pixel (5, 7)."""

    input_norm = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

    def __init__(self, where: str, value: float) -> None:
        super().__init__()
        self.where, self.value = where, value

    def forward(self, x: torch.Tensor, with_embeddings: bool = False) -> dict[str, torch.Tensor]:
        n, _, h, w = x.shape
        out = {"boundary_logits": torch.zeros(n, 1, h, w), "sem_logits": torch.zeros(n, 3, h, w)}
        out[self.where][:, -1, 5, 7] = self.value
        return out


@pytest.mark.parametrize("where", ["boundary_logits", "sem_logits"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_network_output_is_a_clear_error(where, value):
    from baiseg.predictor import NonFiniteOutputError

    pred = Predictor(_BadNet(where, value), ["a", "b"])
    with pytest.raises(NonFiniteOutputError, match="NaN or inf"):
        pred.infer(np.zeros((40, 50, 3), np.uint8))
    pred = Predictor(_BadNet(where, 0.5), ["a", "b"])
    assert pred.infer(np.zeros((40, 50, 3), np.uint8))["sem_prob"].shape == (3, 40, 50)
