"""Cases of the fourth campaign, third part: the evaluators, results and COCO JSON, weights metadata and the C
kernels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.campaign3 import Case
from bench.campaign3_cases import P, both, fresh, has, predict
from bench.campaign3_cases_b import _st_meta
from bench.campaign4 import api
from bench.campaign4_cases_b import _ro
from bench.toy_onnx import toy_onnx


# ----------------------------------------------------------------------------------------------------- evaluators
def _sample():
    gm = np.zeros((2, 20, 30), bool)
    gm[0, 2:8, 2:8], gm[1, 10:18, 10:25] = True, True
    s = {"image_id": "a", "instances": {"masks": gm, "classes": np.array([1, 1]), "crowd": np.zeros(2, bool)},
         "semantic": gm.any(0).astype(np.uint8)}  # fmt: skip
    return s, {"masks": gm.copy(), "classes": np.array([1, 1]), "scores": np.array([0.9, 0.8])}


def _ev(kind: str, change, twice: bool = False, sample_change=None):
    """An evaluator (``voc`` / ``coco``) fed one prediction (changed by ``change``); wrong if it scores other than
    a perfect prediction's 1.0 without refusing it."""

    def fn(work: Path) -> str | None:
        from baiseg.evaluation import COCOInstanceEvaluator, VOCInstanceEvaluator

        s, good = _sample()
        if sample_change is not None:
            s = sample_change(s)
        ev = VOCInstanceEvaluator(num_classes=1, class_names=["c1"]) if kind == "voc" else \
            COCOInstanceEvaluator(class_names=["c1"])  # fmt: skip
        pred = change(good)
        ev.process(s, pred)
        if twice:
            ev.process(s, pred)
            return "the same image id was accepted twice (its ground truth counted twice)"
        r = ev.evaluate()
        v = r["mAP50"] if kind == "voc" else r["AP50"]
        return None if v == 1.0 else f"scored {v} without a word"

    return fn


def _masks(v):
    return lambda g: {**g, "masks": v(g["masks"])}


def _classes(c):
    return lambda g: {**g, "classes": np.array(c)}


def evaluator_cases() -> list[Case]:
    return [
        api("A01", "other", "VOC evaluator fed one image twice", _ev("voc", lambda g: g, True)),
        api("A02", "other", "COCO evaluator fed one image twice", _ev("coco", lambda g: g, True)),
        api("A03", "other", "VOC evaluator: soft masks (probabilities 0.3 outside the object)",
            _ev("voc", _masks(lambda m: np.where(m, 0.9, 0.3)))),  # fmt: skip
        api("A04", "other", "COCO evaluator: masks of NaN and 0",
            _ev("coco", _masks(lambda m: np.where(m, np.nan, 0.0)))),
        api("A05", "other", "VOC evaluator: a prediction of class 0 (background)", _ev("voc", _classes([0, 1]))),
        api("A06", "other", "VOC evaluator: a prediction of class 4 with num_classes=1",
            _ev("voc", _classes([4, 1]))),
        api("A07", "other", "VOC evaluator: prediction None", _ev("voc", lambda g: None)),
        api("A08", "other", "VOC evaluator: GT masks of another size than the semantic map",
            _ev("voc", lambda g: g, sample_change=lambda s: {**s, "instances": {**s["instances"], "masks": s[
                "instances"]["masks"][:, :, :10]}})),  # fmt: skip
        api("A09", "other", "COCO evaluator: masks as nested lists of 0/1", _ev("coco", _masks(lambda m: m.astype(
            int).tolist())), "ok"),  # fmt: skip
        api("A10", "other", "VOC evaluator: masks uint8 0/255", _ev("voc", _masks(lambda m: m.astype(np.uint8) * 255)),
            "ok"),
        api("A11", "other", "build_dataset(None)", lambda w: __import__("baiseg.data").data.build_dataset(None) and
            "accepted"),  # fmt: skip
        api("A12", "other", "load_config(overrides='train.iters=5') (a string, not a list)",
            lambda w: __import__("baiseg.config").config.load_config(None, "train.iters=5") and "accepted"),
        api("A13", "other", "Predictor.from_pretrained(None)", lambda w: __import__("baiseg").Predictor.from_pretrained(
            None) and "accepted"),  # fmt: skip
        api("A14", "other", "Predictor.with_mep(nonsense=1)", lambda w: __import__("baiseg").Predictor.from_pretrained(
            "w.safetensors").with_mep(nonsense=1) and "accepted"),  # fmt: skip
    ]


# ------------------------------------------------------------------------------------------- results / COCO JSON
def _results_text(name: str, fn):
    def setup(work: Path) -> None:
        rows = [{**r, "category_id": 1} for r in json.loads((work / "pred0" / "results.json").read_text())]
        (work / name).write_text(fn(rows))  # an input, not a result

    return setup


def _dup_key_entry(rows: list[dict]) -> str:
    text = json.dumps(rows)
    return text.replace('"score": ', '"score": 0.01, "score": ', 1)


def _dup_annotations(work: Path) -> None:
    d = json.loads((work / "coco" / "ann.json").read_text())
    text = json.dumps(d)  # a second "annotations" list (empty) after the first: the last one wins in json.loads
    text = text[:-1] + ', "annotations": []}'
    (work / "coco" / "ann_dupkey.json").write_text(text)  # an input, not a result
    (work / "coco" / "d_dupkey.yaml").write_text("format: coco\nimages: img\nannotations: ann_dupkey.json\n")


def results_cases() -> list[Case]:
    def ev(cid, what, name, setup, expect="error"):
        return Case(cid, "other", what, ["evaluate", "--data", "ds/good.yaml", "--predictions", name, "--out",
                                         f"ev4_{cid}"], expect, both(fresh(f"ev4_{cid}"), setup))  # fmt: skip

    return [
        ev("J01", "results entry with 'score' twice (JSON: the last wins)", "r4_dup.json",
           _results_text("r4_dup.json", _dup_key_entry)),  # fmt: skip
        ev("J02", "results: category_id 1.0 (an integral float)", "r4_f.json",
           _results_text("r4_f.json", lambda rows: json.dumps([{**r, "category_id": 1.0} for r in rows])), "either"),
        ev("J03", "results: image_id 'a0 ' (a trailing space)", "r4_sp.json",
           _results_text("r4_sp.json", lambda rows: json.dumps([{**r, "image_id": str(r["image_id"]) + " "}
                                                                for r in rows]))),  # fmt: skip
        ev("J04", "results: an RLE whose counts is a list of floats", "r4_fl.json",
           _results_text("r4_fl.json", lambda rows: json.dumps([{**r, "segmentation": {
               "size": [64, 80], "counts": [100.0, 20.5, 5000 - 120.5]}} for r in rows]))),  # fmt: skip
        ev("J05", "results: one entry whose segmentation is an empty list", "r4_es.json",
           _results_text("r4_es.json", lambda rows: json.dumps([{**rows[0], "segmentation": []}] + rows[1:])),
           "either"),  # fmt: skip
        Case("J06", "other", "COCO annotation file with the key 'annotations' twice (the last, empty, wins)",
             ["data", "check", "coco/d_dupkey.yaml"], "problem", _dup_annotations),
        Case("J07", "other", "evaluate --predictions a results.json with a UTF-8 BOM", ["evaluate", "--data",
             "ds/good.yaml", "--predictions", "r4_bom.json", "--out", "ev4_J07"], "ok",
             both(fresh("ev4_J07"), _bom)),  # fmt: skip
    ]


def _bom(work: Path) -> None:
    rows = [{**r, "category_id": 1} for r in json.loads((work / "pred0" / "results.json").read_text())]
    (work / "r4_bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(rows).encode())  # an input, not a result


# ------------------------------------------------------------------------------------------------------- weights
def _onnx_meta(name: str, **meta):
    def setup(work: Path) -> None:
        toy_onnx(work / name, 3, meta)

    return setup


def weights_cases() -> list[Case]:
    def pw(cid, what, weights, setup, expect="error"):
        out = f"o_{cid}"
        return Case(cid, "other", what, ["predict", "--weights", weights, "--input", "ds/good.yaml", "--out", out, *P],
                    expect, both(fresh(out), setup), has(out) if expect != "error" else None)  # fmt: skip

    cfg_bad = "model:\n  num_classes: 3\n  iabm_dim: 8\n  sem_dim: 16\n  pretrained: false\nmep:\n  boundary_thr: 5\n"
    return [
        pw("W01", "safetensors category_ids [1, 1] (two classes, one id)", "w4_1.safetensors",
           _st_meta("w4_1.safetensors", category_ids="[1, 1]")),
        pw("W02", "safetensors class_names ['c1', 'c1']", "w4_2.safetensors",
           _st_meta("w4_2.safetensors", class_names='["c1", "c1"]')),
        pw("W03", "ONNX category_ids [1, 1]", "w4_3.onnx", _onnx_meta("w4_3.onnx", category_ids="[1, 1]")),
        pw("W04", "safetensors whose stored config has mep.boundary_thr 5", "w4_4.safetensors",
           _st_meta("w4_4.safetensors", config=cfg_bad)),
        pw("W05", "safetensors whose stored config repeats a key", "w4_5.safetensors",
           _st_meta("w4_5.safetensors", config="model:\n  num_classes: 3\nmodel:\n  num_classes: 3\n")),
        pw("W06", "ONNX class_names ['c1', ''] (an empty name)", "w4_6.onnx", _onnx_meta("w4_6.onnx",
                                                                                         class_names='["c1", ""]')),
        pw("W07", "safetensors category_ids ['1', '2'] (strings)", "w4_7.safetensors",
           _st_meta("w4_7.safetensors", category_ids='["1", "2"]')),
        pw("W08", "a .safetensors that is a link to /dev/zero", "w4_8.safetensors",
           lambda w: (fresh("w4_8.safetensors")(w), (w / "w4_8.safetensors").symlink_to("/dev/zero"))),
        pw("W09", "safetensors category_ids [-1, 2] (negative)", "w4_9.safetensors",
           _st_meta("w4_9.safetensors", category_ids="[-1, 2]"), "either"),
    ]


# ----------------------------------------------------------------------------------------------------- C kernels
def _nat(call, accepted: str | None = "accepted"):
    """A call of a C kernel: it must raise (a ValueError naming the argument) or, with ``accepted=None``, may return
    (the values are safe: e.g. negative markers are unlabelled pixels, flood.c indexes only markers > 0)."""

    def fn(work: Path) -> str | None:
        from baiseg.postprocess import kernels

        if kernels.native is None:
            return "no C kernels built"
        call(kernels.native)
        return accepted

    return fn


def _label_boxes_big(nat) -> None:
    lab = np.full((4, 4), 7, np.int32)
    box = np.zeros((2 + 1) * 4, np.int64)
    nat.label_boxes(lab, 2, box, 4, 4)
    if box.any():
        raise AssertionError("labels above n were written")
    raise ValueError("labels above n ignored (no out-of-bounds write)")


def _flood_negative(nat) -> None:
    h = w = 8
    ev = np.zeros(h * w, np.float32)
    mk = np.full(h * w, -5, np.int32)
    cls = np.ones(h * w, np.uint8)
    out = np.zeros(h * w, np.int32)
    nat.flood_classes(ev, mk, cls, 1, 8, out, h, w, (0, h, 0, w), 1)
    if out.any():
        raise AssertionError("negative markers were flooded as labels")


def _mep(semantic, boundary=None):
    def fn(work: Path) -> str | None:
        from baiseg.postprocess import extract_masks

        sem = semantic()
        b = np.zeros(sem.shape, np.float32) if boundary is None else boundary(sem.shape)
        lab = extract_masks(b, sem)
        return None if lab.max() >= 1 else "no instance"

    return fn


def _sem300() -> np.ndarray:
    s = np.zeros((32, 32), np.int64)
    s[4:20, 4:20] = 300  # 300 = 44 as uint8
    return s


def ckernel_cases() -> list[Case]:
    return [
        api("N01", "ckernel", "label_boxes with labels above n", _nat(_label_boxes_big), native=True),
        api("N02", "ckernel", "flood_classes with negative markers (unlabelled, not indexed)",
            _nat(_flood_negative, None), "either", native=True),
        api("N03", "ckernel", "edt with h*w larger than the buffers", _nat(lambda n: n.edt(
            np.ones(16, np.uint8), np.zeros(16, np.float32), 8, 8)), native=True),  # fmt: skip
        api("N04", "ckernel", "argmax_channels with c = 0", _nat(lambda n: n.argmax_channels(
            np.zeros(16, np.float32), np.zeros(16, np.uint8), 0, 16)), native=True),  # fmt: skip
        api("N05", "ckernel", "border_sums with n = 2^40", _nat(lambda n: n.border_sums(
            np.zeros(16, np.int32), np.zeros(16, np.float32), np.zeros(16, np.uint8), 2**40, np.zeros(4),
            np.zeros(4, np.int64), 4, 4)), native=True),  # fmt: skip
        api("N06", "ckernel", "edt into a read-only output", _nat(lambda n: n.edt(np.ones(16, np.uint8), _ro(np.zeros(
            16, np.float32)), 4, 4)), native=True),  # fmt: skip
        api("N07", "ckernel", "flood_levels with a non-contiguous elevation", _nat(lambda n: n.flood_levels(
            np.zeros(32, np.float32)[::2], np.zeros(16, np.int32), np.ones(16, np.uint8), np.zeros(2), 4, 4)),
            native=True),  # fmt: skip
        api("N08", "ckernel", "extract_masks: semantic ids 300 (int64; 44 as uint8)", _mep(_sem300)),
        api("N09", "ckernel", "extract_masks: semantic ids -1", _mep(lambda: np.full((32, 32), -1, np.int64))),
        api("N10", "ckernel", "extract_masks: boundary map of 5.0 (outside [0, 1])", _mep(
            lambda: np.pad(np.ones((16, 16), np.uint8), 8), lambda s: np.full(s, 5.0, np.float32)), "either"),
        api("N11", "ckernel", "cc baseline on semantic ids 256 (int32)", lambda w: __import__(
            "baiseg.postprocess").postprocess.instances_from_semantic("cc", np.pad(np.full((16, 16), 256, np.int32),
                                                                                   8)) and "accepted"),  # fmt: skip
        Case("N12", "ckernel", "predict with BAISEG_NO_C_KERNELS=1: the kernels' masks (scores to 1e-5)",
             predict("ds/good.yaml", "o_n12"), "ok", fresh("o_n12"), _same_results("o_n12", "pred0"),
             env={"BAISEG_NO_C_KERNELS": "1"}),  # fmt: skip
    ]


def _same_results(a: str, b: str):
    def check(work: Path, rc: int) -> str | None:
        if rc != 0:
            return None
        ra, rb = (json.loads((work / x / "results.json").read_text()) for x in (a, b))
        same = len(ra) == len(rb) and all(
            {k: v for k, v in x.items() if k != "score"} == {k: v for k, v in y.items() if k != "score"}
            and abs(x["score"] - y["score"]) < 1e-5 for x, y in zip(ra, rb))  # fmt: skip
        return None if same else f"{len(ra)} results differ from the {len(rb)} of {b} (masks, ids or scores)"

    return check
