"""``baiseg info CONFIG [key=value ...] [--size 416] [--json]``: parameters and MACs per model component.

Counted by ``torch.utils.flop_counter`` over a forward pass on the meta device (no weights are loaded or needed).
"""

from __future__ import annotations

import argparse
import functools
import json

from baiseg.architectures import get_architecture
from baiseg.config import load_config, resolve_preset
from baiseg.models.complexity import model_complexity


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="parameters and multiply-accumulates of a model config, per component",
                              description=__doc__)
    p.add_argument("config", help="config YAML path or preset name (e.g. cpu_lite0, or a path such as my.yaml)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. model.iabm_dim=64")
    p.add_argument("--size", type=int, default=416, help="square input side in pixels (default 416)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from baiseg.config import ConfigError

    if args.size < 32:
        raise ConfigError(f"--size {args.size}: give an input side of at least 32 pixels")
    cfg = load_config(resolve_preset(args.config), args.overrides)
    comps = model_complexity(cfg.model, args.size)
    if args.json:
        print(json.dumps({"size": args.size, "components": comps}))
        return 0
    m, arch = cfg.model, get_architecture(cfg.model.arch)
    keys = " ".join(f"{k}={functools.reduce(getattr, k.split('.'), m)}" for k in arch.info_keys)
    print(f"{args.config}: {arch.title}, backbone {m.backbone}, {keys}, input {args.size}x{args.size}")
    print(f"{'component':<16}{'params (M)':>12}{'GMACs':>12}")
    for name, c in comps.items():
        print(f"{name:<16}{c['params'] / 1e6:>12.3f}{c['macs'] / 1e9:>12.2f}")
    if arch.info_note:
        print(arch.info_note)
    return 0
