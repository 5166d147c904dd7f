"""Run ``baiseg sweep`` in a subprocess with the tiny stand-in model, slowed down in training so that a test can kill
the process between two checkpoints."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))


def build_slow_tiny(model_cfg):
    from engine_tiny_model import build_tiny

    model = build_tiny(model_cfg)
    forward = model.forward

    def slow_forward(x):
        if model.training:
            time.sleep(0.15)
        return forward(x)

    model.forward = slow_forward
    return model


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    import baiseg.experiments.sweep as sweep_mod

    original_init = sweep_mod.Sweep.__init__

    def init(self, spec, **kwargs):
        kwargs["build_fn"] = build_slow_tiny
        original_init(self, spec, **kwargs)

    sweep_mod.Sweep.__init__ = init
    from baiseg.cli import main

    sys.exit(main(sys.argv[1:]))
