"""VOC ``SegmentationClass`` void bands (issue 10 §2): T must hold the object contours, not the instance outlines
between touching objects of one class; an empty T is reported. Fixture: a VOC tree with the real palette and a
5-px void band drawn along every object outline, as in VOC 2012."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from baiseg.config import LossConfig
from baiseg.data import build_dataset
from baiseg.data.check import check_dataset
from baiseg.data.contour import fill_void_bands, semantic_contour
from baiseg.data.transforms import TrainTransform
from baiseg.losses import BAISegCriterion, EmptyContourWarning

from .conftest import rgb, save, save_palette, write_yaml

H, W = 64, 80
CAT, DOG, PERSON = 8, 12, 15


def voc_with_bands() -> tuple[np.ndarray, np.ndarray]:
    """``(cls, obj)`` uint8 H x W: a cat alone, two touching dogs, a person; 255 on a 5-px band along each object
    outline (pixels within 2 px of an object-id change), as VOC draws them."""
    obj = np.zeros((H, W), np.uint8)
    cls = np.zeros((H, W), np.uint8)
    obj[8:28, 6:26], cls[8:28, 6:26] = 1, CAT
    obj[34:58, 6:30], cls[34:58, 6:30] = 2, DOG
    obj[34:58, 30:54], cls[34:58, 30:54] = 3, DOG  # touches dog 2 along x = 29 | 30
    obj[4:24, 44:72], cls[4:24, 44:72] = 4, PERSON
    k = np.ones((5, 5), np.uint8)
    change = cv2.dilate(obj, k) != cv2.erode(obj, k)  # within 2 px of an id change
    cls[change], obj[change] = 255, 255
    return cls, obj


@pytest.fixture
def voc_band_yaml(tmp_path: Path) -> Path:
    root = tmp_path / "VOC2012"
    cls, obj = voc_with_bands()
    for i, stem in enumerate(["2007_000032", "2007_000033"]):
        save(root / "JPEGImages" / f"{stem}.jpg", rgb(i, H, W))
        save_palette(root / "SegmentationClass" / f"{stem}.png", cls)
        save_palette(root / "SegmentationObject" / f"{stem}.png", obj)
    sets = root / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True)
    (sets / "train.txt").write_text("2007_000032\n2007_000033\n")
    return write_yaml(tmp_path / "voc.yaml", {"format": "voc", "root": "VOC2012", "split": "train"})


def test_fixture_is_a_real_voc_palette_png_with_bands(voc_band_yaml: Path) -> None:
    from PIL import Image

    png = Image.open(voc_band_yaml.parent / "VOC2012" / "SegmentationClass" / "2007_000032.png")
    assert png.mode == "P" and png.getpalette()[3 * 255 : 3 * 256] == [224, 224, 192]  # VOC's void colour
    sample = build_dataset(voc_band_yaml)[0]
    assert (sample["semantic"] == 255).sum() > 500 and len(sample["instances"]["classes"]) == 4


def test_without_filling_t_is_empty_on_voc_labels(voc_band_yaml: Path) -> None:
    """The defect: every label change lies inside a void band, so T has no positive pixel."""
    sem = build_dataset(voc_band_yaml)[0]["semantic"]
    assert (semantic_contour(sem, void_fill_px=0) == 1).sum() == 0


def test_filled_t_has_object_contours_but_no_outline_between_touching_dogs(voc_band_yaml: Path) -> None:
    sem = build_dataset(voc_band_yaml)[0]["semantic"]
    t = semantic_contour(sem)  # default data.contour: void_fill_px = 3
    assert (t == 1).sum() > 200
    cls, _ = voc_with_bands()
    band = cls == 255
    # cat / background: the contour runs through the middle of the band (x = 5 | 6 is the true outline)
    assert t[18, 5] == 1 and t[18, 6] == 1
    # between the two dogs (true outline x = 29 | 30, rows away from the outer band): no contour, band ignored
    assert (t[40:52, 27:33] != 1).all() and (t[40:52, 28:32] == 255).all()
    # band pixels off the contour stay out of the loss; pixels outside the bands keep their normal labels
    assert (t[band] != 0).all()
    assert t[18, 15] == 0 and t[2, 2] == 0
    filled, fband = fill_void_bands(sem, 3)
    assert (fband == band).all() and (filled[40:52, 28:32] == DOG).all() and 255 not in filled


def test_thick_void_stays_void() -> None:
    sem = np.zeros((40, 40), np.uint8)
    sem[5:35, 5:35] = 255  # a crowd / difficult region: not a band
    sem[18:22, 0:5] = 1  # a thin object touching it
    filled, band = fill_void_bands(sem, 3)
    assert (filled[12:28, 12:28] == 255).all() and not band[12:28, 12:28].any()


def test_train_transform_gives_nonzero_boundary_loss_on_voc(voc_band_yaml: Path) -> None:
    ds = build_dataset(voc_band_yaml)
    tf = TrainTransform(crop_size=64, scale_min=1.0, scale_max=1.0, hflip=False, color_jitter=0.0)
    out = tf(ds[0], np.random.default_rng(0))
    assert (out["contour"] == 1).sum() > 100
    assert (out["semantic"][out["contour"] == 1] == 255).any()  # contour inside the band, band kept out of L_S
    batch = {"contour": out["contour"][None], "semantic": out["semantic"][None]}
    g = torch.Generator().manual_seed(0)
    outputs = {"boundary_logits": torch.randn(1, 1, 64, 64, generator=g),
               "sem_logits": torch.randn(1, 21, 64, 64, generator=g), "embeddings": None}  # fmt: skip
    crit = BAISegCriterion(LossConfig())
    assert float(crit(outputs, batch)["loss_boundary"]) > 0
    empty = TrainTransform(crop_size=64, scale_min=1.0, scale_max=1.0, hflip=False, color_jitter=0.0,
                           contour={"void_fill_px": 0})(ds[0], np.random.default_rng(0))  # fmt: skip
    assert (empty["contour"] == 1).sum() == 0
    with pytest.warns(EmptyContourWarning, match="no contour pixel"):
        loss = crit(outputs, {"contour": empty["contour"][None], "semantic": empty["semantic"][None]})
    assert float(loss["loss_boundary"]) == 0.0


def test_criterion_is_silent_when_t_has_contours() -> None:
    contour = torch.zeros(1, 8, 8)
    contour[0, 3, :] = 1
    outputs = {"boundary_logits": torch.zeros(1, 1, 8, 8), "sem_logits": torch.zeros(1, 3, 8, 8), "embeddings": None}
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyContourWarning)
        BAISegCriterion(LossConfig())(outputs, {"contour": contour, "semantic": torch.zeros(1, 8, 8).long()})


def test_data_check_lists_an_empty_t(voc_band_yaml: Path) -> None:
    ds = build_dataset(voc_band_yaml)
    assert check_dataset(ds)["problems"] == [] and check_dataset(ds)["contour_px"] > 0
    report = check_dataset(ds, contour_kwargs={"void_fill_px": 0})
    assert report["contour_px"] == 0
    assert any("no contour pixel in any of the 2 images" in p for p in report["problems"])
