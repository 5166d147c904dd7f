"""Run ``baiseg predict`` in a subprocess (or under torchrun) with the deterministic stand-in network of conftest.

``--slow S`` makes each forward pass sleep S seconds (Ctrl-C test); ``--nan`` makes the network output NaN.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if __name__ == "__main__":
    import signal

    # Ctrl-C as in a terminal: a shell running a test suite in the background (``cmd &``) starts it with SIGINT
    # ignored, which every child would inherit, and the Ctrl-C test would then test nothing
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import torch

    torch.set_num_threads(1)
    argv = sys.argv[1:]
    slow = 0.0
    nan = False
    if argv[:1] == ["--slow"]:
        slow, argv = float(argv[1]), argv[2:]
    if argv[:1] == ["--nan"]:
        nan, argv = True, argv[1:]
    from conftest import _edge_net_class

    from baiseg.config import MEPConfig
    from baiseg.predictor import Predictor

    base = _edge_net_class()

    class Net(base):
        def forward(self, x):
            if slow:
                time.sleep(slow)
            out = super().forward(x)
            if nan:
                out["boundary_logits"] = out["boundary_logits"] * float("nan")
            return out

    Predictor.from_pretrained = classmethod(
        lambda cls, w, **kw: cls(Net(), ["thing"], [5], mep=MEPConfig(min_area_px=50), **kw)
    )
    from baiseg.cli import main

    sys.exit(main(argv))
