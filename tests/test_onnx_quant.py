"""Int8 export (``baiseg export --int8``, ``baiseg.onnx_quant``): only the boundary branch is quantized by default,
the semantic branch stays float (identical probabilities), the boundary map stays close, metadata records the
calibration, the file runs in predict. Random-weight tiny network; skipped without onnxruntime."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from baiseg.cli import main  # noqa: E402
from baiseg.config import load_config, resolve_preset  # noqa: E402
from baiseg.errors import BaisegError  # noqa: E402
from baiseg.predictor import Predictor  # noqa: E402
from baiseg.weights_io import save_weights  # noqa: E402


def _scenes(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = np.full((96, 128, 3), 30, np.uint8)
        for _ in range(3):
            y, x = rng.integers(0, 60), rng.integers(0, 90)
            img[y:y + 30, x:x + 36] = rng.integers(60, 255, 3)
        out.append(img)
    return out


@pytest.fixture(scope="module")
def float_and_int8(tmp_path_factory):
    from baiseg.models import build_model
    from baiseg.onnx_backend import export_onnx
    from baiseg.onnx_quant import quantize_onnx

    cfg = load_config(resolve_preset("cpu_lite0"), ["model.pretrained=false", "model.num_classes=3",
                                                    "model.iabm_dim=8", "model.sem_dim=16"])  # fmt: skip
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    folder = tmp_path_factory.mktemp("q")
    weights = folder / "w.safetensors"
    save_weights(weights, model, cfg, ["red", "green"], [5, 9])
    fp = export_onnx(weights, folder / "w.onnx")
    q = quantize_onnx(fp, folder / "w_int8.onnx", _scenes(4), calib_data="scenes")
    return weights, fp, q


def test_int8_quantizes_the_boundary_branch_only(float_and_int8):
    import onnx

    _, fp, q = float_and_int8
    nodes = onnx.load(str(q)).graph.node
    consumers: dict[str, list[str]] = {}
    for n in nodes:
        for t in n.input:
            consumers.setdefault(t, []).append(n.name)
    dq_outputs = [n.output[0] for n in nodes if n.op_type == "DequantizeLinear"]
    users = {c for t in dq_outputs for c in consumers.get(t, [])}
    assert any(u.startswith("/net/iabm/") and u.endswith("Conv") for u in users)  # int8 convolutions in the IABM
    assert not [u for u in users if u.startswith(("/net/backbone/", "/net/semantic_head/"))]  # float there
    a, b = Predictor.from_pretrained(fp), Predictor.from_pretrained(q)
    for img in _scenes(3, seed=1):
        ma, mb = a.infer(img), b.infer(img)
        assert np.abs(ma["sem_prob"] - mb["sem_prob"]).max() <= 1e-5  # the semantic branch is float
        diff = np.abs(ma["boundary_prob"] - mb["boundary_prob"])
        assert 0 < diff.max() <= 0.25 and diff.mean() <= 0.02  # quantized, and close


def test_int8_metadata_and_errors(float_and_int8, tmp_path):
    from baiseg.onnx_quant import quantization_info, quantize_onnx

    _, fp, q = float_and_int8
    info = quantization_info(q)
    assert info["scope"] == "iabm" and info["calibration_images"] == 4 and info["calibration_data"] == "scenes"
    assert quantization_info(fp) is None
    pred = Predictor.from_pretrained(q)
    assert pred.class_names == ["red", "green"] and pred.category_ids == [5, 9]
    with pytest.raises(BaisegError, match="int8-scope"):
        quantize_onnx(fp, tmp_path / "x.onnx", _scenes(1), scope="half")
    with pytest.raises(BaisegError, match="calibration image"):
        quantize_onnx(fp, tmp_path / "x.onnx", [])
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_export_int8_cli_and_predict(float_and_int8, tmp_path, capsys):
    import cv2

    weights, _, _ = float_and_int8
    out = tmp_path / "m_int8.onnx"
    assert main(["export", "--weights", str(weights), "--out", str(out), "--int8", "--calib-data", "synthetic",
                 "--calib-images", "3"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "calibrating the int8 model on 3 images of 'synthetic'" in text and "int8:" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m_int8.onnx"]  # no temp files left
    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    cv2.imwrite(str(img_dir / "a.png"), _scenes(1)[0])
    assert main(["predict", "--weights", str(out), "--input", str(img_dir), "--out", str(tmp_path / "o"),
                 "--workers", "0", "--mep-workers", "0"]) == 0  # fmt: skip
    assert isinstance(json.loads((tmp_path / "o" / "results.json").read_text()), list)
    assert main(["export", "--weights", str(weights), "--out", str(tmp_path / "b.onnx"), "--int8",
                 "--calib-data", "synthetic", "--calib-images", "0"]) == 2  # fmt: skip
    assert "--calib-images 0" in capsys.readouterr().err
    assert main(["export", "--weights", str(weights), "--out", str(tmp_path / "c.onnx"), "--calib-images", "4"]) == 2
    assert "only apply to an int8 export" in capsys.readouterr().err and not (tmp_path / "c.onnx").exists()
