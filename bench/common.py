"""Shared by the tuning and result scripts: samples held in memory, cached network maps, one two-stage segmenter
per (method, semantic source, MEP settings) run by the one scheduler. Everything goes through the library
(baiseg.inference.scheduler, baiseg.evaluation.run, Predictor)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from baiseg.config import MEPConfig
from baiseg.data import build_dataset
from baiseg.evaluation import has_touching_instances
from baiseg.evaluation.maps import MapCache, weights_digest

CACHE_ROOT = Path(".cache/maps")
# the released trained models the speed and int8 benches use: name -> (weights relative to the repo, val data)
MODELS = {
    "coco128": ("runs/coco128_panoptic_lite0_s0-001/last.safetensors", "coco128_panoptic_val"),
    "pennfudan": ("runs/pennfudan_lite0_s0-001/last.safetensors", "pennfudan_val"),
}


class Bench:
    """A dataset's samples (in memory), their touching flags, and optionally a model with its cached maps.

    Args:
        data: dataset YAML or shipped name.
        weights: trained weights (None: only baselines with ground-truth semantics).
        limit: first N images (0 = all).
    """

    def __init__(self, data: str, weights: str | None = None, limit: int = 0) -> None:
        from tqdm import tqdm

        ds = build_dataset(data)
        n = len(ds) if limit <= 0 else min(limit, len(ds))
        self.data = data
        self.class_names, self.category_ids = list(ds.class_names), list(ds.category_ids)
        self.samples = [ds[i] for i in tqdm(range(n), desc=f"load {data}", leave=False, disable=None)]
        self.touching = [has_touching_instances(s) for s in self.samples]
        self.predictor, self.cache = None, None
        if weights:
            from baiseg.predictor import Predictor

            self.predictor = Predictor.from_pretrained(weights).for_classes(self.class_names, self.category_ids)
            folder = CACHE_ROOT / weights_digest(weights) / Path(str(data)).stem
            self.cache = MapCache(folder, self.predictor, weights)
            for s in tqdm(self.samples, desc="network maps", leave=False, disable=None):
                self.cache.maps(s)

    def mep(self, **changes: Any) -> MEPConfig:
        """The MEP config: the library defaults with ``changes``."""
        return dataclasses.replace(MEPConfig(), **changes)

    def segmenter(self, method: str, semantic: str, mep: MEPConfig) -> Any:
        """The two-stage segmenter (``baiseg.inference``) of ``method`` (baiseg | cc | dtws) on ``semantic``
        (gt | model): a ``BaselineSegmenter`` for a baseline on the ground-truth map, else the predictor on the cached
        network maps (``MapCache``, filled on a miss)."""
        if semantic == "gt" and method != "baiseg":
            from baiseg.inference.baselines import BaselineSegmenter

            return BaselineSegmenter(method, self.class_names, mep)
        if self.predictor is None:
            raise SystemExit(f"--method {method} --semantic {semantic} needs --weights")
        from baiseg.experiments.sweep import CachedMaps

        pred = self.predictor.with_mep(**vars(mep))
        pred.method = method
        return CachedMaps(pred, self.cache)

    def evaluate(self, method: str, semantic: str, mep: MEPConfig, *, subsets=("all", "touching"), coco: bool = False):
        """``evaluation.run.SubsetEvaluators.summary()`` for one setting: one scheduler run of ``segmenter`` over the
        samples, its ordered sink feeding the evaluators."""
        from baiseg.evaluation.run import SubsetEvaluators
        from baiseg.inference.scoring import score_samples

        ev = SubsetEvaluators(self.class_names, self.category_ids, subsets, coco=coco)
        return score_samples(self.samples, self.segmenter(method, semantic, mep), semantic, ev, self.touching)


def export_float_and_int8(weights: str | Path, folder: Path, calib_images: int | None = None) -> tuple[Path, Path]:
    """``(float.onnx, int8.onnx)`` of released weights, as ``baiseg export`` and ``baiseg export --int8`` write them
    (int8 calibrated on ``calib_images`` images of the weights' own training split), named after the run folder."""
    from baiseg.onnx_backend import export_onnx
    from baiseg.onnx_quant import CALIB_IMAGES, calibration_images, quantize_onnx
    from baiseg.weights_io import read_weights_meta

    name = Path(weights).parent.name
    fp = export_onnx(weights, folder / f"{name}.onnx")
    train = read_weights_meta(weights)["config"].data.train
    images = calibration_images(train, calib_images or CALIB_IMAGES)
    q = quantize_onnx(fp, folder / f"{name}_int8.onnx", images, calib_data=train)
    return fp, q


def evaluate_cmd(weights: str | Path, data: str, semantic: str, max_side: int = 1024, mep_at: str = "image") -> dict:
    """``baiseg evaluate --json`` of ``weights`` on ``data`` (a subprocess, as a user runs it): VOC mAP50 / mAP75 and
    COCO AP in percent, the number of images."""
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "baiseg", "evaluate", "--data", data, "--weights", str(weights), "--semantic",
           semantic, "--device", "cpu", "--max-side", str(max_side), "--mep-at", mep_at, "--json"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    d = json.loads(res.stdout)
    return {"mAP50": d["voc"]["mAP50"], "mAP75": d["voc"]["mAP75"], "AP": d["coco"]["AP"], "images": d["images"]}

