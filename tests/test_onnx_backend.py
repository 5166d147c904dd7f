"""ONNX export and the onnxruntime backend (issue 12): same probability maps (max |diff| <= 1e-4) and the same
instances as PyTorch, metadata, CLI. A random-weight cpu_lite0 network (no download); skipped without onnxruntime."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from baiseg.cli import main  # noqa: E402
from baiseg.config import Config, MEPConfig, load_config, resolve_preset  # noqa: E402
from baiseg.errors import BaisegError, WeightsError  # noqa: E402
from baiseg.predictor import Predictor  # noqa: E402
from baiseg.weights_io import save_weights  # noqa: E402

SHARED = Path(os.environ.get("BAISEG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _real_images(shared_dir) -> list[np.ndarray]:
    from baiseg.data.io import read_image

    folder = shared_dir / "PennFudanPed" / "PNGImages"
    if not folder.is_dir():
        return []
    return [read_image(p) for p in sorted(folder.glob("*.png"))[:2]]


def _scene() -> np.ndarray:
    img = np.zeros((150, 205, 3), np.uint8)
    img[20:120, 15:100] = (200, 40, 40)
    img[30:140, 100:190] = (40, 180, 60)
    return img


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from baiseg.models import build_model

    overrides = ["model.pretrained=false", "model.num_classes=3", "model.iabm_dim=8", "model.sem_dim=16",
                 "mep.min_area_px=30"]  # fmt: skip
    cfg: Config = load_config(resolve_preset("cpu_lite0"), overrides)
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    path = tmp_path_factory.mktemp("onnx") / "w.safetensors"
    save_weights(path, model, cfg, ["red", "green"], [5, 9])
    return path


@pytest.fixture(scope="module")
def exported(weights):
    from baiseg.onnx_backend import export_onnx

    return export_onnx(weights, weights.with_suffix(".onnx"))


def test_onnx_matches_pytorch_maps_and_instances(weights, exported):
    a = Predictor.from_pretrained(weights)
    b = Predictor.from_pretrained(exported, threads=1)
    assert b.class_names == ["red", "green"] and b.category_ids == [5, 9] and b.mep == a.mep
    images = [_scene(), *_real_images(SHARED)]
    for img in images:
        ma, mb = a.infer(img), b.infer(img)
        assert mb["boundary_prob"].shape == img.shape[:2]
        assert np.abs(ma["boundary_prob"] - mb["boundary_prob"]).max() <= 1e-4
        assert np.abs(ma["sem_prob"] - mb["sem_prob"]).max() <= 1e-4
        ia, _ = a.predict_instances(img)
        ib, _ = b.predict_instances(img)
        assert len(ia) == len(ib)
        for m1, m2 in zip(ia.masks, ib.masks):
            assert (m1 & m2).sum() / max((m1 | m2).sum(), 1) >= 0.99


def test_onnx_metadata_and_batch(exported):
    import onnx

    props = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert props["format"] == "baiseg-onnx-1" and json.loads(props["class_names"]) == ["red", "green"]
    assert "min_area_px: 30" in props["mep"] and "mep:" in props["config"]
    pred = Predictor.from_pretrained(exported)
    imgs = [_scene(), _scene()[:, ::-1].copy()]
    batch = pred.infer_batch(imgs)
    for img, out in zip(imgs, batch):
        assert np.abs(out["sem_prob"] - pred.infer(img)["sem_prob"]).max() <= 1e-5


def test_onnx_errors(tmp_path, weights):
    from baiseg.onnx_backend import OnnxModel

    with pytest.raises(WeightsError, match="does not exist"):
        Predictor.from_pretrained(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not an onnx file")
    with pytest.raises(WeightsError, match="cannot be loaded"):
        Predictor.from_pretrained(junk)
    assert main(["export", "--weights", str(weights), "--out", str(tmp_path / "m.txt")]) == 2
    with pytest.raises(BaisegError, match="CPU"):
        OnnxModel(weights.with_suffix(".onnx")).to("cuda")


def test_export_and_predict_cli(tmp_path, weights, capsys):
    import cv2

    out = tmp_path / "m.onnx"
    assert main(["export", "--weights", str(weights), "--out", str(out)]) == 0
    assert "max |difference|" in capsys.readouterr().out
    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    cv2.imwrite(str(img_dir / "a.png"), _scene()[:, :, ::-1])
    for w, name in ((weights, "pt"), (out, "ox")):
        assert main(["predict", "--weights", str(w), "--input", str(img_dir), "--out", str(tmp_path / name),
                     "--workers", "0", "--mep-workers", "0"]) == 0  # fmt: skip
    ra = json.loads((tmp_path / "pt" / "results.json").read_text())
    rb = json.loads((tmp_path / "ox" / "results.json").read_text())
    assert [r["segmentation"] for r in ra] == [r["segmentation"] for r in rb]
    assert MEPConfig is not None
