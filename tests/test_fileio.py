"""Atomic writers: complete files with ordinary permissions; a failing writer leaves the old file and no debris."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from PIL import Image

from baiseg.fileio import atomic_write, write_json_atomic, write_png_atomic, write_text_atomic


def test_writers_and_permissions(tmp_path):
    p = write_json_atomic(tmp_path / "a" / "x.json", {"k": [1, 2]}, indent=2)
    assert json.loads(p.read_text()) == {"k": [1, 2]}
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
    write_png_atomic(tmp_path / "i.png", np.arange(12, dtype=np.uint8).reshape(3, 4))
    assert np.asarray(Image.open(tmp_path / "i.png")).tolist() == np.arange(12).reshape(3, 4).tolist()
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "nan.json", {"x": float("nan")})


def test_failed_write_keeps_old_file(tmp_path):
    target = write_text_atomic(tmp_path / "t.txt", "old")

    def boom(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write("partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["t.txt"]


@pytest.mark.parametrize("level", [0, 1, 9])
def test_png_round_trip_is_lossless_at_every_compression(tmp_path, level):
    rng = np.random.default_rng(level)
    for arr in (rng.integers(0, 256, (7, 5), dtype=np.uint8), rng.integers(0, 256, (7, 5, 3), dtype=np.uint8),
                rng.integers(0, 65536, (7, 5), dtype=np.uint16)):  # fmt: skip
        path = write_png_atomic(tmp_path / f"a{arr.ndim}{arr.dtype}.png", arr, compression=level)
        back = np.asarray(Image.open(path))
        assert back.shape == arr.shape and (back.astype(np.int64) == arr).all()  # RGB stays RGB
    with pytest.raises(ValueError, match="uint8 H x W"):
        write_png_atomic(tmp_path / "f.png", np.zeros((3, 3), np.float32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a2uint16.png", "a2uint8.png", "a3uint8.png"]
