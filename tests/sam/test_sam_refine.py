"""The BAISeg + SAM stage (baiseg.sam.refine): prompts, the re-owning rule, and a run with a tiny random MobileSAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baiseg.errors import BaisegError
from baiseg.instances import Instances
from baiseg.sam.refine import SAMRefineConfig, instance_prompts, reassign, sam_refine


def _box(y0: int, y1: int, x0: int, x1: int, shape: tuple[int, int] = (20, 30)) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def test_prompts_are_the_grown_box_and_the_deepest_pixel():
    m = _box(2, 9, 3, 14)  # rows 2..8, columns 3..13
    boxes, points = instance_prompts(m[None], margin=2)
    assert boxes[0].tolist() == [1, 0, 16, 11]  # x0-2, y0-2 (clipped at 0), x1+1+2, y1+1+2
    x, y = points[0]
    assert m[int(y), int(x)] and abs(y - 5.5) <= 1 and 6 <= x <= 11  # inside, on the middle row
    with pytest.raises(BaisegError, match="empty mask"):
        instance_prompts(np.zeros((1, 5, 5), bool))


def test_reassign_moves_only_claimed_pixels_and_keeps_owners_in_ties():
    owners = np.stack([_box(0, 10, 0, 15), _box(0, 10, 15, 30)])  # two touching halves, border at x=15
    claims = np.stack([_box(0, 10, 0, 18), _box(0, 10, 16, 30)])  # SAM puts the border at x=16..18
    out = reassign(owners, claims)
    assert (out.sum(0) <= 1).all()
    assert out[0, :10, 15].all()  # claimed by 0 only (16, 17 are claimed by both: the owner, instance 1, keeps them)
    assert out[1, :10, 16:18].all() and out[1, :10, 18:].all()
    assert out[:, 10:].sum() == 0  # nothing outside both
    # a pixel no claim covers stays with its owner; an empty claim set changes nothing
    assert (reassign(owners, np.zeros_like(owners)) == owners).all()


def test_reassign_a_pixel_claimed_by_several_non_owners_goes_to_the_first():
    owners = np.stack([_box(0, 5, 0, 5), _box(0, 5, 5, 10), _box(0, 5, 10, 15)])
    claims = np.stack([np.zeros((20, 30), bool), _box(0, 5, 0, 3), _box(0, 5, 0, 3)])
    out = reassign(owners, claims)
    assert out[1, :5, :3].all() and not out[2, :5, :3].any() and out[0, :5, 3:5].all()


def test_config_is_checked():
    with pytest.raises(BaisegError, match="accept_iou"):
        SAMRefineConfig(accept_iou=1.5)
    with pytest.raises(BaisegError, match="prompts_per_batch"):
        SAMRefineConfig(prompts_per_batch=0)


def test_refine_with_a_tiny_random_sam_keeps_instances_disjoint_on_the_foreground():
    pytest.importorskip("segment_anything")
    from baiseg.sam import build_mobilesam

    torch.manual_seed(0)
    model = build_mobilesam(img_size=64).eval()
    image = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    sem = np.zeros((20, 30), np.uint8)
    sem[2:18, 2:28] = 1
    masks = np.stack([_box(2, 18, 2, 15), _box(2, 18, 15, 28), np.zeros((20, 30), bool)])
    inst = Instances(masks, np.array([1, 1, 1]), np.array([0.9, 0.8, 0.1], np.float32))
    for accept in (0.0, 1.0):  # 1.0: no SAM answer is accepted, the instances are returned as they were
        out = sam_refine(image, inst, sem, model=model, cfg=SAMRefineConfig(accept_iou=accept, prompts_per_batch=1))
        assert (out.masks.sum(0) <= 1).all() and not out.masks.any(0)[sem == 0].any()
        assert len(out.masks) <= 2 and out.scores.tolist() == pytest.approx([0.9, 0.8][: len(out.masks)])
    assert (out.masks == masks[:2]).all()
    with pytest.raises(BaisegError, match="must match the image"):
        sam_refine(image, inst, sem[:, :29], model=model)


@pytest.mark.parametrize("extra", [["--method", "dtws"], ["--method", "dtws", "--sam-refine", "1.5"]])
def test_evaluate_refuses_sam_refine_without_baiseg_weights(tmp_path, capsys, extra):
    from baiseg.cli import main

    data = tmp_path / "tiny.yaml"
    data.write_text("format: synthetic\nnum_images: 2\nsize: 32\nseed: 0\n")
    if "--sam-refine" not in extra:
        extra = [*extra, "--sam-refine", "0.5"]
    rc = main(["evaluate", "--data", str(data), *extra, "--out", str(tmp_path / "o")])
    assert rc == 2 and "--sam-refine IOU refines BAISeg's instances" in capsys.readouterr().err


def test_evaluate_checks_the_acceptance_iou_before_any_work(tmp_path, capsys, monkeypatch):
    from baiseg.cli import main
    from baiseg.commands import evaluate as ev

    monkeypatch.setattr(ev, "_segmenter", None)  # reached only if the check let the run go on
    w = tmp_path / "w.safetensors"
    w.write_bytes(b"x")
    rc = main(["evaluate", "--data", "synthetic", "--weights", str(w), "--sam-refine", "1.5", "--out",
               str(tmp_path / "o")])  # fmt: skip
    assert rc == 2 and "accept_iou must be in [0, 1]" in capsys.readouterr().err
