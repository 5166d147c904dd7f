"""The training loop on the synthetic data: loss goes down, divergence stops it, resume refuses bad folders."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from baiseg.config import load_config
from baiseg.engine.checkpoint import load_checkpoint
from baiseg.engine.data import SeededStream
from baiseg.engine.trainer import TrainingDiverged, resume_config, train
from baiseg.errors import BaisegError
from baiseg.losses import BAISegCriterion
from baiseg.weights_io import load_weights, read_weights_meta

sys.path.insert(0, str(Path(__file__).parent))
from engine_tiny_model import build_tiny  # noqa: E402

BASE = ["data.train=synthetic", "data.crop_size=64", "data.num_workers=0", "train.batch_size=2", "model.iabm_dim=8",
        "train.log_every=1", "train.device=cpu"]


def _cfg(tmp_path, *extra):
    return load_config(None, BASE + [f"train.out_dir={tmp_path}"] + list(extra))


def _fixed_batch_loss(model, cfg) -> dict[str, float]:
    from baiseg.data import build_dataset
    from baiseg.data.transforms import TrainTransform

    ds = build_dataset("synthetic", load_instances=False)
    stream = SeededStream(ds, TrainTransform.from_config(cfg.data, mean=model.input_norm[0], std=model.input_norm[1]),
                          seed=123)
    batch = torch.utils.data.default_collate([stream[p] for p in range(8)])
    model.eval()
    with torch.no_grad():
        torch.manual_seed(0)
        return {k: v.item() for k, v in BAISegCriterion(cfg.loss)(model(batch["image"]), batch).items()}


def test_training_lowers_the_loss(tmp_path):
    cfg = _cfg(tmp_path, "train.iters=40", "train.lr=1e-2", "train.ckpt_every=40", "train.val_every=40",
               "data.val=synthetic", "train.val_max_images=2")
    torch.manual_seed(0)
    before = _fixed_batch_loss(build_tiny(load_config(None, ["model.iabm_dim=8", "model.num_classes=4"]).model), cfg)
    run = train(cfg, name="lower", build_fn=build_tiny, progress=False)
    assert run.name == "lower-001"
    for f in ("config.yaml", "run.json", "metrics.csv", "checkpoint.pt", "last.safetensors", "best.safetensors"):
        assert (run / f).is_file(), f
    model, meta = load_weights(run / "last.safetensors", build_fn=build_tiny)
    assert len(meta["class_names"]) == 3 and meta["config"].model.num_classes == 4
    after = _fixed_batch_loss(model, cfg)
    assert after["loss"] < 0.97 * before["loss"] and after["loss_sem"] < 0.9 * before["loss_sem"], (before, after)
    best_meta = read_weights_meta(run / "best.safetensors")  # synthetic val has instances: auto -> val_map50_gt
    assert "val_map50_gt" in best_meta and "best_metric: val_map50_gt" in (run / "config.yaml").read_text()
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val_map50_gt", "val_map50_model", "val_boundary_f"} <= set(header)
    assert load_checkpoint(run / "checkpoint.pt")["iteration"] == 40


def test_accumulation_and_clipping_run(tmp_path):
    cfg = _cfg(tmp_path, "train.iters=2", "train.accum_steps=2", "train.clip_grad_norm=1.0", "train.warmup_iters=1",
               "loss.contrast_warmup_iters=1")
    run = train(cfg, name="acc", build_fn=build_tiny, progress=False)
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3 and all(math.isfinite(float(r.split(",")[2])) for r in rows[1:])


def test_non_finite_loss_stops(tmp_path):
    cfg = _cfg(tmp_path, "train.iters=3", "train.lr=1e30", "train.warmup_iters=0")

    def exploding(model_cfg):
        m = build_tiny(model_cfg)
        with torch.no_grad():
            m.sem.weight.fill_(float("nan"))
        return m

    with pytest.raises(TrainingDiverged, match="non-finite loss at iteration 1: loss=nan"):
        train(cfg, name="nan", build_fn=exploding, progress=False)


def test_resume_refuses_folders_without_checkpoint(tmp_path):
    with pytest.raises(BaisegError, match="not a directory"):
        resume_config(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaisegError, match="no checkpoint.pt"):
        resume_config(tmp_path / "empty")
