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
from baiseg.onnx_quant import CALIB_IMAGES, SCOPES
from baiseg.outdir import check_path

MIN_OPSET = 11  # Pad with sizes computed from the input (timm's same padding) needs opset 11


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="export released weights to ONNX (onnxruntime backend)")
    p.add_argument("--weights", required=True, help="*.safetensors written by 'baiseg train'")
    p.add_argument("--out", required=True, help="the *.onnx file to write")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime vs PyTorch comparison")
    p.add_argument("--int8", action="store_true",
                   help="write an int8 model (static quantization of the boundary branch, calibrated on images of "
                   "--calib-data): about 2x faster on a CPU with int8 instructions, see docs/SPEED.md")  # fmt: skip
    p.add_argument("--calib-data", metavar="DATA",
                   help="dataset whose images calibrate --int8 (default: the weights' data.train); use training "
                   "images, never the images you evaluate on")  # fmt: skip
    p.add_argument("--calib-images", type=int, default=None, metavar="N",
                   help=f"calibration images (default {CALIB_IMAGES})")  # fmt: skip
    p.add_argument("--int8-scope", choices=SCOPES, default=None,
                   help="iabm: quantize the boundary branch only (default); all: the whole network (the semantic "
                   "branch loses much quality)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from torch.onnx import _constants

    from baiseg.onnx_backend import check_exportable, export_onnx
    from baiseg.predictor import compare_backends

    top = _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET  # the exporter we use (dynamo=False)
    if not MIN_OPSET <= args.opset <= top:
        raise BaisegError(f"--opset {args.opset}: give {MIN_OPSET} to {top} (the network's padding needs opset >= "
                          f"{MIN_OPSET}; default 17)")  # fmt: skip
    given = [f"--{n.replace('_', '-')}" for n in ("calib_data", "calib_images", "int8_scope") if getattr(args, n)
             is not None]  # fmt: skip
    if given and not args.int8:
        raise BaisegError(f"{', '.join(given)} only apply to an int8 export: add --int8")
    out = Path(args.out)
    if out.suffix.lower() != ".onnx":
        raise BaisegError(f"--out '{out}' must end in .onnx (predict and Predictor.from_pretrained choose the backend "
                          "by the suffix)")
    check_path(out, folder=False)  # the output-path gate: name lengths, a file's parent, writable
    if out.is_dir():
        raise BaisegError(f"--out '{out}' is a folder: give a file name such as {out / 'model.onnx'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BaisegError(f"--out '{out}': its folder '{out.parent}' cannot be created: {e.strerror or e}") from None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise BaisegError(f"--out '{out}' is not writable ('{out.parent}' does not let us create files)")
    check_exportable(args.weights)  # Mask R-CNN weights: refused before anything is written
    if args.int8:
        _export_int8(args, out)
    else:
        export_onnx(args.weights, out, opset=args.opset)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if not args.no_check:
        d = compare_backends(args.weights, out)
        print(f"onnxruntime vs PyTorch on a {d['size'][0]}x{d['size'][1]} test image: max |difference| of the "
              f"boundary probabilities {d['boundary']:.2e}, of the semantic probabilities {d['semantic']:.2e}"
              + (" (int8: boundary differences up to about 0.1 are expected; docs/SPEED.md has the quality table)"
                 if args.int8 else ""))  # fmt: skip
    return 0


def _export_int8(args: argparse.Namespace, out: Path) -> None:
    """Float export to a temporary file, calibration images, quantization to ``out``."""
    from baiseg.onnx_backend import export_onnx
    from baiseg.onnx_quant import calibration_images, quantize_onnx
    from baiseg.weights_io import read_weights_meta

    data = args.calib_data or read_weights_meta(args.weights)["config"].data.train
    if not data:
        raise BaisegError(f"'{args.weights}' records no training data: give --calib-data (training images)")
    images = calibration_images(data, CALIB_IMAGES if args.calib_images is None else args.calib_images)
    print(f"calibrating the int8 model on {len(images)} images of '{data}'", flush=True)
    tmp = out.parent / f".{out.name}.{os.getpid()}.float.tmp"
    try:
        export_onnx(args.weights, tmp, opset=args.opset)
        quantize_onnx(tmp, out, images, scope=args.int8_scope or SCOPES[0], calib_data=data)
    finally:
        tmp.unlink(missing_ok=True)
