"""The ``baiseg`` command: one entry point, one module per subcommand under ``baiseg/commands/``.

Each command module defines ``register(subparsers)`` that adds its parser and sets ``func`` to a callable taking the
parsed ``argparse.Namespace`` and returning an exit status.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from baiseg import __version__
from baiseg.errors import BaisegError

COMMANDS = ["data", "config", "info", "train", "predict", "export", "evaluate", "pseudo", "demo", "sweep", "report"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baiseg",
        description="BAISeg: instance segmentation from semantic masks via instance-aware boundaries.",
    )
    parser.add_argument("--version", action="version", version=f"baiseg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"baiseg.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"baiseg.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _is_override(arg: str) -> bool:
    return "=" in arg and not arg.startswith("-")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # ``key=value`` overrides may follow options (``baiseg train cpu_lite0 --no-progress train.iters=10``).
    if extra and isinstance(getattr(args, "overrides", None), list) and all(_is_override(e) for e in extra):
        args.overrides = list(args.overrides) + extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        if os.environ.get("BAISEG_MAX_IMAGE_PIXELS", "").strip():  # a bad value is one error up front, not per image
            from baiseg.data.io import max_image_pixels

            max_image_pixels()
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at interpreter exit
        return rc
    except BrokenPipeError:  # the reader went away (``baiseg info ... | head``): stop quietly, as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except BaisegError as e:
        print(f"baiseg {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"baiseg {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the gate of path lengths: any path the command was given (or a YAML named) is over a limit
        if e.errno != errno.ENAMETOOLONG:
            raise
        name = str(e.filename or "")
        name = name if len(name) <= 80 else f"{name[:40]}...{name[-30:]}"
        print(f"baiseg {args.command}: error: '{name}' is too long a path (names of at most 255 bytes, paths of at "
              "most 4095): give a shorter one", file=sys.stderr)  # fmt: skip
        return 2
    finally:
        from baiseg.outdir import release_all

        release_all()  # the output folders this command locked (baiseg.outdir.claim)


if __name__ == "__main__":
    sys.exit(main())
