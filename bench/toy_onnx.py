"""A hand-made ONNX file with the contract of an exported BAISeg network and its metadata, standing in for a real
export where only the file's shape and metadata matter: the bad-input campaign (bench/campaign3.py) and the ONNX
metadata tests (tests/test_onnx_meta.py). Not a bench: it writes no JSON. Needs ``onnx``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def toy_onnx(
    path: str | Path,
    channels: int,
    meta: dict[str, str | None] | None = None,
    *,
    outputs: tuple[str, str] = ("boundary_logits", "sem_logits"),
    symbolic: bool = False,
    class_names: Sequence[str] = ("c1", "c2"),
    category_ids: Sequence[int] = (1, 2),
) -> Path:
    """Write a two-convolution graph ``images`` float N x 3 x H x W -> ``outputs[0]`` N x 1 x H x W and
    ``outputs[1]`` N x ``channels`` x H x W (1x1 convolutions with seeded weights), opset 17, IR version 8, with
    baiseg-onnx-1 metadata.

    Args:
        path: the ``.onnx`` file written.
        channels: semantic output channels declared and computed (K + 1 for a consistent file).
        meta: metadata entries replacing the defaults (``format``, ``config`` with ``model.num_classes: 3``,
            ``class_names``, ``category_ids``, ``input_norm`` ``[[0, 0, 0], [255, 255, 255]]``); a value of None
            leaves that entry out.
        outputs: the two output names.
        symbolic: declare the semantic channel dimension as the symbol ``C`` instead of ``channels``.
        class_names / category_ids: the default class metadata (JSON lists).

    Returns:
        ``path``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from baiseg.config import Config, dump_yaml
    from baiseg.onnx_backend import FORMAT

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(c, 3, 1, 1)).astype(np.float32), n)
             for c, n in ((1, "wb"), (channels, "ws"))]  # fmt: skip
    nodes = [helper.make_node("Conv", ["images", "wb"], [outputs[0]]),
             helper.make_node("Conv", ["images", "ws"], [outputs[1]])]  # fmt: skip
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "g", [vi("images", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                              [vi(outputs[0], TensorProto.FLOAT, ["N", 1, "H", "W"]),
                               vi(outputs[1], TensorProto.FLOAT, ["N", "C" if symbolic else channels, "H", "W"])],
                              inits)  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    cfg = Config()
    cfg.model.num_classes = 3
    props = {"format": FORMAT, "config": dump_yaml(cfg), "class_names": json.dumps(list(class_names)),
             "category_ids": json.dumps([int(i) for i in category_ids]),
             "input_norm": json.dumps([[0, 0, 0], [255, 255, 255]]), **(meta or {})}  # fmt: skip
    for k, v in props.items():
        if v is not None:
            e = model.metadata_props.add()
            e.key, e.value = k, v
    onnx.save(model, str(path))
    return Path(path)
