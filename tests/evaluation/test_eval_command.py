"""``baiseg evaluate``: JSON output, metrics.json, the results-JSON round trip, semantic folders and user errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from baiseg.cli import main
from baiseg.data.spec import DATASETS_DIR


@pytest.fixture
def tiny(tmp_path):
    """A 4-image synthetic dataset description."""
    p = tmp_path / "tiny.yaml"
    p.write_text("format: synthetic\nnum_images: 4\nsize: 64\nseed: 3\n")
    return p


def evaluate(capsys, *argv):
    rc = main(["evaluate", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_json_object_and_metrics_file(tiny, tmp_path, capsys):
    rc, out, _ = evaluate(capsys, "--data", tiny, "--method", "cc", "--json", "--out", tmp_path / "o")
    assert rc == 0
    obj = json.loads(out)
    assert set(obj) == {"voc", "coco", "images"} and obj["images"] == 4
    assert set(obj["voc"]) == {"mAP25", "mAP50", "mAP70", "mAP75"} and set(obj["coco"]) == {"AP", "AP50", "AP75"}
    assert all(0.0 <= v <= 100.0 for v in [*obj["voc"].values(), *obj["coco"].values()])
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["voc"] == obj["voc"] and metrics["settings"]["method"] == "cc"
    assert set(metrics["coco_voc_view"]) == set(obj["voc"]) and metrics["per_class"]
    assert (tmp_path / "o" / "results.json").is_file()


def test_predictions_round_trip(tiny, tmp_path, capsys):
    rc, first, _ = evaluate(capsys, "--data", tiny, "--method", "dtws", "--json", "--out", tmp_path / "a")
    assert rc == 0
    rc, second, _ = evaluate(
        capsys, "--data", tiny, "--predictions", tmp_path / "a" / "results.json", "--json", "--out", tmp_path / "b"
    )
    assert rc == 0 and json.loads(second) == json.loads(first)


def test_semantic_folder_equals_gt(tiny, tmp_path, capsys):
    from baiseg.data import build_dataset

    folder = tmp_path / "sem"
    folder.mkdir()
    for s in build_dataset(str(tiny)):
        Image.fromarray(np.asarray(s["semantic"], np.uint8)).save(folder / f"{s['image_id']}.png")
    _, gt, _ = evaluate(capsys, "--data", tiny, "--method", "cc", "--json", "--out", tmp_path / "g")
    rc, from_dir, _ = evaluate(capsys, "--data", tiny, "--method", "cc", "--semantic", folder, "--json",
                               "--out", tmp_path / "d")  # fmt: skip
    assert rc == 0 and json.loads(from_dir) == json.loads(gt)


def test_table_and_touching_subset(tiny, tmp_path, capsys):
    rc, out, _ = evaluate(capsys, "--data", tiny, "--method", "cc", "--subset", "touching", "--out", tmp_path / "t")
    assert rc == 0 and "VOC mAP^r" in out and "COCO" in out
    images = json.loads((tmp_path / "t" / "metrics.json").read_text())["images"]
    assert 0 < images <= 4  # the synthetic data is built of clusters of touching instances


def test_user_errors(tiny, tmp_path, capsys):
    rc, _, err = evaluate(capsys, "--data", tiny, "--out", tmp_path / "x")
    assert rc == 2 and "needs a model" in err
    rc, _, err = evaluate(capsys, "--data", tiny, "--method", "cc", "--semantic", tmp_path / "nope")
    assert rc == 2 and "--semantic" in err
    (tmp_path / "r.json").write_text(json.dumps([{"image_id": "ghost", "category_id": 1, "score": 1.0,
                                                  "segmentation": {"size": [64, 64], "counts": [4096]}}]))  # fmt: skip
    rc, _, err = evaluate(capsys, "--data", tiny, "--predictions", tmp_path / "r.json", "--out", tmp_path / "y")
    assert rc == 2 and "not in the dataset" in err


def test_cc_on_pennfudan_with_gt_semantics(shared_data, tmp_path, capsys):
    yaml = DATASETS_DIR / "pennfudan_val.yaml"
    if not yaml.is_file():
        pytest.skip("baiseg/configs/datasets/pennfudan_val.yaml not present")
    rc, out, _ = evaluate(capsys, "--data", yaml, "--method", "cc", "--json", "--out", tmp_path / "p")
    obj = json.loads(out)
    assert rc == 0 and obj["images"] == 50
    assert 50.0 < obj["voc"]["mAP50"] < 95.0  # pedestrians are often separate: cc gets most but not all
    assert obj["coco"]["AP50"] == pytest.approx(obj["voc"]["mAP50"], abs=3.0)


def test_weights_path_with_a_stand_in_model(tiny, tmp_path, capsys, monkeypatch):
    """--weights wiring: gt / model semantics and MEP overrides reach the predictor (model loading is the
    predictor's, tested there; here a stand-in network replaces it)."""
    torch = pytest.importorskip("torch")
    predictor_mod = pytest.importorskip("baiseg.predictor")
    import baiseg.commands.evaluate as cmd

    class Flat(torch.nn.Module):
        """No boundaries anywhere; semantic branch says background everywhere."""

        input_norm = ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0))

        def forward(self, x):
            n, _, h, w = x.shape
            sem = torch.zeros(n, 4, h, w)
            sem[:, 0] = 5.0
            return {"sem_logits": sem, "boundary_logits": torch.full((n, 1, h, w), -10.0)}

    seen = {}

    def fake_load(weights, device, method, max_side=1024, mep_at="image"):
        seen.update(weights=weights, device=device, method=method, max_side=max_side)
        return predictor_mod.Predictor(Flat(), ["disc", "box", "triangle"], method=method, max_side=max_side)

    monkeypatch.setattr(cmd, "_load_predictor", fake_load)
    rc, out, _ = evaluate(capsys, "--data", tiny, "--weights", "w.safetensors", "--semantic", "gt", "--json",
                          "--device", "cpu", "--out", tmp_path / "g", "mep.min_area_px=10")  # fmt: skip
    assert rc == 0 and seen == {"weights": "w.safetensors", "device": "cpu", "method": "baiseg", "max_side": 1024}
    with_gt = json.loads(out)
    assert with_gt["images"] == 4 and with_gt["voc"]["mAP25"] > 0  # no boundary: whole semantic regions
    rc, out, _ = evaluate(capsys, "--data", tiny, "--weights", "w.safetensors", "--json", "--out", tmp_path / "m")
    assert rc == 0 and json.loads(out)["voc"]["mAP50"] == 0.0  # model semantics: all background, no instance
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["settings"]["semantic"] == "model"
    # --max-side reaches the predictor; the 64-px images are then shrunk to 32 px and the masks resized back
    rc, out, _ = evaluate(capsys, "--data", tiny, "--weights", "w.safetensors", "--semantic", "gt", "--json",
                          "--max-side", 32, "--out", tmp_path / "s", "mep.min_area_px=10")  # fmt: skip
    assert rc == 0 and seen["max_side"] == 32
    small = json.loads(out)
    assert small["images"] == 4 and 0 < small["voc"]["mAP25"] <= 100
    assert json.loads((tmp_path / "s" / "metrics.json").read_text())["settings"]["max_side"] == 32
    rc, _, err = evaluate(capsys, "--data", tiny, "--weights", "w.safetensors", "--max-side", 16)
    assert rc == 2 and "--max-side 16 is too small" in err


def test_sam_method_refuses_model_semantics_and_missing_weights(tmp_path, capsys):
    from baiseg.cli import main

    assert main(["evaluate", "--data", "synthetic", "--method", "sam", "--semantic", "model", "--limit", "1"]) != 0
    assert "--method sam" in capsys.readouterr().err
    status = main(["evaluate", "--data", "synthetic", "--method", "sam", "--limit", "1",
                   "--sam-weights", str(tmp_path / "none.pt"), "--out", str(tmp_path / "e")])  # fmt: skip
    assert status != 0
    assert "fetch_mobilesam.sh" in capsys.readouterr().err
