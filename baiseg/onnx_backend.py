"""ONNX export of a BAISeg network and an onnxruntime model with the forward contract the Predictor uses.

``export_onnx(weights, out)`` writes the network (backbone, semantic branch, IABD branch) as one ONNX graph with a
dynamic batch, height and width. Its input ``images`` is N x 3 x H x W float32, normalised with the model's
``input_norm`` and padded to a multiple of 32 (``baiseg.preprocess.normalize_pad`` does both); its outputs are
``boundary_logits`` N x 1 x H x W and ``sem_logits`` N x (K + 1) x H x W (raw, no sigmoid / softmax).

The file describes itself like released weights (``baiseg.weights_io``): its metadata (``metadata_props``) holds

- ``format``: ``"baiseg-onnx-1"``,
- ``config``: the resolved config as YAML (its ``mep`` section is what ``predict`` uses by default),
- ``mep``: the MEP settings alone (YAML, for reading by eye),
- ``class_names`` / ``category_ids``: JSON lists, ``input_norm``: JSON ``[mean, std]`` in 0-255 pixel units,
- ``baiseg_version``, ``source_weights`` (the file name it was exported from).

Export needs ``onnx`` and inference needs ``onnxruntime``: ``pip install 'baiseg[onnx]'``.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from baiseg.errors import BaisegError, WeightsError

FORMAT = "baiseg-onnx-1"
INPUT = "images"
OUTPUTS = ("boundary_logits", "sem_logits")
EXPORT_SIZE = (320, 416)  # (H, W) of the example input traced at export; any multiple of 32 runs afterwards


def _need(module: str) -> Any:
    """Import an optional dependency of the ``onnx`` extra or raise a one-line error saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise BaisegError(f"the ONNX backend needs the '{module}' package: pip install 'baiseg[onnx]'") from None


def _graph(model: Any) -> Any:
    """The part of the network that goes into the graph: normalised padded images -> (boundary, semantic) logits."""
    import torch

    class Graph(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.net(images, with_embeddings=False)
            return out["boundary_logits"], out["sem_logits"]

    return Graph(model).eval()


def check_exportable(weights: str | os.PathLike) -> None:
    """Refuse weights whose architecture cannot be exported (``exportable`` in baiseg/architectures.py: Mask R-CNN's
    detections are not the two maps of the graph's contract).

    Raises:
        WeightsError: unreadable weights; BaisegError: an architecture that is not exportable (one line).
    """
    from baiseg.architectures import get_architecture
    from baiseg.weights_io import read_weights_meta

    arch = get_architecture(read_weights_meta(weights)["config"].model.arch)
    if not arch.exportable:
        raise BaisegError(f"'{weights}' holds {arch.title} weights, which cannot be exported to ONNX (the graph gives "
                          "boundary and semantic maps, a BAISeg network's outputs): run them with 'baiseg predict "
                          "--weights' on the .safetensors file")  # fmt: skip


def export_onnx(weights: str | os.PathLike, out: str | os.PathLike, *, opset: int = 17) -> Path:
    """Export released weights (``*.safetensors``) to an ONNX file with dynamic batch, height and width.

    Args:
        weights: a file written by ``baiseg train``.
        out: the ``*.onnx`` file to write (atomically).
        opset: ONNX opset version.

    Returns:
        ``out`` as a Path.

    Raises:
        WeightsError: unreadable weights; BaisegError: ``onnx`` missing, weights of an architecture that is not
        exportable (``check_exportable``) or the export failed.
    """
    import torch

    from baiseg.config import dump_yaml
    from baiseg.fileio import atomic_write
    from baiseg.weights_io import load_weights

    check_exportable(weights)
    onnx = _need("onnx")
    model, meta = load_weights(weights, device="cpu")
    graph = _graph(model)
    h, w = EXPORT_SIZE
    example = torch.zeros(1, 3, h, w)
    dyn = {0: "batch", 2: "height", 3: "width"}
    out = Path(out)
    tmp_dir = out.parent if str(out.parent) else Path(".")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    raw = tmp_dir / f".{out.name}.{os.getpid()}.export.tmp"  # our temp naming (fileio.clean_stale_temps)
    try:
        with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer warnings
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, (example,), str(raw), dynamo=False, opset_version=opset, input_names=[INPUT],
                              output_names=list(OUTPUTS), dynamic_axes={n: dyn for n in (INPUT, *OUTPUTS)})  # fmt: skip
        proto = onnx.load(str(raw))
    except Exception as e:  # the exporter raises many types; report one line
        raise BaisegError(f"ONNX export of '{weights}' failed: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    finally:
        if raw.exists():
            raw.unlink()
    cfg = meta["config"]
    props = {
        "format": FORMAT,
        "config": dump_yaml(cfg),
        "mep": dump_yaml(cfg.mep),
        "class_names": json.dumps(list(meta["class_names"])),
        "category_ids": json.dumps([int(c) for c in meta.get("category_ids") or []]),
        "input_norm": json.dumps([list(map(float, v)) for v in model.input_norm]),
        "baiseg_version": str(meta.get("baiseg_version", "")),
        "source_weights": Path(weights).name,
    }
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    return atomic_write(out, lambda tmp: onnx.save(proto, tmp))


def read_onnx_meta(path: str | os.PathLike, session: Any = None) -> dict[str, Any]:
    """The decoded metadata of an exported file: ``{"config": Config, "class_names", "category_ids", "input_norm",
    ...}`` (the same keys as ``baiseg.weights_io.read_weights_meta`` plus ``input_norm``).

    Raises:
        WeightsError: the file is missing, not ONNX, or not exported by ``baiseg export``.
    """

    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"ONNX file '{p}' does not exist: write one with 'baiseg export --weights W --out {p}'")
    if session is None:
        session = _session(p, threads=1)
    raw = dict(session.get_modelmeta().custom_metadata_map)
    if raw.get("format") != FORMAT or "config" not in raw:
        raise WeightsError(f"'{p}' is an ONNX file but not one written by 'baiseg export' (no '{FORMAT}' metadata)")
    from baiseg.weights_io import decode_meta

    meta = decode_meta(raw, p, skip=("mep",))
    check_onnx_meta(meta, session, p)
    return meta


def check_onnx_meta(meta: dict[str, Any], session: Any, where: str | os.PathLike) -> None:
    """The gate of class metadata for ONNX files, as for safetensors weights (``weights_io.check_class_meta``),
    and against the graph: input ``images`` N x 3 x H x W, outputs ``boundary_logits`` N x 1 x H x W and
    ``sem_logits`` N x (K + 1) x H x W for the K class names (a symbolic channel count is measured on a 32 x 32
    input), ``input_norm`` two triples (mean, std > 0) of finite numbers.

    Raises:
        WeightsError: one line naming the file and what disagrees.
    """
    from baiseg.weights_io import check_class_meta

    check_class_meta(meta, str(where))
    ins = {i.name: list(i.shape) for i in session.get_inputs()}
    outs = {o.name: list(o.shape) for o in session.get_outputs()}
    missing = [n for n in OUTPUTS if n not in outs] + [n for n in (INPUT,) if n not in ins]
    if missing:
        raise WeightsError(f"'{where}': the graph has no {', '.join(missing)} (inputs {sorted(ins)}, outputs "
                           f"{sorted(outs)}): not a network written by 'baiseg export'")  # fmt: skip
    k1 = len(meta["class_names"]) + 1
    want = {INPUT: (ins[INPUT], 3), OUTPUTS[0]: (outs[OUTPUTS[0]], 1), OUTPUTS[1]: (outs[OUTPUTS[1]], k1)}
    for name, (shape, channels) in want.items():
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != channels):
            raise WeightsError(f"'{where}': '{name}' has shape {shape}, expected N x {channels} x H x W"
                               + (f" for {k1 - 1} class names + background" if name == OUTPUTS[1] else ""))
    if not isinstance(outs[OUTPUTS[1]][1], int):  # symbolic: measure it
        x = np.zeros((1, 3, 32, 32), np.float32)
        try:
            got = session.run([OUTPUTS[1]], {INPUT: x})[0].shape
        except Exception as e:  # onnxruntime's own error types
            raise WeightsError(f"'{where}': the graph does not run on a 1 x 3 x 32 x 32 input "
                               f"({str(e).splitlines()[0][:120]})") from None  # fmt: skip
        if len(got) != 4 or got[1] != k1:
            raise WeightsError(f"'{where}': 'sem_logits' has {got[1] if len(got) > 1 else '?'} channels, expected "
                               f"{k1} for {k1 - 1} class names + background: the metadata does not fit the graph")
    norm = meta.get("input_norm")
    if norm is not None and not _valid_norm(norm):
        raise WeightsError(f"'{where}': 'input_norm' metadata must be [mean, std], two lists of 3 finite numbers with "
                           f"std > 0, got {norm!r:.80}")  # fmt: skip


def _valid_norm(norm: Any) -> bool:
    try:
        mean, std = (np.asarray(v, dtype=np.float64) for v in norm)
    except (TypeError, ValueError):
        return False
    return mean.shape == std.shape == (3,) and bool(np.isfinite(mean).all() and np.isfinite(std).all()
                                                     and (std > 0).all())  # fmt: skip


def _session(path: Path, threads: int | None) -> Any:
    ort = _need("onnxruntime")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # no busy-waiting of idle onnxruntime threads after a run: they would take the cores from the softmax, the
    # MEP and the writers that follow (docs/SPEED.md)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own types for a bad file
        raise WeightsError(f"'{path}' cannot be loaded by onnxruntime ({str(e).splitlines()[0]})") from None


class OnnxModel:
    """An exported network run by onnxruntime (CPU), with the calling contract of ``BAISeg`` that ``Predictor``
    relies on: ``input_norm``, ``to``, ``eval`` and ``__call__(images) -> {"boundary_logits", "sem_logits"}``.

    Args:
        path: a file written by ``export_onnx``.
        threads: onnxruntime intra-op threads (None: onnxruntime's default, one per core).
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise WeightsError(f"ONNX file '{self.path}' does not exist: write one with 'baiseg export --weights W "
                               f"--out {self.path}'")
        self.session = _session(self.path, threads)
        self.meta = read_onnx_meta(self.path, self.session)
        from baiseg.preprocess import IMAGENET_MEAN, IMAGENET_STD

        mean, std = self.meta.get("input_norm") or (IMAGENET_MEAN, IMAGENET_STD)
        self.input_norm = (tuple(mean), tuple(std))
        self.training = False

    def to(self, device: Any) -> OnnxModel:
        """Only the CPU is supported (onnxruntime's CPU provider)."""
        if str(device) != "cpu":
            raise BaisegError(f"ONNX models run on the CPU here (--device {device} asked): use --device cpu")
        return self

    def eval(self) -> OnnxModel:
        return self

    def train(self, mode: bool = True) -> OnnxModel:
        return self

    def __call__(self, images: Any, with_embeddings: bool | None = None) -> dict[str, Any]:
        """Run the graph.

        Args:
            images: float32 torch tensor N x 3 x H x W, normalised, H and W multiples of 32.

        Returns:
            ``{"boundary_logits": N x 1 x H x W, "sem_logits": N x (K + 1) x H x W}`` as torch tensors.
        """
        import torch

        x = np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)
        if x.shape[2] % 32 or x.shape[3] % 32:
            raise BaisegError(f"ONNX input {x.shape} must be padded to a multiple of 32 (baiseg.preprocess)")
        b, s = self.session.run(list(OUTPUTS), {INPUT: x})
        return {"boundary_logits": torch.from_numpy(b), "sem_logits": torch.from_numpy(s)}


def load_onnx(path: str | os.PathLike, threads: int | None = None) -> tuple[OnnxModel, dict[str, Any]]:
    """``(OnnxModel, meta)`` for an exported file (``meta`` as ``read_onnx_meta``; a copy of the config)."""
    model = OnnxModel(path, threads)
    return model, copy.deepcopy(model.meta)
