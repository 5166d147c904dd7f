"""Run ``baiseg`` in a subprocess with the tiny stand-in model (``--tiny``) or the real one."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    argv = sys.argv[1:]
    if argv and argv[0] == "--tiny":
        argv = argv[1:]
        from engine_tiny_model import build_tiny

        import baiseg.engine.trainer as trainer

        trainer.train = functools.partial(trainer.train, build_fn=build_tiny)
    from baiseg.cli import main

    sys.exit(main(argv))
