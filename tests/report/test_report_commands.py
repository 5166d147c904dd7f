"""``predict --report`` and ``evaluate --save-maps --report`` write the report at the end (the stand-in network of
tests/conftest.py replaces the weights); ``predict.json`` names the input and the classes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from baiseg.cli import main
from baiseg.config import MEPConfig
from baiseg.predictor import Predictor
from tests.report.test_report_build import read_summary, referenced


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, edge_net: type) -> None:
    def load(cls: type, weights: str, **kw: object) -> Predictor:
        return cls(edge_net(), ["disc"], [1], mep=MEPConfig(min_area_px=20), **kw)

    monkeypatch.setattr(Predictor, "from_pretrained", classmethod(load))


def test_predict_report(tmp_path: Path, stand_in: None) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        img = np.zeros((60, 80, 3), np.uint8)
        img[10:50, 10 + i:40], img[10:50, 40:70] = 120, 220
        Image.fromarray(img).save(images / f"im{i}.png")
    out = tmp_path / "pred"
    assert main(["predict", "--weights", "w.safetensors", "--input", str(images), "--out", str(out), "--workers", "0",
                 "--mep-workers", "0", "--no-progress", "--report"]) == 0  # fmt: skip
    meta = json.loads((out / "predict.json").read_text())
    assert meta["input"] == str(images.resolve()) and meta["class_names"] == ["disc"] and meta["category_ids"] == [1]
    s = read_summary(out / "report")
    assert [r["id"] for r in s["images"]] == ["im0", "im1"] and s["classes"] == ["disc"]
    d = referenced(out / "report", "00000")
    assert d["methods"][0]["inst"] and (out / "report" / d["methods"][0]["boundary"]).is_file()


def test_evaluate_save_maps_and_report(tmp_path: Path, stand_in: None) -> None:
    data = tmp_path / "syn.yaml"
    data.write_text("format: synthetic\nnum_images: 2\nsize: 64\nnum_classes: 2\nseed: 2\n")
    out = tmp_path / "ev"
    assert main(["evaluate", "--data", str(data), "--weights", "w.safetensors", "--device", "cpu", "--save-maps",
                 "--report", "--out", str(out)]) == 0  # fmt: skip
    ids = [r["id"] for r in read_summary(out / "report")["images"]]
    assert len(ids) == 2 and all((out / k / f"{i}.png").is_file() for k in ("boundary", "semantic") for i in ids)
    d = referenced(out / "report", "00001")
    assert {"boundary", "semantic"} <= set(d["methods"][0])


def test_save_maps_needs_weights(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--data", "synthetic", "--method", "cc", "--save-maps", "--out", str(tmp_path)]) == 2
    assert "--save-maps" in capsys.readouterr().err
