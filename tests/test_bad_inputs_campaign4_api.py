"""Campaign 4 (docs/HARDENING.md, "The fourth bad-input campaign"): the faults it found at the gates of the Python
API (the image-array decoder, the evaluators, the results reader, the MEP's semantic ids, Predictor.infer_batch and
for_classes), each test failing before its fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baiseg.config import load_config, resolve_preset
from baiseg.errors import BaisegError, DataError

SCENE = np.full((64, 80, 3), 30, np.uint8)
SCENE[8:36, 8:36], SCENE[8:36, 44:72] = 200, 120


def test_api_arrays_follow_the_decoders_policy():
    from baiseg.segmenter import as_rgb_uint8

    twelve = np.round(SCENE * (4095 / 255)).astype(np.uint16)  # was divided by 257: a dim image
    assert np.array_equal(as_rgb_uint8(twelve), SCENE)
    with pytest.raises(DataError, match="slightly outside \\[0, 1\\]"):  # was read on the 8-bit scale: black
        as_rgb_uint8(SCENE / 200.0 * 1.01)


def _eval_sample():
    gm = np.zeros((2, 20, 30), bool)
    gm[0, 2:8, 2:8], gm[1, 10:18, 10:25] = True, True
    s = {"image_id": "a", "instances": {"masks": gm, "classes": np.array([1, 1]), "crowd": np.zeros(2, bool)},
         "semantic": gm.any(0).astype(np.uint8)}  # fmt: skip
    return s, {"masks": gm.copy(), "classes": np.array([1, 1]), "scores": np.array([0.9, 0.8])}


@pytest.mark.parametrize("kind", ["voc", "coco"])
def test_an_evaluator_refuses_one_image_twice(kind):
    from baiseg.evaluation import COCOInstanceEvaluator, EvaluationError, VOCInstanceEvaluator

    ev = VOCInstanceEvaluator(num_classes=1) if kind == "voc" else COCOInstanceEvaluator(class_names=["c1"])
    s, pred = _eval_sample()
    ev.process(s, pred)
    with pytest.raises(EvaluationError, match="was already processed"):  # its ground truth was counted twice
        ev.process(s, pred)


@pytest.mark.parametrize("change, match", [
    (lambda p: {**p, "masks": np.where(p["masks"], 0.9, 0.3)}, "not binary"),  # soft masks were cast to True
    (lambda p: {**p, "masks": np.where(p["masks"], np.nan, 0.0)}, "not binary"),
    (lambda p: {**p, "classes": np.array([0, 1])}, "class id 0"),  # VOC scored class 0 as a class: mAP50 0.5
    (lambda p: {**p, "classes": np.array([4, 1])}, "above the 1 classes"),
    (lambda p: None, "is NoneType"),  # was TypeError
])  # fmt: skip
def test_the_voc_evaluator_refuses_odd_predictions(change, match):
    from baiseg.evaluation import EvaluationError, VOCInstanceEvaluator

    s, pred = _eval_sample()
    with pytest.raises(EvaluationError, match=match):
        VOCInstanceEvaluator(num_classes=1).process(s, change(pred))
    VOCInstanceEvaluator(num_classes=1).process(s, {**pred, "masks": pred["masks"].astype(np.uint8) * 255})  # 0/255


def test_ground_truth_masks_of_another_size_than_the_semantic_map_are_one_line():
    from baiseg.evaluation import EvaluationError, VOCInstanceEvaluator

    s, pred = _eval_sample()
    s["instances"]["masks"] = s["instances"]["masks"][:, :, :10]  # was ValueError: operands could not be broadcast
    with pytest.raises(EvaluationError, match="masks 20x10 but semantic map 20x30"):
        VOCInstanceEvaluator(num_classes=1).process(s, pred)


def test_results_files_name_each_key_once_and_may_start_with_a_bom(tmp_path):
    from baiseg.evaluation import EvaluationError, read_results, write_results

    entry = '{"image_id": "a", "category_id": 1, "score": 0.1, "score": 0.9, "segmentation": {"size": [2, 2], ' \
            '"counts": [1, 2, 1]}}'
    (tmp_path / "d.json").write_text(f"[{entry}]")  # json.loads kept the last score without a word
    with pytest.raises(EvaluationError, match="the key 'score' appears twice"):
        read_results(tmp_path / "d.json")
    (tmp_path / "b.json").write_bytes(b"\xef\xbb\xbf" + entry.replace('"score": 0.1, ', "").join("[]").encode())
    assert list(read_results(tmp_path / "b.json")) == ["a"]  # a UTF-8 BOM was "not valid JSON"
    with pytest.raises(EvaluationError, match="scores must be finite"):  # was ValueError: Out of range float ...
        write_results(tmp_path / "w.json", [{"image_id": "a", "category_id": 1, "score": float("nan")}])


@pytest.mark.parametrize("value", [300, -1])  # 300 was wrapped to 44 as uint8; -1 gave no instance without a word
def test_semantic_ids_outside_0_255_are_refused_by_the_mep_and_the_baselines(value):
    from baiseg.postprocess import extract_masks, instances_from_semantic

    sem = np.zeros((32, 32), np.int64)
    sem[4:20, 4:20] = value
    with pytest.raises(BaisegError, match="the semantic map holds ids in"):
        extract_masks(np.zeros((32, 32), np.float32), sem)
    with pytest.raises(BaisegError, match="the semantic map holds ids in"):
        instances_from_semantic("cc", sem)


def test_predictor_infer_and_for_classes_pass_the_gates(tmp_path):
    from baiseg.predictor import Predictor
    from baiseg.weights_io import save_weights

    cfg = load_config(resolve_preset("cpu_lite0"), ["model.pretrained=false", "model.num_classes=3",
                                                     "model.iabm_dim=8", "model.sem_dim=16"])  # fmt: skip
    from baiseg.models import build_model

    torch.manual_seed(0)
    save_weights(tmp_path / "w.safetensors", build_model(cfg.model).eval(), cfg, ["c1", "c2"], [1, 2])
    p = Predictor.from_pretrained(tmp_path / "w.safetensors")
    assert p.infer(SCENE[..., 0])["sem_prob"].shape == (3, 64, 80)  # a gray array was a ValueError
    assert p.infer_batch([]) == []  # was ValueError: max() arg is an empty sequence
    for names, ids, match in ((["c1", "c2"], [7], "must be 2 integers"), (["c1", "c1"], None, "names \\['c1'\\] twice"),
                              (["c1", "c2"], ["a", "b"], "must be 2 integers")):  # fmt: skip
        with pytest.raises(BaisegError, match=match):  # [7]: class 2 was reported under category id 2
            p.for_classes(names, ids)
