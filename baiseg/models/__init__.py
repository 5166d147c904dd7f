"""The BAISeg network: backbones, semantic heads, IABM (CFM = DMA/MAU + 1x1 + FFM), ``build_model``."""

from baiseg.config import resolve_preset
from baiseg.models.baiseg_net import BAISeg
from baiseg.models.factory import build_model

__all__ = ["BAISeg", "build_model", "resolve_preset"]
