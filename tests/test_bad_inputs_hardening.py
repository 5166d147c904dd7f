"""Bad inputs of issue 10 §1 that are not dataset or config files: weights metadata, checkpoints, results JSON,
non-finite network maps, oversized images, demo arguments. Each gets one line, never a traceback or exit 0."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from baiseg.cli import main
from baiseg.config import Config, MEPConfig
from baiseg.engine.checkpoint import load_checkpoint
from baiseg.errors import BaisegError, DataError, WeightsError
from baiseg.weights_io import load_weights, read_weights_meta, save_weights


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400, msg
    return msg


def _tiny(model_cfg) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, model_cfg.num_classes, 1))


def _weights(tmp_path: Path) -> Path:
    cfg = Config()
    cfg.model.num_classes = 3
    return save_weights(tmp_path / "w.safetensors", _tiny(cfg.model), cfg, ["cat", "dog"], [17, 18])


def _with_meta(src: Path, dst: Path, **changes: str) -> Path:
    from safetensors import safe_open

    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    meta.update(changes)
    save_file(load_file(str(src)), str(dst), metadata=meta)
    return dst


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"class_names": json.dumps(["cat"])}, "1 class names but the semantic head has 3 outputs"),
        ({"class_names": json.dumps(["cat", "dog", "cow"])}, "3 class names but the semantic head has 3 outputs"),
        ({"class_names": "[cat, dog"}, "'class_names' metadata is not valid JSON"),
        ({"class_names": json.dumps("cat")}, "must be a list of non-empty strings"),
        ({"category_ids": json.dumps([17])}, "'category_ids' metadata must be 2 integers"),
        ({"category_ids": "{"}, "'category_ids' metadata is not valid JSON"),
    ],
)
def test_weights_with_bad_class_metadata_are_refused(tmp_path: Path, changes: dict, expected: str) -> None:
    bad = _with_meta(_weights(tmp_path), tmp_path / "bad.safetensors", **changes)
    with pytest.raises(WeightsError) as e:
        load_weights(bad, build_fn=_tiny)
    assert expected in one_line(e)
    with pytest.raises(WeightsError):
        read_weights_meta(bad)


def test_a_folder_given_as_weights_is_called_a_folder(tmp_path: Path) -> None:
    _weights(tmp_path)
    with pytest.raises(WeightsError) as e:
        read_weights_meta(tmp_path)
    msg = one_line(e)
    assert "is a folder, not a file" in msg and "w.safetensors" in msg and "does not exist" not in msg
    with pytest.raises(WeightsError, match="is a folder"):
        load_checkpoint(tmp_path)


def test_garbage_checkpoint_never_suggests_weights_only_false(tmp_path: Path) -> None:
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "x", "obj": Evil()}, evil)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(pickle.dumps({"a": 1})[:-3] + b"\x00garbage")
    for path in (evil, garbage):
        with pytest.raises(WeightsError) as e:
            load_checkpoint(path)
        msg = one_line(e)
        assert "weights_only" not in msg and "cannot be read safely" in msg and str(path) in msg


def test_results_json_with_nan_or_inf_scores_is_refused(tmp_path: Path) -> None:
    from baiseg.evaluation.common import EvaluationError
    from baiseg.evaluation.results import read_results

    rle = {"size": [4, 4], "counts": "04L0"}
    for bad in (float("nan"), float("inf"), "0.5", None, True):
        path = tmp_path / "r.json"
        path.write_text(json.dumps([{"image_id": 1, "category_id": 1, "segmentation": rle, "score": bad}]))
        with pytest.raises(EvaluationError) as e:
            read_results(path)
        assert "entry 0 has score" in one_line(e) and "finite numbers" in str(e.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_maps_are_a_clear_error_in_the_mep(bad: float) -> None:
    from baiseg.postprocess.assembly import assemble_instances
    from baiseg.postprocess.mep import extract_masks
    from baiseg.postprocess.nms import boundary_nms

    b = np.zeros((16, 16), np.float32)
    b[4, 4] = bad
    sem = np.zeros((16, 16), np.uint8)
    sem[2:10, 2:10] = 1
    with pytest.raises(BaisegError) as e:
        boundary_nms(b)
    assert "boundary map holds 1 non-finite values" in one_line(e)
    with pytest.raises(BaisegError, match="non-finite"):
        extract_masks(b, sem, cfg=MEPConfig())
    prob = np.full((2, 16, 16), 0.5, np.float32)
    prob[1, 3, 3] = bad
    labels = (sem > 0).astype(np.int32)
    with pytest.raises(BaisegError, match="semantic probabilities holds 1 non-finite"):
        assemble_instances(labels, sem, sem_prob=prob)
    with pytest.raises(BaisegError, match="integer class ids"):
        extract_masks(np.zeros((16, 16), np.float32), np.where(b == b, 1.0, np.nan), cfg=MEPConfig())


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG that declares ``width`` x ``height`` (the pixel data is a few bytes of zlib)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))  # fmt: skip


def test_an_image_declaring_too_many_pixels_is_refused_by_name(tmp_path: Path, monkeypatch) -> None:
    from baiseg.data.io import read_image, read_label_png

    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 60000, 60000)
    assert bomb.stat().st_size < 400
    with pytest.raises(DataError) as e:
        read_image(bomb)
    msg = one_line(e)
    assert "bomb.png' declares 60000x60000" in msg and "BAISEG_MAX_IMAGE_PIXELS" in msg
    monkeypatch.setenv("BAISEG_MAX_IMAGE_PIXELS", "100")
    small = tmp_path / "small.png"
    from PIL import Image

    Image.fromarray(np.zeros((20, 20), np.uint8)).save(small)
    with pytest.raises(DataError, match="above the bound of 100"):
        read_label_png(small)
    monkeypatch.setenv("BAISEG_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(DataError, match="BAISEG_MAX_IMAGE_PIXELS must be a number"):
        read_image(small)
    monkeypatch.setenv("BAISEG_MAX_IMAGE_PIXELS", "0")  # 0 = no bound
    assert read_label_png(small).shape == (20, 20)


@pytest.mark.parametrize("args,expected", [(["--iters", "0"], "--iters must be >= 1, got 0"),
                                           (["--size", "8"], "--size must be >= 32")])  # fmt: skip
def test_demo_rejects_bad_arguments_up_front(tmp_path: Path, capsys, args: list[str], expected: str) -> None:
    assert main(["demo", "--out", str(tmp_path / "d"), *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and "does not exist" not in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()
