"""BAISeg: boundary-assisted weakly supervised instance segmentation from semantic masks."""

from __future__ import annotations

from typing import Any

from baiseg.version import __version__

__all__ = ["Predictor", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: ``import baiseg`` stays cheap (no torch) until the predictor is asked for.
    if name == "Predictor":
        from baiseg.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'baiseg' has no attribute {name!r}")
