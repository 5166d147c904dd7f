"""The class-metadata gate of ONNX files (issue 21): checked like safetensors weights' and against the graph.

Small hand-made graphs (two 1x1 convolutions, bench/toy_onnx.py) stand in for exported networks; skipped without
onnx/onnxruntime.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from baiseg.cli import main  # noqa: E402
from baiseg.errors import WeightsError  # noqa: E402
from baiseg.onnx_backend import read_onnx_meta  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the package `bench` lives at the repository root
from bench.toy_onnx import toy_onnx  # noqa: E402

del sys.path[0]


def _graph(path: Path, channels: int, *, meta: dict[str, str | None] | None = None, symbolic: bool = False,
           out_names: tuple[str, str] = ("boundary_logits", "sem_logits")) -> Path:  # fmt: skip
    """The toy ONNX file (bench/toy_onnx.py: images N x 3 x H x W -> N x 1 x H x W, N x channels x H x W) with the
    classes cat, dog and the category ids 17, 18."""
    return toy_onnx(path, channels, meta, outputs=out_names, symbolic=symbolic, class_names=["cat", "dog"],
                    category_ids=[17, 18])


def test_a_consistent_file_is_read(tmp_path):
    meta = read_onnx_meta(_graph(tmp_path / "ok.onnx", 3))
    assert meta["class_names"] == ["cat", "dog"] and meta["category_ids"] == [17, 18]
    assert read_onnx_meta(_graph(tmp_path / "sym.onnx", 3, symbolic=True))["class_names"] == ["cat", "dog"]


@pytest.mark.parametrize("kw, match", [
    ({"channels": 5}, r"'sem_logits' has shape \[.*5.*\], expected N x 3 x H x W for 2 class names"),
    ({"channels": 5, "symbolic": True}, "'sem_logits' has (shape .*|5 channels, )expected (N x )?3"),
    ({"meta": {"class_names": None}}, "has no 'class_names' metadata"),
    ({"meta": {"class_names": json.dumps(["cat", ""])}}, "must be a list of non-empty strings"),
    ({"meta": {"class_names": json.dumps(["cat", "dog", "cow"])}}, "3 class names but the semantic head has 3"),
    ({"meta": {"category_ids": json.dumps([17])}}, "'category_ids' metadata must be 2 integers"),
    ({"meta": {"category_ids": json.dumps([17, 1.5])}}, "'category_ids' metadata must be 2 integers"),
    ({"meta": {"class_names": "[cat"}}, "is not valid JSON"),
    ({"meta": {"input_norm": json.dumps([[0, 0, 0], [0, 1, 1]])}}, "'input_norm' metadata must be"),
    ({"meta": {"input_norm": json.dumps("x")}}, "'input_norm' metadata must be"),
    ({"out_names": ("boundary", "sem_logits")}, "the graph has no boundary_logits"),
])  # fmt: skip
def test_inconsistent_class_metadata_is_refused_in_one_line(tmp_path, kw, match):
    channels = kw.pop("channels", 3)
    path = _graph(tmp_path / "bad.onnx", channels, **kw)
    with pytest.raises(WeightsError, match=match) as e:
        read_onnx_meta(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_predict_with_an_inconsistent_onnx_file_is_exit_2(tmp_path, capsys):
    from PIL import Image

    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(tmp_path / "a.png")
    bad = _graph(tmp_path / "bad.onnx", 7)
    rc = main(["predict", "--weights", str(bad), "--input", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"),
               "--no-progress", "--workers", "0", "--mep-workers", "0"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "expected N x 3 x H x W" in err


def test_one_toy_onnx_builder(tmp_path):
    """bench/toy_onnx.py is the only builder of toy graphs (the campaign's W cases and these tests); its defaults
    make a consistent file."""
    assert read_onnx_meta(toy_onnx(tmp_path / "c.onnx", 3))["class_names"] == ["c1", "c2"]
    builders = [p.relative_to(REPO).as_posix() for d in ("bench", "tests") for p in (REPO / d).rglob("*.py")
                if "make_graph" + "(" in p.read_text(encoding="utf-8")]  # fmt: skip
    assert builders == ["bench/toy_onnx.py"]
