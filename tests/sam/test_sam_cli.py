"""MobileSAM's settings on the command line (``sam.KEY=VALUE``) and ``pseudo --method sam`` (the MobileSAM† labels),
run with a tiny random MobileSAM standing in for the released weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baiseg.errors import BaisegError
from baiseg.sam.config import CLI_DEFAULT, SAMConfig, split_sam_overrides

TINY = ["sam.points_per_side=8", "sam.pred_iou_thresh=-1", "sam.stability_score_thresh=0", "sam.min_area_px=4"]


def test_sam_overrides_are_typed_and_the_rest_is_kept():
    rest, cfg = split_sam_overrides(["mep.boundary_thr=0.8", "sam.points_per_side=32", "sam.score=sam",
                                     "sam.min_inside_frac=1"])  # fmt: skip
    assert rest == ["mep.boundary_thr=0.8"]
    assert cfg.points_per_side == 32 and isinstance(cfg.points_per_side, int)
    assert cfg.score == "sam" and cfg.min_inside_frac == 1.0 and isinstance(cfg.min_inside_frac, float)
    assert split_sam_overrides([]) == ([], CLI_DEFAULT) and CLI_DEFAULT.score == "area"
    assert split_sam_overrides([], base=SAMConfig())[1].score == "sam"
    with pytest.raises(BaisegError, match="use them with --method sam"):
        split_sam_overrides(["sam.min_area_px=0"], "dtws")


@pytest.mark.parametrize(("item", "message"), [
    ("sam.grid=16", "unknown MobileSAM option.*sam.grid.*valid are.*sam.points_per_side"),
    ("sam.points_per_side=many", "sam.points_per_side: expected an integer"),
    ("sam.points_per_side=2.5", "sam.points_per_side: expected an integer"),
    ("sam.score=best", "score 'best' is unknown"),
    ("sam.paint.x=1", "unknown MobileSAM option"),
])  # fmt: skip
def test_bad_sam_overrides_are_one_line_errors(item, message):
    with pytest.raises(BaisegError, match=message):
        split_sam_overrides([item])


@pytest.fixture
def tiny_sam(monkeypatch):
    pytest.importorskip("segment_anything")
    import torch

    import baiseg.sam as sam_pkg
    from baiseg.sam import build_mobilesam

    def load(path, device="cpu"):
        torch.manual_seed(0)
        return build_mobilesam(img_size=64).eval()

    monkeypatch.setattr(sam_pkg, "load_mobilesam", load)
    monkeypatch.setattr("baiseg.sam.model.check_weights_file", Path)  # no weights file: the tiny model stands in


def _data(tmp_path):
    data = tmp_path / "tiny.yaml"
    data.write_text("format: synthetic\nnum_images: 3\nsize: 48\nseed: 0\n")
    return str(data)


def test_pseudo_with_mobilesam_writes_labels_and_records_its_settings(tmp_path, tiny_sam, capsys):
    from baiseg.cli import main

    out = tmp_path / "p"
    assert main(["pseudo", "--data", _data(tmp_path), "--method", "sam", "--out", str(out), "--no-progress",
                 *TINY]) == 0  # fmt: skip
    coco = json.loads((out / "pseudo.json").read_text())
    info = json.loads((out / "pseudo_info.json").read_text())
    assert len(coco["images"]) == 3 and len(coco["annotations"]) > 0
    assert all(a["category_id"] == coco["categories"][0]["id"] or a["category_id"] in
               {c["id"] for c in coco["categories"]} for a in coco["annotations"])  # fmt: skip
    assert info["settings"]["method"] == "sam" and info["settings"]["sam"]["points_per_side"] == 8
    assert info["settings"]["sam"]["score"] == "area"  # CLI_DEFAULT, then the overrides
    # the same folder with other SAM settings holds other labels: refused, nothing rewritten
    before = (out / "pseudo.json").read_bytes()
    rc = main(["pseudo", "--data", _data(tmp_path), "--method", "sam", "--out", str(out), "--no-progress",
               *TINY[:-1], "sam.min_area_px=9"])  # fmt: skip
    assert rc == 2 and (out / "pseudo.json").read_bytes() == before
    capsys.readouterr()


@pytest.mark.parametrize(("args", "message"), [
    (["--method", "sam", "--semantic", "model"], "--method sam takes its semantic map"),
    (["--method", "dtws", "sam.min_area_px=0"], "use them with --method sam"),
])  # fmt: skip
def test_pseudo_refuses_sam_settings_it_cannot_use(tmp_path, capsys, args, message):
    from baiseg.cli import main

    rc = main(["pseudo", "--data", _data(tmp_path), "--out", str(tmp_path / "p"), "--no-progress", *args])
    assert rc == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "p" / "pseudo.json").exists()


def test_evaluate_passes_sam_settings_and_refuses_them_elsewhere(tmp_path, tiny_sam, capsys, monkeypatch):
    import baiseg.sam.instances as sam_instances
    from baiseg.cli import main

    seen = []
    real = sam_instances.sam_proposals  # evaluate's SAMSegmenter.forward calls it once per image
    monkeypatch.setattr(sam_instances, "sam_proposals", lambda *a, **k: seen.append(k["cfg"]) or real(*a, **k))
    rc = main(["evaluate", "--data", _data(tmp_path), "--method", "sam", "--semantic", "gt", "--out",
               str(tmp_path / "e"), *TINY])  # fmt: skip
    assert rc == 0 and len(seen) == 3 and seen[0].points_per_side == 8 and seen[0].min_area_px == 4
    assert (tmp_path / "e" / "metrics.json").is_file()
    rc = main(["evaluate", "--data", _data(tmp_path), "--method", "dtws", "--out", str(tmp_path / "e2"),
               "sam.min_area_px=0"])  # fmt: skip
    assert rc == 2 and "use them with --method sam" in capsys.readouterr().err


def test_evaluate_sam_refine_runs_with_weights(tmp_path, tiny_sam, monkeypatch, edge_net):
    """--sam-refine with (stand-in) BAISeg weights reaches the stage for every image (it was once a method left
    outside its class: an AttributeError on the first image)."""
    import baiseg.sam.refine as refine_mod
    from baiseg.cli import main
    from baiseg.data import build_dataset
    from baiseg.predictor import Predictor

    data = _data(tmp_path)
    ds = build_dataset(data)
    monkeypatch.setattr(Predictor, "from_pretrained", classmethod(
        lambda cls, w, **kw: cls(edge_net(), list(ds.class_names), list(ds.category_ids), **kw)))  # fmt: skip
    calls = []
    real = refine_mod.sam_refine
    monkeypatch.setattr(refine_mod, "sam_refine", lambda *a, **k: calls.append(k["cfg"].accept_iou) or real(*a, **k))
    w = tmp_path / "w.safetensors"
    w.write_bytes(b"x")
    rc = main(["evaluate", "--data", data, "--weights", str(w), "--sam-refine", "0.5", "--out", str(tmp_path / "e")])
    assert rc == 0 and calls == [0.5, 0.5, 0.5]
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["voc"]["mAP50"] is not None


def test_eval_sam_bench_variants_pass_the_config_value_rule():
    """bench/eval_sam.py's KEY=V1,V2 variants are typed by the config's coerce rule: a bad value is one line."""
    import importlib
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    sys.path.insert(0, root)
    try:
        variants = importlib.import_module("bench.eval_sam").variants
    finally:
        sys.path.remove(root)
    _, combos = variants("area", ["min_area_px=0,16"])
    assert [c["min_area_px"] for c in combos] == [0, 16] and all(isinstance(c["min_area_px"], int) for c in combos)
    with pytest.raises(BaisegError, match="min_area_px: expected an integer, got 2.5"):
        variants("area", ["min_area_px=2.5"])
