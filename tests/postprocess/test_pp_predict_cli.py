"""``baiseg predict`` end to end on synthetic images (stand-in network; the real tiny model when it exists)."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch
from PIL import Image

from baiseg.cli import main
from baiseg.config import MEPConfig
from baiseg.predictor import Predictor


def _write_inputs(folder):
    folder.mkdir()
    img = np.zeros((80, 100, 3), np.uint8)
    img[10:60, 10:50], img[10:60, 50:90] = 120, 220
    Image.fromarray(img).save(folder / "1.png")
    Image.fromarray(img[..., 0].astype(np.uint16) * 257).save(folder / "2.png")  # 16-bit grayscale
    Image.fromarray(np.dstack([img, np.full((80, 100), 255, np.uint8)])).save(folder / "3.png")  # RGBA
    return img


def _check_results(out, n_images):
    from pycocotools.coco import COCO

    res = json.loads((out / "results.json").read_text())
    assert res and {r["category_id"] for r in res} == {5}
    gt = {"images": [{"id": i, "height": 80, "width": 100} for i in range(1, n_images + 1)], "annotations": [],
          "categories": [{"id": 5, "name": "thing"}]}  # fmt: skip
    (out / "gt.json").write_text(json.dumps(gt))
    coco = COCO(str(out / "gt.json"))
    assert len(coco.loadRes(str(out / "results.json")).getAnnIds()) == len(res)
    ids = np.asarray(Image.open(out / "instances" / "1.png"))
    assert ids.shape == (80, 100) and ids.max() == 2
    assert (out / "boundary" / "3.png").is_file() and (out / "mep.yaml").is_file()
    assert np.asarray(Image.open(out / "overlays" / "2.png")).shape == (80, 100, 3)


@pytest.mark.parametrize("mep_workers", [0, 1])
def test_predict_folder_with_stand_in_model(tmp_path, monkeypatch, mep_workers, edge_net):
    _write_inputs(tmp_path / "in")
    monkeypatch.setattr(
        Predictor,
        "from_pretrained",
        classmethod(lambda cls, w, **kw: cls(edge_net(), ["thing"], [5], mep=MEPConfig(), **kw)),
    )
    out = tmp_path / "out"
    argv = ["predict", "--weights", "w.safetensors", "--input", str(tmp_path / "in"), "--out", str(out),
            "--workers", "0", "--mep-workers", str(mep_workers), "mep.min_area_px=50"]  # fmt: skip
    assert main(argv) == 0
    _check_results(out, 3)


def test_predict_semantic_dir_and_errors(tmp_path, monkeypatch, capsys, edge_net):
    img = _write_inputs(tmp_path / "in")
    (tmp_path / "sem").mkdir()
    for stem in ("1", "2", "3"):
        Image.fromarray((img[..., 0] > 0).astype(np.uint8)).save(tmp_path / "sem" / f"{stem}.png")
    monkeypatch.setattr(
        Predictor, "from_pretrained", classmethod(lambda cls, w, **kw: cls(edge_net(), ["thing"], [5], **kw))
    )
    out = tmp_path / "out"
    argv = ["predict", "--weights", "w", "--input", str(tmp_path / "in"), "--out", str(out), "--workers", "1",
            "--semantic-dir", str(tmp_path / "sem")]  # fmt: skip
    assert main(argv) == 0
    _check_results(out, 3)
    assert main(["predict", "--weights", "w", "--input", str(tmp_path / "nope"), "--out", str(tmp_path / "o2")]) == 2
    assert "neither an image" in capsys.readouterr().err


def test_predict_with_real_tiny_model(tmp_path):
    from baiseg.config import Config
    from baiseg.weights_io import save_weights

    build_model = getattr(importlib.import_module("baiseg.models"), "build_model", None)
    if build_model is None:
        pytest.skip("baiseg.models.build_model is not in this checkout yet")

    cfg = Config()
    cfg.model.pretrained = False
    cfg.model.num_classes = 2
    cfg.model.iabm_r, cfg.model.iabm_dim, cfg.model.iabm_stride, cfg.model.proj_dim = 1, 8, 4, 16
    torch.manual_seed(0)
    save_weights(tmp_path / "w.safetensors", build_model(cfg.model), cfg, ["thing"], [5])
    _write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    argv = ["predict", "--weights", str(tmp_path / "w.safetensors"), "--input", str(tmp_path / "in"),
            "--out", str(out), "--workers", "0", "mep.min_area_px=1"]  # fmt: skip
    assert main(argv) == 0
    assert (out / "results.json").is_file() and len(list((out / "instances").iterdir())) == 3


def test_shipped_dataset_names_are_inputs():
    from baiseg.commands.predict_io import _shipped_dataset

    assert _shipped_dataset("pennfudan_val")
    assert not _shipped_dataset("no_such_dataset")
    assert not _shipped_dataset("baiseg/configs/datasets/pennfudan_val")
