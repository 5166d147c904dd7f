"""``baiseg train CONFIG [key=value ...]`` and ``baiseg train --resume RUN_DIR [key=value ...]``.

Examples::

    baiseg train cpu_lite0 data.train=pennfudan_train data.val=pennfudan_val
    baiseg train voc_hrnet48 train.iters=1000 train.batch_size=8 train.accum_steps=2
    baiseg train --resume runs/cpu_lite0-003
    torchrun --nproc_per_node 2 -m baiseg train cpu_lite0 train.device=cpu
"""

from __future__ import annotations

import argparse
from pathlib import Path

from baiseg.config import ConfigError, load_config, resolve_preset


def run(args: argparse.Namespace) -> int:
    from baiseg.engine import run_dir as run_dirs

    known = len(run_dirs.CREATED)
    try:
        return _run(args)
    except BaseException:
        for path in run_dirs.CREATED[known:]:  # a run that failed before its first step leaves no empty folder
            run_dirs.remove_unstarted(path)
        raise


def _run(args: argparse.Namespace) -> int:
    from baiseg.engine.trainer import resume_config, train

    if args.resume:
        if args.config and "=" not in args.config:  # ``train CONFIG --resume RUN``: which one did the user mean?
            raise ConfigError(f"give CONFIG ('{args.config}') or --resume RUN_DIR, not both: a resumed run keeps its "
                              "own config (add key=value overrides after --resume)")  # fmt: skip
        overrides = ([args.config] if args.config else []) + list(args.overrides)
        cfg = resume_config(args.resume, overrides)
        run_dir = train(cfg, resume_dir=args.resume, progress=not args.no_progress, resume_overrides=overrides)
    else:
        if not args.config:
            raise ConfigError("give a CONFIG (a YAML file or a preset name such as cpu_lite0), or --resume RUN_DIR")
        path = resolve_preset(args.config)
        cfg = load_config(path, list(args.overrides))
        from baiseg.outdir import check_path

        check_path(Path(cfg.train.out_dir or ".") / f"{cfg.train.name or path.stem}-001", "train.out_dir/train.name")
        run_dir = train(cfg, name=cfg.train.name or path.stem, progress=not args.no_progress)
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        print(f"run directory: {run_dir}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model (or resume a run)",
        description="Train BAISeg on a dataset named by its YAML (data.train=..., data.val=...); each run gets a new "
        "folder runs/<name>-NNN with the resolved config, metrics.csv, checkpoint.pt and *.safetensors.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples::", 1)[1],
    )
    p.add_argument("config", nargs="?", help="config YAML or preset name (e.g. cpu_lite0, voc_hrnet48)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.iters=500 model.iabm_dim=32")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint.pt")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to metrics.csv)")
    p.set_defaults(func=run)
