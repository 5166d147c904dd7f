"""Forward latency, training-step time and peak memory of the model presets.

    .venv/bin/python bench/bench_model.py --presets cpu_lite0 --threads 2 --repeats 5
    .venv/bin/python bench/bench_model.py --presets voc_hrnet48 cpu_lite0 --device cuda --bf16 --channels-last

Each preset runs in its own subprocess so that the CPU peak memory (max RSS of that process) is its own; on CUDA the
peak is ``torch.cuda.max_memory_allocated``. Times are the minimum and the median over ``--repeats`` runs after one
warm-up (on a shared machine the minimum is the figure closest to the uncontended speed). Weights are random
(``pretrained`` is off): speed does not depend on them. Prints one JSON line per preset; ``--out FILE`` also writes
them to a JSON file (``{"presets": [...], "provenance": ...}``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from bench import provenance  # noqa: E402


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def bench_one(args: argparse.Namespace) -> dict:
    """Measure one preset in this process."""
    import resource

    import torch

    from baiseg.config import load_config
    from baiseg.models import build_model, resolve_preset

    torch.set_num_threads(args.threads)
    cfg = load_config(resolve_preset(args.presets[0]), args.overrides)
    model = build_model(cfg.model, load_weights=False).to(args.device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=args.device)
    if args.channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    amp = torch.autocast(args.device, dtype=torch.bfloat16, enabled=args.bf16)

    def timed(fn) -> list[float]:
        fn()
        times = []
        for _ in range(args.repeats):
            _sync(args.device)
            t0 = time.perf_counter()
            fn()
            _sync(args.device)
            times.append(time.perf_counter() - t0)
        return times

    def forward() -> None:
        with torch.inference_mode(), amp:
            model(x)

    model.eval()
    fwd = timed(forward)
    result = {"preset": args.presets[0], "device": args.device, "threads": args.threads, "size": args.size,
              "batch": args.batch, "bf16": args.bf16, "channels_last": args.channels_last,
              "forward_s_min": round(min(fwd), 4), "forward_s_median": round(statistics.median(fwd), 4)}
    if args.train_step:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-5)

        def step() -> None:
            with amp:
                out = model(x)
                loss = sum(v.float().mean() for v in out.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        tr = timed(step)
        result.update(train_step_s_min=round(min(tr), 4), train_step_s_median=round(statistics.median(tr), 4))
    if args.device == "cuda":
        result["peak_mem_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    else:
        result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["cpu_lite0"], help="preset names or YAML paths")
    p.add_argument("--overrides", nargs="*", default=[], help="key=value overrides for every preset")
    p.add_argument("--size", type=int, default=416)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--no-train-step", dest="train_step", action="store_false", help="skip the forward+backward step")
    p.add_argument("--out", default=None, help="also write the results to this JSON file")
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inner:
        print(json.dumps(bench_one(args)), flush=True)
        return 0
    prov = provenance.start()
    status, rows = 0, []
    rest = _without_presets(sys.argv[1:])
    for preset in args.presets:
        cmd = [sys.executable, __file__, "--inner", "--presets", preset, *rest]
        res = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
        print(res.stdout, end="", flush=True)
        status |= res.returncode
        if res.returncode == 0 and res.stdout.strip():
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    if args.out:
        provenance.write_json(args.out, {"presets": rows}, prov)
    return status


def _without_presets(argv: list[str]) -> list[str]:
    """``argv`` without ``--presets A B ...`` (the items up to the next option)."""
    out, skipping = [], False
    for a in argv:
        if a == "--presets":
            skipping = True
        elif skipping and not a.startswith("--"):
            continue
        else:
            skipping = False
            out.append(a)
    return out


if __name__ == "__main__":
    sys.exit(main())
