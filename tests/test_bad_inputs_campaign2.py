"""Second bad-input campaign of issue 10 (docs/HARDENING.md): the failures it found, each a regression test.
Synthetic fixtures in tmp_path, CPU, seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from baiseg.cli import main
from baiseg.data import build_dataset
from baiseg.data.io import max_image_pixels
from baiseg.errors import DataError


def _dataset(root: Path, **extra) -> Path:
    """An instance_png dataset of 3 images 64x80 with two square instances each; returns its YAML."""
    (root / "img").mkdir(parents=True)
    (root / "msk").mkdir()
    for i in range(3):
        im = np.full((64, 80, 3), 30, np.uint8)
        m = np.zeros((64, 80), np.uint8)
        im[8:24, 8:24], m[8:24, 8:24] = 200, 1
        im[36:56, 40:70], m[36:56, 40:70] = 220, 2
        Image.fromarray(im).save(root / "img" / f"a{i}.png")
        Image.fromarray(m).save(root / "msk" / f"a{i}_mask.png")
    spec = {"format": "instance_png", "images": "img", "masks": "msk", "mask_suffix": "_mask", "classes": ["person"]}
    path = root / "d.yaml"
    path.write_text(yaml.safe_dump({**spec, **extra}))
    return path


def _one_error_line(capsys: pytest.CaptureFixture, expected: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and expected in err, err
    return err


def test_list_file_with_a_duplicate_id_is_a_problem_and_the_image_is_kept_once(tmp_path: Path, capsys) -> None:
    (tmp_path / "ids.txt").write_text("a0\na1\na0\n")
    data = _dataset(tmp_path, list="ids.txt")
    ds = build_dataset(data, strict=False)
    assert [r["image_id"] for r in ds.items] == ["a0", "a1"]
    assert any("'a0' is listed twice" in p for p in ds.problems), ds.problems
    assert main(["data", "check", str(data)]) == 1
    assert "listed twice" in capsys.readouterr().out


def test_data_show_out_that_is_a_file_is_one_line(tmp_path: Path, capsys) -> None:
    data = _dataset(tmp_path)
    (tmp_path / "afile").write_text("x")
    assert main(["data", "show", str(data), "--out", str(tmp_path / "afile")]) == 2
    _one_error_line(capsys, "is a file: give a folder")
    assert main(["data", "show", str(data), "--out", str(tmp_path / "afile" / "sub")]) == 2
    _one_error_line(capsys, "cannot be created")


def test_export_into_a_folder_that_cannot_be_created_is_one_line(tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnx")
    (tmp_path / "afile").write_text("x")
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"")
    assert main(["export", "--weights", str(weights), "--out", str(tmp_path / "afile" / "m.onnx")]) == 2
    _one_error_line(capsys, "cannot be created")


@pytest.mark.parametrize("value", ["abc", "inf", "-1", "nan"])
def test_a_bad_max_image_pixels_setting_stops_the_command_up_front(tmp_path: Path, monkeypatch, capsys,
                                                                  value: str) -> None:  # fmt: skip
    data = _dataset(tmp_path)
    monkeypatch.setenv("BAISEG_MAX_IMAGE_PIXELS", value)
    with pytest.raises(DataError, match="BAISEG_MAX_IMAGE_PIXELS must be"):
        max_image_pixels()
    assert main(["data", "check", str(data)]) == 2
    _one_error_line(capsys, "BAISEG_MAX_IMAGE_PIXELS must be")


def test_evaluate_negative_limit_is_refused(tmp_path: Path, capsys) -> None:
    data = _dataset(tmp_path)
    argv = ["evaluate", "--data", str(data), "--method", "cc", "--semantic", "gt", "--limit", "-1"]
    assert main([*argv, "--out", str(tmp_path / "ev")]) == 2
    _one_error_line(capsys, "--limit -1")


@pytest.mark.parametrize(
    "array,expected",
    [
        (np.ones((8, 8), bool), "dtype bool"),
        (np.full((8, 8, 3), "x"), "dtype <U1"),
        (np.full((8, 8, 3), 1000.0), "outside 0..255"),
        (np.full((8, 8), 70000, np.int64), "outside 0..255"),
        (np.full((8, 8), -1, np.int32), "outside 0..255"),
        (np.full((8, 8, 3), np.nan, np.float32), "outside 0..255"),
    ],
)
def test_predictor_refuses_arrays_that_are_not_images(array: np.ndarray, expected: str) -> None:
    from baiseg.errors import BaisegError
    from baiseg.segmenter import as_rgb_uint8

    with pytest.raises(BaisegError, match=expected.replace(".", r"\.")):
        as_rgb_uint8(array)


def test_predictor_still_takes_int_arrays_and_lists_within_0_255() -> None:
    from baiseg.segmenter import as_rgb_uint8

    out = as_rgb_uint8(np.full((4, 5), 200, np.int64))
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8 and (out == 200).all()
    assert as_rgb_uint8([[0, 255], [10, 20]]).shape == (2, 2, 3)


def test_a_split_on_a_format_without_splits_is_refused(tmp_path: Path, capsys) -> None:
    data = _dataset(tmp_path)
    with pytest.raises(DataError, match="selects nothing in format 'instance_png'"):
        build_dataset(data, split="val")
    assert len(build_dataset(data)) == 3
    assert main(["data", "check", str(data), "--split", "val"]) == 2
    _one_error_line(capsys, "only voc and synthetic have splits")


def test_sweep_negative_limit_is_refused_before_any_training(tmp_path: Path, capsys) -> None:
    argv = ["sweep", "cpu_lite0", "--grid", "mep.boundary_thr=0.5", "--limit", "-1", "--out", str(tmp_path / "sw"),
            "--no-progress", "data.train=synthetic", "data.val=synthetic"]  # fmt: skip
    assert main(argv) == 2
    _one_error_line(capsys, "--limit -1")
    assert not (tmp_path / "sw" / "runs").exists()


@pytest.mark.parametrize("opset", ["1", "9", "99"])
def test_export_opset_out_of_range_is_one_line_before_any_export(tmp_path: Path, capsys, opset: str) -> None:
    pytest.importorskip("onnx")
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"")
    assert main(["export", "--weights", str(weights), "--out", str(tmp_path / "m.onnx"), "--opset", opset]) == 2
    _one_error_line(capsys, f"--opset {opset}: give 11 to ")
    assert capsys.readouterr().out == ""


def test_predict_skipped_json_names_the_image_file_of_a_dataset(tmp_path: Path, monkeypatch, capsys, edge_net) -> None:
    import json

    from baiseg.config import MEPConfig
    from baiseg.predictor import Predictor

    monkeypatch.setattr(Predictor, "from_pretrained",
                        classmethod(lambda cls, w, **kw: cls(edge_net(), ["person"], [1],
                                                             mep=MEPConfig(min_area_px=50), **kw)))  # fmt: skip
    data = _dataset(tmp_path / "ds")
    bad = tmp_path / "ds" / "img" / "a1.png"
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    out = tmp_path / "o"
    assert main(["predict", "--weights", "w.safetensors", "--input", str(data), "--out", str(out), "--workers", "0",
                 "--mep-workers", "0", "--no-progress"]) == 0  # fmt: skip
    skipped = json.loads((out / "skipped.json").read_text())
    assert [s["input"] for s in skipped] == [str(bad)], skipped
    assert "Dataset(" not in capsys.readouterr().err
