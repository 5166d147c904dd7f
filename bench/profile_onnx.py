"""Where onnxruntime spends its time in an exported network: kernel time per operator type and per node.

    .venv/bin/python bench/profile_onnx.py MODEL.onnx [--size 384x512] [--threads 2] [--runs 4]

Runs the graph ``--runs`` times on a random normalised input of ``--size`` (W x H, multiples of 32) with onnxruntime's
profiler on, and prints the mean kernel milliseconds per run by operator type and for the slowest nodes.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--size", default="384x512", help="W x H of the input (multiples of 32)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    import onnxruntime as ort

    w, h = (int(v) for v in args.size.lower().split("x"))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 3, h, w)).astype(np.float32)
    for _ in range(args.runs + 1):  # the first run is a warm-up, not counted
        sess.run(None, {"images": x})
    with open(sess.end_profiling()) as f:
        events = json.load(f)
    by_node: collections.Counter = collections.Counter()
    by_op: collections.Counter = collections.Counter()
    runs_seen = 0
    for e in events:
        if e.get("cat") == "Session" and e.get("name") == "model_run":
            runs_seen += 1
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and runs_seen > 1:  # skip the warm-up run
            op = e["args"].get("op_name", "?")
            by_op[op] += e["dur"]
            by_node[(op, e["name"][: -len("_kernel_time")])] += e["dur"]
    n = max(runs_seen - 1, 1)
    total = sum(by_op.values()) / n / 1000
    print(f"{args.model} at {w}x{h}, {args.threads} threads: {total:.1f} ms of kernel time per run ({n} runs)")
    for op, d in by_op.most_common(args.top):
        print(f"  {op:<24} {d / n / 1000:7.1f} ms")
    print("slowest nodes:")
    for (op, name), d in by_node.most_common(args.top):
        print(f"  {d / n / 1000:7.1f} ms  {op:<16} {name}")


if __name__ == "__main__":
    main()
