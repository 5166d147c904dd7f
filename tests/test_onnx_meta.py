"""The class-metadata gate of ONNX files (issue 21): checked like safetensors weights' and against the graph.

Small hand-made graphs (two 1x1 convolutions) stand in for exported networks; skipped without onnx/onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from baiseg.cli import main  # noqa: E402
from baiseg.config import Config, dump_yaml  # noqa: E402
from baiseg.errors import WeightsError  # noqa: E402
from baiseg.onnx_backend import FORMAT, read_onnx_meta  # noqa: E402


def _graph(path: Path, channels: int, *, meta: dict[str, str] | None = None, symbolic: bool = False,
           out_names: tuple[str, str] = ("boundary_logits", "sem_logits")) -> Path:  # fmt: skip
    """An ONNX file: images N x 3 x H x W -> (N x 1 x H x W, N x channels x H x W), with baiseg-style metadata."""
    rng = np.random.default_rng(0)
    wb = numpy_helper.from_array(rng.normal(size=(1, 3, 1, 1)).astype(np.float32), "wb")
    ws = numpy_helper.from_array(rng.normal(size=(channels, 3, 1, 1)).astype(np.float32), "ws")
    nodes = [helper.make_node("Conv", ["images", "wb"], [out_names[0]]),
             helper.make_node("Conv", ["images", "ws"], [out_names[1]])]  # fmt: skip
    c = "C" if symbolic else channels
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info(out_names[0], TensorProto.FLOAT, ["N", 1, "H", "W"]),
         helper.make_tensor_value_info(out_names[1], TensorProto.FLOAT, ["N", c, "H", "W"])], [wb, ws])  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    cfg = Config()
    cfg.model.num_classes = 3
    props = {"format": FORMAT, "config": dump_yaml(cfg), "class_names": json.dumps(["cat", "dog"]),
             "category_ids": json.dumps([17, 18]), "input_norm": json.dumps([[0, 0, 0], [255, 255, 255]])}  # fmt: skip
    props.update(meta or {})
    for k, v in props.items():
        if v is not None:
            e = model.metadata_props.add()
            e.key, e.value = k, v
    onnx.save(model, str(path))
    return path


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
