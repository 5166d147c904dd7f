"""Mask R-CNN (the refinement model) on the engine: it trains, resumes bitwise, and its weights work everywhere."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import baiseg.engine.trainer as trainer
from baiseg.cli import main
from baiseg.config import load_config
from baiseg.engine.trainer import resume_config, train
from baiseg.errors import BaisegError
from baiseg.weights_io import read_weights_meta

TINY = ["model.arch=maskrcnn", "model.backbone=test_efficientnet", "model.pretrained=false",
        "model.rcnn.fpn_dim=32", "model.rcnn.mask_dim=16", "model.rcnn.min_size=96", "model.rcnn.max_size=128",
        "model.rcnn.roi_batch=32", "model.rcnn.rpn_test_top_n=50", "data.train=synthetic", "data.num_workers=0",
        "train.batch_size=2", "train.log_every=1", "train.device=cpu", "train.deterministic=true",
        "train.val_every=100000"]


def _cfg(tmp_path, *extra):
    return load_config(None, TINY + [f"train.out_dir={tmp_path}"] + list(extra))


def _fixed_batch_loss(model) -> float:
    from baiseg.data import build_dataset
    from baiseg.data.instance_transforms import InstanceTrainTransform

    ds = build_dataset("synthetic", load_instances=True)
    tf = InstanceTrainTransform(hflip=False)
    batch = [tf(ds[i], np.random.default_rng(0)) for i in range(4)]
    model.train()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        losses = model([b["image"] for b in batch], [{k: b[k] for k in ("boxes", "labels", "masks")} for b in batch])
    return float(sum(losses.values()))


def test_maskrcnn_trains_with_falling_loss_and_releases_weights(tmp_path):
    from baiseg.models import build_model

    cfg = _cfg(tmp_path, "train.iters=40", "train.lr=2e-3", "train.ckpt_every=40")
    run = train(cfg, name="rcnn", progress=False)
    meta = read_weights_meta(run / "last.safetensors")
    assert meta["config"].model.arch == "maskrcnn" and len(meta["class_names"]) == 3
    trained = build_model(meta["config"].model, load_weights=False)
    trained.load_state_dict(load_file(str(run / "last.safetensors")))
    torch.manual_seed(0)
    fresh = build_model(meta["config"].model, load_weights=False)
    before, after = _fixed_batch_loss(fresh), _fixed_batch_loss(trained)
    assert math.isfinite(after) and after < 0.8 * before, (before, after)
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"loss_mask", "loss_classifier", "loss_objectness"} <= set(header)


def test_maskrcnn_resume_is_bitwise_equal(tmp_path, monkeypatch):
    straight = train(_cfg(tmp_path / "a", "train.iters=6", "train.ckpt_every=3"), name="r", progress=False)
    original = trainer._Loop.checkpoint

    def stop_after_first(self, n):
        original(self, n)
        if n == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer._Loop, "checkpoint", stop_after_first)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path / "b", "train.iters=6", "train.ckpt_every=3"), name="r", progress=False)
    monkeypatch.setattr(trainer._Loop, "checkpoint", original)
    run_b = tmp_path / "b" / "r-001"
    train(resume_config(run_b), resume_dir=run_b, progress=False)
    a, b = load_file(str(straight / "last.safetensors")), load_file(str(run_b / "last.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def rcnn_weights(tmp_path_factory):
    out = tmp_path_factory.mktemp("rcnnw")
    run = train(_cfg(out, "train.iters=4", "train.ckpt_every=4"), name="w", progress=False)
    return run / "last.safetensors"


def test_maskrcnn_weights_in_predictor(rcnn_weights):
    from baiseg import Predictor
    from baiseg.data import build_dataset
    from baiseg.rcnn_predictor import MaskRCNNPredictor

    pred = Predictor.from_pretrained(rcnn_weights)
    assert isinstance(pred, MaskRCNNPredictor)
    image = build_dataset("synthetic", load_instances=False)[0]["image"]
    inst, maps = pred.predict_instances(image)
    assert maps == {} and inst.masks.shape[1:] == image.shape[:2]
    assert np.all(np.diff(inst.scores) <= 0) and set(inst.classes.tolist()) <= {1, 2, 3}
    for i in pred.predict(image):
        assert i.class_name in pred.class_names and 0 <= i.score <= 1
    assert not pred.architecture.maps and not hasattr(pred, "infer") and not hasattr(pred, "mep")  # no placebo MEP
    voc = pred.for_classes(["box", "zzz"])  # the shared class renaming (segmenter.py)
    assert voc.class_names == ["box", "zzz"] and set(voc.predict_instances(image)[0].classes.tolist()) <= {1}
    with pytest.raises(BaisegError, match="drop --method"):
        Predictor.from_pretrained(rcnn_weights, method="cc")


def test_maskrcnn_weights_in_evaluate(rcnn_weights, tmp_path, capsys):
    rc = main(["evaluate", "--data", "synthetic", "--weights", str(rcnn_weights), "--limit", "3", "--out",
               str(tmp_path / "ev")])
    assert rc == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["settings"]["method"] == "maskrcnn" and metrics["settings"]["semantic"] == "none"
    assert metrics["images"] == 3 and metrics["voc"]["mAP50"] is not None
    assert main(["evaluate", "--data", "synthetic", "--weights", str(rcnn_weights), "--semantic", "gt",
                 "--out", str(tmp_path / "ev2")]) == 2
    assert "Mask R-CNN" in capsys.readouterr().err


def test_maskrcnn_weights_with_mep_overrides_refused_before_any_work(rcnn_weights, tmp_path, capsys, monkeypatch):
    import baiseg.commands.evaluate as evaluate
    import baiseg.data

    def no_work(*a, **k):
        raise AssertionError("the dataset or the model was read before the refusal")

    monkeypatch.setattr(baiseg.data, "build_dataset", no_work)
    monkeypatch.setattr(evaluate, "_load_predictor", no_work)
    assert main(["evaluate", "--data", "synthetic", "--weights", str(rcnn_weights), "--out", str(tmp_path / "ev"),
                 "mep.boundary_thr=0.3"]) == 2  # refused, not ignored
    err = capsys.readouterr().err
    assert "Mask R-CNN" in err and "mep.* overrides" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "ev").exists()


def test_maskrcnn_weights_in_predict(rcnn_weights, tmp_path):
    from PIL import Image

    from baiseg.data import build_dataset

    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    Image.fromarray(build_dataset("synthetic", load_instances=False)[0]["image"]).save(img_dir / "a.png")
    rc = main(["predict", "--weights", str(rcnn_weights), "--input", str(img_dir), "--out", str(tmp_path / "p"),
               "--workers", "0"])
    assert rc == 0
    results = json.loads((tmp_path / "p" / "results.json").read_text())
    assert isinstance(results, list) and (tmp_path / "p" / "instances" / "a.png").is_file()
    assert not (tmp_path / "p" / "mep.yaml").exists()  # no MEP ran: no MEP parameters written
    assert main(["predict", "--weights", str(rcnn_weights), "--input", str(img_dir), "--out", str(tmp_path / "p2"),
                 "--workers", "0", "mep.boundary_thr=0.3"]) == 2  # MEP overrides refused, not ignored


def test_maskrcnn_weights_refused_by_export(rcnn_weights, tmp_path, capsys):
    assert main(["export", "--weights", str(rcnn_weights), "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "Mask R-CNN" in err and "ONNX" in err and "Traceback" not in err
    assert not (tmp_path / "m.onnx").exists()


def test_info_counts_a_maskrcnn_config(capsys):
    assert main(["info", "maskrcnn_lite0", "model.pretrained=false", "--size", "64", "--json"]) == 0
    comps = json.loads(capsys.readouterr().out)["components"]
    assert set(comps) == {"net.backbone", "net.rpn", "net.roi_heads", "total"}
    assert comps["net.backbone"]["macs"] > 0 and comps["total"]["params"] > comps["net.backbone"]["params"]


def test_maskrcnn_config_errors(tmp_path):
    from baiseg.config import ConfigError

    with pytest.raises(ConfigError, match="model.arch"):
        load_config(None, ["model.arch=yolo"])
    with pytest.raises(BaisegError, match="val_map50"):
        train(_cfg(tmp_path, "train.iters=1", "data.val=synthetic", "train.best_metric=val_boundary_f"),
              name="x", progress=False)


def test_maskrcnn_ddp_two_processes_gloo(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(repo))
    env.pop("RANK", None), env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "baiseg",
           "train", "maskrcnn_lite0", "--no-progress", *TINY, "data.val=null", "model.rcnn.scale_jitter=0",
           "train.iters=3", "train.ckpt_every=3", f"train.out_dir={tmp_path}", "train.name=ddp"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / "ddp-001"
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
    assert read_weights_meta(run / "last.safetensors")["config"].model.arch == "maskrcnn"
