"""Int8 ONNX models: static quantization of an exported network (``baiseg export --int8``) for faster CPU inference.

The exported float graph (``baiseg.onnx_backend``) is quantized with onnxruntime's static quantizer: QDQ format,
weights int8 per output channel, activations uint8 with ranges from min / max over calibration images (the only
calibration of onnxruntime's that accepts images of different sizes). Scope (docs/SPEED.md "Int8 network"):

- ``iabm`` (default): only the boundary branch (the IABM: about 70% of the network's MACs at our preset's size) is
  int8; the backbone and the semantic branch stay float32. On Penn-Fudan val this costs 0.8 / 0.4 mAP50 / mAP75 with
  ground-truth semantics and 0.1 / 1.6 with the model's own semantics (docs/SPEED.md "Int8");
- ``all``: every supported operator, backbone included: the semantic branch then loses much (mAP75 with the model's
  semantics 50.8 -> 27.4 on Penn-Fudan val), so it is there to be measured, not used.

The quantized file keeps the float file's metadata (class names, config, MEP, input normalisation) and adds
``quantization`` (JSON: scope, calibration data and image count, method), so it runs wherever an exported file runs
(``baiseg predict --weights model_int8.onnx``, ``Predictor.from_pretrained``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baiseg.errors import BaisegError

SCOPES = ("iabm", "all")  # the first is the default
CALIB_IMAGES = 16  # default number of calibration images
IABM_PREFIX = "/net/iabm/"  # node names of the boundary branch in the exported graph (module path of BAISeg.iabm)


def calibration_images(data: str, count: int, max_side: int = 1024) -> list[np.ndarray]:
    """``count`` images spread evenly over a dataset, at the size the network sees them (longer side <= max_side).

    Raises:
        BaisegError: the dataset cannot be read or ``count`` < 1.
    """
    from baiseg.data import build_dataset
    from baiseg.segmenter import working_image

    if count < 1:
        raise BaisegError(f"--calib-images {count}: give at least 1 ({CALIB_IMAGES} is a good default)")
    ds = build_dataset(data)
    if len(ds) == 0:
        raise BaisegError(f"calibration data '{data}' has no images")
    idx = np.unique(np.linspace(0, len(ds) - 1, min(count, len(ds))).round().astype(int))
    return [working_image(np.asarray(ds[int(i)]["image"]), max_side) for i in idx]


def quantize_onnx(src: str | os.PathLike, out: str | os.PathLike, images: Sequence[np.ndarray], *,
                  scope: str = SCOPES[0], calib_data: str = "") -> Path:  # fmt: skip
    """Write an int8 copy of an exported float ONNX file (atomically).

    Args:
        src: a float file written by ``baiseg.onnx_backend.export_onnx``.
        out: the ``*.onnx`` file to write.
        images: uint8 H x W x 3 RGB calibration images (their own sizes; padded here like at inference).
        scope: ``"iabm"`` (boundary branch only) or ``"all"``.
        calib_data: the calibration dataset's name, recorded in the metadata.

    Returns:
        ``out`` as a Path.

    Raises:
        BaisegError: ``onnxruntime`` missing, bad scope, no images, or quantization failed.
    """
    from baiseg.fileio import atomic_write
    from baiseg.onnx_backend import _need, read_onnx_meta

    onnx = _need("onnx")
    _need("onnxruntime")
    if scope not in SCOPES:
        raise BaisegError(f"--int8-scope '{scope}': give one of {', '.join(SCOPES)}")
    if not images:
        raise BaisegError("int8 quantization needs at least one calibration image")
    src, out = Path(src), Path(out)
    proto = _quantized(onnx, src, out, scope, _calibration_reader(images, *read_onnx_meta(src)["input_norm"]))
    meta = {p.key: p.value for p in onnx.load(str(src), load_external_data=False).metadata_props}
    meta["quantization"] = json.dumps({"dtype": "int8", "scope": scope, "method": "static QDQ, per-channel "
                                       "weights, min/max activation ranges", "calibration_data": calib_data,
                                       "calibration_images": len(images)})  # fmt: skip
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    return atomic_write(out, lambda tmp: onnx.save(proto, tmp))


def _calibration_reader(images: Sequence[np.ndarray], mean: Sequence[float], std: Sequence[float]) -> Any:
    """An onnxruntime ``CalibrationDataReader`` giving each image normalised and padded as at inference."""
    from onnxruntime.quantization import CalibrationDataReader

    from baiseg.onnx_backend import INPUT
    from baiseg.preprocess import normalize_pad

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(images)

        def get_next(self) -> dict[str, np.ndarray] | None:
            img = next(self.it, None)
            return None if img is None else {INPUT: normalize_pad([img], mean, std).numpy()}

    return Reader()


def _quantized(onnx: Any, src: Path, out: Path, scope: str, reader: Any) -> Any:
    """The int8 ModelProto of ``src`` (static QDQ; temporary files beside ``out``, removed).

    Raises:
        BaisegError: no boundary-branch nodes for ``scope="iabm"``, or the quantizer failed (one line).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    tmp_dir = out.parent if str(out.parent) else Path(".")
    pre = tmp_dir / f".{out.name}.{os.getpid()}.pre.tmp"  # our temp naming (fileio.clean_stale_temps)
    raw = tmp_dir / f".{out.name}.{os.getpid()}.int8.tmp"
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs a warning per BatchNorm left unfolded and per unusual node
    try:
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        nodes = onnx.load(str(pre)).graph.node
        exclude = [] if scope == "all" else [n.name for n in nodes if not n.name.startswith(IABM_PREFIX)]
        if scope == "iabm" and len(exclude) == len(nodes):
            raise BaisegError(f"'{src}' has no boundary-branch nodes ('{IABM_PREFIX}*'): re-export it with this "
                              "version")  # fmt: skip
        quantize_static(str(pre), str(raw), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=exclude)  # fmt: skip
        return onnx.load(str(raw))
    except BaisegError:
        raise
    except Exception as e:  # the quantizer raises many types; report one line
        first = str(e).splitlines()[0] if str(e) else ""
        raise BaisegError(f"int8 quantization of '{src}' failed: {type(e).__name__}: {first}") from None
    finally:
        root.setLevel(level)
        for p in (pre, raw):
            p.unlink(missing_ok=True)


def quantization_info(path: str | os.PathLike) -> dict[str, Any] | None:
    """The ``quantization`` metadata of an ONNX file written by ``quantize_onnx`` (None for a float file)."""
    from baiseg.onnx_backend import _need

    onnx = _need("onnx")
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return json.loads(props["quantization"]) if "quantization" in props else None
