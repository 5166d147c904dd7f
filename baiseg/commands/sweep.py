"""``baiseg sweep CONFIG (--grid KEY=V1,V2 ... | --rows FILE.yaml) [--seeds 0,1] [k=v ...] --out DIR``.

One training per grid point (the cartesian product of the ``--grid`` options) or per named row of a rows file, with
the same data, schedule and seed; each run's ``last.safetensors`` is evaluated on ``data.val`` (VOC mAP50 / mAP75
with ground-truth and with the model's semantics), and one table is written to ``DIR/sweep.md`` and
``DIR/sweep.json``. ``mep.*`` keys are evaluation-time settings: rows differing only in them share one training.
Rerunning the same command continues a killed sweep (finished runs are skipped, a half-finished one resumes from its
checkpoint).

Examples::

    baiseg sweep cpu_lite0 --rows table3 --seeds 0,1 --baselines cc,dtws \\
        data.train=pennfudan_train data.val=pennfudan_val train.iters=600 --out runs/ablations/table3
    baiseg sweep cpu_lite0 --grid loss.temperature=0.1,0.2,0.5 data.train=pennfudan_train \\
        data.val=pennfudan_val train.iters=600 --out runs/ablations/table7
"""

from __future__ import annotations

import argparse
from pathlib import Path

from baiseg import outdir
from baiseg.config import ConfigError, resolve_preset
from baiseg.devices import device_arg


def _seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise ConfigError(f"--seeds '{text}': give comma-separated integers such as 0,1") from None
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds '{text}': a seed is repeated")
    return seeds


def _rows_path(name: str) -> Path:
    """A rows file as given, else ``baiseg/configs/ablations/<name>.yaml``."""
    from baiseg.config import CONFIGS_DIR, find_named_yaml

    path, known = find_named_yaml(name, CONFIGS_DIR / "ablations")
    if path is None:
        raise ConfigError(f"--rows '{name}' is neither a YAML file nor a shipped rows file "
                          f"({', '.join(known) or 'none'})")  # fmt: skip
    return path


def _reuse_dirs(folders: list[str] | None, out: str) -> list[Path]:
    """``--reuse`` folders, each checked to be a sweep folder (one with a ``state/`` folder) other than ``--out``."""
    dirs = []
    for f in folders or []:
        path = Path(f)
        if not (path / "state").is_dir():
            raise ConfigError(f"--reuse '{f}' is not a sweep folder (no state/ inside): give the --out of an "
                              "earlier sweep")  # fmt: skip
        if path.resolve() == Path(out).resolve():
            raise ConfigError(f"--reuse '{f}' is the sweep's own --out")
        dirs.append(path)
    return dirs


def run(args: argparse.Namespace) -> int:
    from baiseg.experiments.sweep import Sweep
    from baiseg.experiments.sweep_spec import SweepSpec, load_rows, parse_grid

    outdir.check_path(args.out)  # the output-folder gate (read only) before any work
    if bool(args.grid) == bool(args.rows):
        raise ConfigError("give either --grid KEY=V1,V2 (repeatable) or --rows FILE.yaml")
    description = ""
    if args.rows:
        rows, description = load_rows(_rows_path(args.rows))
    else:
        rows = parse_grid(args.grid)
    baselines = [m for m in (args.baselines or "").split(",") if m]
    spec = SweepSpec(config=resolve_preset(args.config), rows=rows, out=Path(args.out), overrides=list(args.overrides),
                     seeds=_seeds(args.seeds), baselines=baselines, size=args.size, limit=args.limit,
                     device=args.device, description=description, reuse=_reuse_dirs(args.reuse, args.out))  # fmt: skip
    outdir.claim(args.out, "sweep")  # a second sweep into this folder is refused while this one runs
    sweep = Sweep(spec, progress=not args.no_progress)
    n = len(sweep.trainings)
    print(f"sweep: {len(rows)} rows x {len(spec.seeds or [None])} seed(s) -> {n} training run(s) into {args.out}",
          flush=True)  # fmt: skip
    if args.table_only:
        sweep.check_states()  # the same sweep as the folder's, or refused
        table = sweep.write_table()
    else:
        table = sweep.run()
    print((Path(args.out) / "sweep.md").read_text(), end="")
    return 0 if table["complete"] else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="ablation sweep: one training per grid point or named row, one evaluated table (resumable)",
        description=__doc__.split("Examples::", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:" + __doc__.split("Examples::", 1)[1],
    )
    p.add_argument("config", help="config YAML or preset name (e.g. cpu_lite0)")
    p.add_argument("overrides", nargs="*", help="key=value overrides for every run, e.g. train.iters=600")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                   help="a swept key and its values (repeat for a cartesian product)")
    p.add_argument("--rows", metavar="FILE", help="rows file (name -> overrides) or a shipped one: table3, table7, "
                   "tables45 (baiseg/configs/ablations/)")  # fmt: skip
    p.add_argument("--seeds", metavar="S1,S2", help="repeat every row for these train.seed values (e.g. 0,1)")
    p.add_argument("--baselines", metavar="M1,M2", help="reference rows with ground-truth semantics: cc, dtws")
    p.add_argument("--out", required=True, metavar="DIR", help="sweep folder (runs, state, evaluations, table)")
    p.add_argument("--size", type=int, default=416, help="input side for the params / MACs count (default 416)")
    p.add_argument("--limit", type=int, default=0, help="evaluate on the first N val images only (0 = all)")
    p.add_argument("--device", type=device_arg, default="auto", help="evaluation device: auto | cpu | cuda")
    p.add_argument("--reuse", action="append", metavar="DIR",
                   help="an earlier sweep folder whose finished trainings are reused where a row is the same training "
                   "(same resolved config except run folder, threads, workers and MEP); repeatable")  # fmt: skip
    p.add_argument("--table-only", action="store_true",
                   help="only rewrite sweep.md / sweep.json from the evaluations present (trains nothing; e.g. while "
                   "another process runs one seed of the same sweep)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no training progress bars")
    p.set_defaults(func=run)
