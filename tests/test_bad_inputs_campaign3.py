"""Fixes found by the third bad-input campaign (issue 21, ``bench/campaign3.py``), each at the gate of its kind.

Every test fails on the tree before the fix (a traceback or a silently changed value).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from baiseg.cli import main
from baiseg.config import ConfigError, load_config, resolve_preset
from baiseg.errors import BaisegError, DataError


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("value, match", [
    ("1e400", "expected an integer, got inf"),  # was OverflowError: cannot convert float infinity to integer
    ("-.inf", "expected an integer, got -inf"),
    ("9" * 30, "out of range"),  # was accepted (beyond int64: torch / NumPy / the C kernels overflow)
    (str(2**63), "out of range"),
])  # fmt: skip
def test_integer_settings_refuse_infinity_and_values_beyond_int64(value, match, capsys):
    with pytest.raises(ConfigError, match=match):
        load_config(resolve_preset("cpu_lite0"), [f"train.iters={value}"])
    assert main(["config", "cpu_lite0", f"train.iters={value}"]) == 2
    assert match in _one_line(capsys)


def test_integer_settings_are_exact_not_rounded_through_float(tmp_path):
    big = 2**62 + 1  # float(2**62 + 1) == 2**62: the old path returned int(float(value))
    cfg = load_config(resolve_preset("cpu_lite0"), [f"train.iters={big}", "train.log_every=99999999999999999"])
    assert cfg.train.iters == big and cfg.train.log_every == 99999999999999999
    path = tmp_path / "c.yaml"
    path.write_text(f"train:\n  iters: '{big}'\n")
    assert load_config(path).train.iters == big


def _instance_png(tmp_path, classes_file: bytes):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    img = np.zeros((16, 16, 3), np.uint8)
    ids = np.zeros((16, 16), np.uint8)
    ids[2:8, 2:8] = 1
    Image.fromarray(img).save(tmp_path / "images" / "a0.png")
    Image.fromarray(ids).save(tmp_path / "masks" / "a0.png")
    (tmp_path / "cls.txt").write_bytes(classes_file)
    spec = tmp_path / "d.yaml"
    spec.write_text("format: instance_png\nimages: images\nmasks: masks\nclasses: [x, y]\nclasses_file: cls.txt\n")
    return spec


def test_a_classes_file_that_is_not_utf8_is_one_line(tmp_path, capsys):
    spec = _instance_png(tmp_path, b"a0 1 x\xff\n")  # was a UnicodeDecodeError traceback
    from baiseg.data import build_dataset

    with pytest.raises(DataError, match=r"classes file .* is not UTF-8 \(byte 0xff at offset 6\)"):
        build_dataset(spec)
    assert main(["data", "check", str(spec)]) == 2
    assert "is not UTF-8" in _one_line(capsys)


def test_a_good_classes_file_is_still_read(tmp_path):
    from baiseg.data import build_dataset

    ds = build_dataset(_instance_png(tmp_path, "\ufeffa0 1 y  # comment\n".encode()))
    assert ds[0]["instances"]["classes"].tolist() == [2]


def test_json_nested_too_deeply_is_one_line(tmp_path):
    """COCO annotation files and results files: a RecursionError of the JSON parser was a traceback."""
    from baiseg.data.coco import load_json
    from baiseg.evaluation.results import read_results

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(BaisegError, match="nests too deeply"):
        load_json(deep, ("images",))
    with pytest.raises(BaisegError, match="nests too deeply"):
        read_results(deep)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps([]))
    assert read_results(ok) == {}


LONG = "n" * 300  # one path component over NAME_MAX (255 bytes)


@pytest.mark.parametrize("argv", [
    ["data", "check", f"{LONG}.yaml"],
    ["config", f"{LONG}.yaml"],
    ["evaluate", "--data", "synthetic", "--predictions", f"{LONG}.json"],
    ["predict", "--weights", "w.safetensors", "--input", f"{LONG}.png", "--out", "{tmp}/o"],
    ["predict", "--weights", f"{LONG}.safetensors", "--input", "{tmp}", "--out", "{tmp}/o"],
    ["sweep", "cpu_lite0", "--rows", f"{LONG}.yaml", "--out", "{tmp}/s"],
])  # fmt: skip
def test_an_input_path_with_a_name_over_255_bytes_is_one_line(tmp_path, capsys, argv):
    """ENAMETOOLONG from any path a command is given was an OSError traceback (six commands)."""
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    assert "is too long a path" in _one_line(capsys)


def test_thread_and_worker_counts_are_bounded(tmp_path, capsys):
    """``predict --threads 100000`` aborted the process (SIGABRT in torch's OpenMP set-up)."""
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    for flag in ("--threads", "--workers", "--mep-workers"):
        rc = main(["predict", "--weights", "w.safetensors", "--input", str(tmp_path / "a.png"), "--out",
                   str(tmp_path / "o"), flag, "100000"])  # fmt: skip
        assert rc == 2 and "must be <= 1024" in _one_line(capsys)
    with pytest.raises(ConfigError, match="<= 1024"):
        load_config(resolve_preset("cpu_lite0"), ["train.threads=100000"])


@pytest.mark.parametrize("change, match", [
    ({"iscrowd": "yes"}, "has iscrowd 'yes': give 0 or 1"),  # was read as a crowd region without a word
    ({"iscrowd": 2}, "has iscrowd 2"),
    ({"area": "big"}, "has area 'big'"),  # was a ValueError traceback when the image was loaded
    ({"area": None}, "has area None"),
])  # fmt: skip
def test_coco_iscrowd_and_area_are_checked(tmp_path, change, match):
    from baiseg.data import build_dataset

    (tmp_path / "img").mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "img" / "a.png")
    ann = {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 36,
           "segmentation": [[2, 2, 8, 2, 8, 8, 2, 8]], **change}  # fmt: skip
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": 16, "height": 16}], "annotations": [ann],
            "categories": [{"id": 1, "name": "x"}]}  # fmt: skip
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    (tmp_path / "d.yaml").write_text("format: coco\nimages: img\nannotations: ann.json\n")
    ds = build_dataset(tmp_path / "d.yaml", strict=False)
    assert any(match in p for p in ds.problems), ds.problems
    with pytest.raises(DataError):
        build_dataset(tmp_path / "d.yaml")


def test_compressed_rle_strings_must_decode_to_the_image_size(tmp_path):
    """``counts: ""`` (and a string cut short, or of another size) passed the results gate and scored as an empty
    mask."""
    from pycocotools import mask as mask_util

    from baiseg.evaluation.results import compressed_runs, read_results

    m = np.zeros((12, 16), np.uint8)
    m[2:7, 3:9] = 1
    good = mask_util.encode(np.asfortranarray(m))["counts"].decode()
    assert sum(compressed_runs(good)) == 12 * 16
    for counts, ok in ((good, True), ("", False), (good[:-1], False), (good + "1", False), ("~~", False)):
        p = tmp_path / "r.json"
        p.write_text(json.dumps([{"image_id": 1, "category_id": 1, "score": 0.5,
                                  "segmentation": {"size": [12, 16], "counts": counts}}]))  # fmt: skip
        if ok:
            assert len(read_results(p)["1"]) == 1
        else:
            with pytest.raises(BaisegError, match="compressed RLE string"):
                read_results(p)
