"""The BAISeg network: backbones, semantic heads, IABM (CFM = DMA/MAU + 1x1 + FFM), ``build_model``."""

from baiseg.models.baiseg_net import BAISeg
from baiseg.models.factory import build_model, resolve_preset

__all__ = ["BAISeg", "build_model", "resolve_preset"]
