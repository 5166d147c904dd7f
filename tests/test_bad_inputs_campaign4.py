"""Fixes found by the fourth bad-input campaign (issue 21, ``bench/campaign4.py``), each at the gate of its kind.

Every test fails on the tree before the fix (a traceback, or a value silently changed or accepted).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from baiseg.cli import main
from baiseg.config import Config, ConfigError, load_config, resolve_preset
from baiseg.errors import BaisegError, DataError, WeightsError


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def _cfg(*overrides: str) -> Config:
    return load_config(resolve_preset("cpu_lite0"), list(overrides))


# ----------------------------------------------------------------------------------------------- config overrides
@pytest.mark.parametrize("override, key, want", [
    ("train.name=12:30", "name", "12:30"),  # was 750 (a YAML 1.1 base-60 integer)
    ("train.name=yes", "name", "yes"),  # was 'True'
    ("train.name=007", "name", "007"),  # was '7'
    ("train.iters=010", "iters", 10),  # was 8 (YAML 1.1 octal)
])  # fmt: skip
def test_a_string_or_number_override_is_the_text_typed_not_a_yaml_1_1_reading(override, key, want):
    got = getattr(_cfg(override).train, key)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("override", ["train.name=null", "train.out_dir=~"])  # were the text 'None': ./None/...
def test_a_null_for_a_string_setting_is_refused(override, capsys):
    with pytest.raises(ConfigError, match="expected a string, got nothing"):
        _cfg(override)
    assert main(["config", "cpu_lite0", override]) == 2
    assert "expected a string" in _one_line(capsys)


def test_a_boolean_in_a_config_file_for_a_string_setting_is_refused(tmp_path):
    (tmp_path / "c.yaml").write_text("train:\n  name: yes\n")  # YAML 1.1: True, which became the run name 'True'
    with pytest.raises(ConfigError, match="train.name: expected a string, got True"):
        load_config(tmp_path / "c.yaml")


@pytest.mark.parametrize("overrides", [["train=5", "train.iters=3"], ["train.iters=3", "train.iters.x=5"]])
def test_a_key_below_a_key_that_holds_a_value_is_one_line(overrides, capsys):
    assert main(["config", "cpu_lite0", *overrides]) == 2  # was TypeError: 'int' object does not support item ...
    assert "which an earlier override set to" in _one_line(capsys)


def test_a_section_mapping_override_merges_with_the_keys_given_before_it():
    cfg = _cfg("train.iters=3", "train={lr: 0.1}")  # the mapping replaced the section: iters went back to 3000
    assert (cfg.train.iters, cfg.train.lr) == (3, 0.1)
    assert _cfg("train.iters=3", "train.iters=4").train.iters == 4  # a key given twice: the last (sweep rows)


@pytest.mark.parametrize("overrides, match", [
    (["loss.w_contrast=0", "loss.w_boundary=0", "loss.w_sem=0"], "are all 0"),  # trained nothing with exit 0
    (["loss.w_boundary=0", "loss.w_sem=0", "loss.use_contrast=false"], "are all 0"),
    (["loss.ignore_index=1"], "loss.ignore_index=1 is a class id"),  # class 1 was silently ignored in the loss
])  # fmt: skip
def test_a_loss_that_cannot_train_is_refused(overrides, match):
    with pytest.raises(ConfigError, match=match):
        _cfg(*overrides)
    assert _cfg("loss.w_boundary=0", "loss.w_sem=0").loss.w_contrast > 0  # one weight is enough


def test_loss_weights_are_checked_for_the_architectures_that_train_with_them():
    from baiseg.config import load_config, resolve_preset

    zero = ["loss.w_contrast=0", "loss.w_boundary=0", "loss.w_sem=0"]  # Mask R-CNN trains with its own losses
    assert load_config(resolve_preset("maskrcnn_lite0"), zero).loss.w_sem == 0  # asked of the registry, not arch ==


# ---------------------------------------------------------------------------------------------- weights metadata
def _weights(tmp_path: Path, **changes: str) -> Path:
    cfg = Config()
    cfg.model.num_classes = 3
    torch.manual_seed(0)
    from baiseg.weights_io import save_weights

    src = save_weights(tmp_path / "w.safetensors", nn.Sequential(nn.Conv2d(3, 3, 1)), cfg, ["cat", "dog"], [17, 18])
    if not changes:
        return src
    with safe_open(str(src), framework="pt") as f:
        meta = {**f.metadata(), **changes}
    save_file(load_file(str(src)), str(tmp_path / "w2.safetensors"), metadata=meta)
    return tmp_path / "w2.safetensors"


@pytest.mark.parametrize("changes, match", [
    ({"category_ids": "[17, 17]"}, "'category_ids' metadata names \\[17\\] twice"),  # results of 2 classes merged
    ({"class_names": '["cat", "cat"]'}, "'class_names' metadata names \\['cat'\\] twice"),
])  # fmt: skip
def test_class_metadata_naming_a_class_twice_is_refused(tmp_path, changes, match):
    from baiseg.weights_io import read_weights_meta

    with pytest.raises(WeightsError, match=match):
        read_weights_meta(_weights(tmp_path, **changes))


def test_onnx_class_metadata_naming_an_id_twice_is_refused(tmp_path):
    pytest.importorskip("onnx")
    from baiseg.onnx_backend import load_onnx
    from bench.toy_onnx import toy_onnx

    with pytest.raises(BaisegError, match="'category_ids' metadata names \\[1\\] twice"):
        load_onnx(toy_onnx(tmp_path / "m.onnx", 3, {"category_ids": "[1, 1]"}))


@pytest.mark.parametrize("device, match", [
    ("gpu", "device='gpu' is not a device"),  # was "'w.safetensors': cannot read tensors (device gpu is invalid)"
    (None, "device=None is not a device"),
])  # fmt: skip
def test_load_weights_parses_the_device_first(tmp_path, device, match):
    from baiseg.weights_io import load_weights

    with pytest.raises(BaisegError, match=match):
        load_weights(_weights(tmp_path), device=device, build_fn=lambda m: nn.Sequential(nn.Conv2d(3, 3, 1)))


def test_weights_that_are_not_a_path_are_one_line():
    from baiseg.weights_io import read_weights_meta

    with pytest.raises(WeightsError, match="weights must be a path"):  # was TypeError: expected str, bytes or ...
        read_weights_meta(None)


# -------------------------------------------------------------------------------------------------- image decoder
@pytest.mark.parametrize("lo, hi", [(0.0, 1.01), (-0.01, 1.0)])
def test_a_float_image_slightly_outside_0_1_is_refused_not_read_black(tmp_path, lo, hi):
    import tifffile

    from baiseg.data.io import read_image

    img = np.linspace(lo, hi, 64 * 80, dtype=np.float32).reshape(64, 80)
    tifffile.imwrite(tmp_path / "x.tif", img)  # was read on the 8-bit scale: every pixel 0 or 1
    with pytest.raises(DataError, match="slightly outside \\[0, 1\\]"):
        read_image(tmp_path / "x.tif")
    tifffile.imwrite(tmp_path / "y.tif", img * 100)  # a real 0..101 float image is still read (8-bit scale)
    assert read_image(tmp_path / "y.tif").max() == 101


# --------------------------------------------------------------------------------------------- dataset files
def _instance_png(tmp_path: Path, classes_file: str) -> Path:
    (tmp_path / "images").mkdir(parents=True)
    (tmp_path / "masks").mkdir()
    ids = np.zeros((16, 16), np.uint8)
    ids[2:8, 2:8] = 1
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "images" / "a0.png")
    Image.fromarray(ids).save(tmp_path / "masks" / "a0.png")
    (tmp_path / "cls.txt").write_text(classes_file)
    spec = tmp_path / "d.yaml"
    spec.write_text("format: instance_png\nimages: images\nmasks: masks\nclasses: [x, y]\nclasses_file: cls.txt\n")
    return spec


@pytest.mark.parametrize("text", ["a0 1 x\na0 1 y\n", "a0 1 x\na0.png 01 y\n"])
def test_a_classes_file_giving_one_instance_two_classes_is_refused(tmp_path, text):
    from baiseg.data import build_dataset

    spec = _instance_png(tmp_path, text)  # the last line won without a word
    with pytest.raises(DataError, match="was given class 'x' on an earlier line and 'y' here"):
        build_dataset(spec)
    assert build_dataset(_instance_png(tmp_path / "b", "a0 1 y\na0 1 y\n"))[0]["instances"]["classes"].tolist() == [2]


def test_a_coco_file_naming_a_key_twice_is_refused(tmp_path):
    from baiseg.data import build_dataset

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    ann = {"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 4,
                            "segmentation": [[1, 1, 3, 1, 3, 3, 1, 3]]}],
           "categories": [{"id": 1, "name": "c"}]}  # fmt: skip
    # a second "annotations" list: json.loads kept the last (empty) one and the dataset lost its annotations
    (tmp_path / "ann.json").write_text(json.dumps(ann)[:-1] + ', "annotations": []}')  # an input, not a result
    (tmp_path / "d.yaml").write_text("format: coco\nimages: .\nannotations: ann.json\n")
    with pytest.raises(DataError, match="the key 'annotations' appears twice"):
        build_dataset(tmp_path / "d.yaml")


# -------------------------------------------------------------------------------------------------- output folders
def test_predict_overwrite_removes_only_a_predict_runs_outputs(tmp_path):
    from baiseg.commands.predict_io import check_out_dir

    user = tmp_path / "mine"
    (user / "instances").mkdir(parents=True)  # the user's own annotations, in a folder no baiseg command wrote
    (user / "instances" / "gt.png").write_bytes(b"x")
    with pytest.raises(DataError, match="no record that 'baiseg predict' wrote them"):
        check_out_dir(user, overwrite=True)  # was accepted: prepare_out_dir then deleted instances/
    (user / ".baiseg_out.json").write_text(json.dumps({"command": "predict", "identity": None}))
    check_out_dir(user, overwrite=True)  # a predict run's folder: --overwrite may replace its outputs


def test_a_16_bit_colour_png_is_scaled_by_its_bit_depth_not_cut_to_its_high_byte(tmp_path):
    import cv2

    from baiseg.data.io import read_image

    bgr = np.zeros((4, 5, 3), np.uint16)
    bgr[..., 2], bgr[..., 1] = 200, 20  # 8-bit values in a 16-bit file: Pillow kept the high byte (0): black
    cv2.imwrite(str(tmp_path / "a.png"), bgr)
    assert read_image(tmp_path / "a.png")[0, 0].tolist() == [200, 20, 0]
    cv2.imwrite(str(tmp_path / "b.png"), np.dstack([bgr * 16, np.full((4, 5), 4095, np.uint16)]))  # 12-bit + alpha
    assert read_image(tmp_path / "b.png")[0, 0].tolist() == [round(3200 * 255 / 4095), round(320 * 255 / 4095), 0]


def test_build_dataset_of_no_path_is_one_line():
    from baiseg.data import build_dataset

    with pytest.raises(DataError, match="got NoneType"):  # was TypeError: expected str, bytes or os.PathLike ...
        build_dataset(None)


@pytest.mark.parametrize("text", ["num_images: true\nsize: 64\n", "num_images: 2\nsize: [true, 64]\n"])
def test_a_boolean_is_not_a_synthetic_count(tmp_path, text):
    from baiseg.data import build_dataset

    (tmp_path / "s.yaml").write_text("format: synthetic\n" + text)  # true was read as 1 image
    with pytest.raises(DataError, match="synthetic: (num_images|size) must be"):
        build_dataset(tmp_path / "s.yaml")


def test_resume_refuses_a_run_whose_files_are_folders(tmp_path):
    from baiseg.engine.resume import check_resumable

    (tmp_path / "metrics.csv").mkdir()  # was IsADirectoryError after the checkpoint was loaded
    cfg = Config()
    with pytest.raises(BaisegError, match="metrics.csv' is a folder, not the run's file"):
        check_resumable(tmp_path, cfg, cfg)


@pytest.mark.parametrize("overrides, match", [
    ("train.iters=5", "overrides must be a list"),  # a string: read letter by letter ("override 't' is not ...")
    ([5], "override 5 is not a 'key=value' string"),  # was TypeError: argument of type 'int' is not iterable
])  # fmt: skip
def test_overrides_that_are_not_a_list_of_strings_are_one_line(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, overrides)


def test_train_with_a_config_and_resume_names_both(tmp_path, capsys):
    assert main(["train", "cpu_lite0", "--resume", str(tmp_path)]) == 2  # was "override 'cpu_lite0' is not ..."
    assert "give CONFIG ('cpu_lite0') or --resume RUN_DIR, not both" in _one_line(capsys)


def test_a_relative_shared_data_folder_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    from baiseg.data import build_dataset

    spec = _instance_png(tmp_path / "data" / "ds", "a0 1 x\n")
    (tmp_path / "yamls").mkdir()
    (tmp_path / "yamls" / "d.yaml").write_text(spec.read_text().replace("images: images", "root: ${BAISEG_SHARED_DATA}"
                                                                        "/ds\nimages: images"))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BAISEG_SHARED_DATA", "data")  # was resolved against yamls/: "root folder does not exist"
    assert len(build_dataset(tmp_path / "yamls" / "d.yaml")) == 1


def test_a_16_bit_colour_label_png_keeps_its_ids(tmp_path):
    import cv2

    from baiseg.data.io import read_label_png, read_rgb_ids

    ids = np.zeros((6, 7), np.uint16)
    ids[1:3, 1:3], ids[4:6, 2:6] = 1, 300
    cv2.imwrite(str(tmp_path / "m.png"), np.dstack([ids] * 3))  # equal channels: Pillow gave 0 and 1 (high bytes)
    assert np.array_equal(read_label_png(tmp_path / "m.png"), ids)
    cv2.imwrite(str(tmp_path / "c.png"), np.dstack([ids, ids * 2, ids]))
    with pytest.raises(DataError, match="16-bit colour image whose channels differ"):
        read_label_png(tmp_path / "c.png")
    with pytest.raises(DataError, match="expected 8-bit RGB"):  # panoptic ids R + 256 G + 65536 B of the high bytes
        read_rgb_ids(tmp_path / "c.png")


def test_worker_counts_are_bounded_everywhere(capsys):
    with pytest.raises(ConfigError, match="data.num_workers: must be >= 0 and <= 1024"):  # DataLoader forked them all
        _cfg("data.num_workers=100000")
    assert main(["pseudo", "--data", "synthetic", "--method", "cc", "--workers", "100000", "--out", "x"]) == 2
    assert "--workers 100000 must be <= 1024" in _one_line(capsys)  # a pool forked up to that many processes
