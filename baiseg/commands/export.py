"""``baiseg export``: released weights -> an ONNX file (dynamic size; class names and config in its metadata).

The file runs with ``baiseg predict --weights model.onnx`` and ``Predictor.from_pretrained("model.onnx")`` through
onnxruntime (``pip install 'baiseg[onnx]'``); see ``baiseg.onnx_backend``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from baiseg.errors import BaisegError

MIN_OPSET = 11  # Pad with sizes computed from the input (timm's same padding) needs opset 11


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="export released weights to ONNX (onnxruntime backend)")
    p.add_argument("--weights", required=True, help="*.safetensors written by 'baiseg train'")
    p.add_argument("--out", required=True, help="the *.onnx file to write")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime vs PyTorch comparison")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from torch.onnx import _constants

    from baiseg.onnx_backend import compare_backends, export_onnx

    top = _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET  # the exporter we use (dynamo=False)
    if not MIN_OPSET <= args.opset <= top:
        raise BaisegError(f"--opset {args.opset}: give {MIN_OPSET} to {top} (the network's padding needs opset >= "
                          f"{MIN_OPSET}; default 17)")  # fmt: skip
    out = Path(args.out)
    if out.suffix.lower() != ".onnx":
        raise BaisegError(f"--out '{out}' must end in .onnx (predict and Predictor.from_pretrained choose the backend "
                          "by the suffix)")
    if out.is_dir():
        raise BaisegError(f"--out '{out}' is a folder: give a file name such as {out / 'model.onnx'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BaisegError(f"--out '{out}': its folder '{out.parent}' cannot be created: {e.strerror or e}") from None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise BaisegError(f"--out '{out}' is not writable ('{out.parent}' does not let us create files)")
    export_onnx(args.weights, out, opset=args.opset)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if not args.no_check:
        d = compare_backends(args.weights, out)
        print(f"onnxruntime vs PyTorch on a {d['size'][0]}x{d['size'][1]} test image: max |difference| of the "
              f"boundary probabilities {d['boundary']:.2e}, of the semantic probabilities {d['semantic']:.2e}")
    return 0
