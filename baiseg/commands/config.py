"""``baiseg config CONFIG [key=value ...]``: print the resolved configuration as plain YAML."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "config",
        help="print a resolved config (preset + overrides) as YAML",
        description="Resolve defaults <- CONFIG <- key=value overrides and print the result as plain YAML, which "
        "`baiseg train` accepts back as a CONFIG.",
    )
    p.add_argument("config", nargs="?", default=None, help="config YAML or preset name (default: built-in defaults)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. model.iabm_dim=64")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from baiseg.config import dump_yaml, load_config, resolve_preset

    path = resolve_preset(args.config) if args.config else None
    print(dump_yaml(load_config(path, list(args.overrides))), end="")
    return 0
