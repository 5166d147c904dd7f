"""Parameters and multiply-accumulates per component, counted by ``torch.utils.flop_counter`` over a real forward.

The count runs on the meta device (no memory, no weights, milliseconds), so the paper-size model at 416x416 is
cheap to count. MACs = FLOPs / 2 as the flop counter reports them (convolutions and matrix products; element-wise
ops, pooling and interpolation are not counted).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from baiseg.architectures import get_architecture
from baiseg.config import ModelConfig


def count_params(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``module``."""
    return sum(p.numel() for p in module.parameters())


def model_complexity(cfg: ModelConfig, size: int | tuple[int, int] = 416) -> dict[str, dict[str, int]]:
    """Parameters and MACs of each component of ``build_model(cfg)`` for one image of ``size`` (the components the
    architecture registry lists for ``cfg.arch``; the operations of the network's ``count_forward``).

    Args:
        cfg: model configuration (weights are not loaded).
        size: input side (square) or ``(height, width)`` in pixels.

    Returns:
        ``{component: {"params": N, "macs": N}, ..., "total": ...}``; BAISeg: ``backbone``, ``semantic_head``,
        ``iabm``, ``projection_head`` (used in training only, pixel contrast); Mask R-CNN: ``net.backbone``
        (encoder + FPN), ``net.rpn``, ``net.roi_heads`` (their MACs are 0: not counted).
    """
    from baiseg.models.factory import build_model

    height, width = (size, size) if isinstance(size, int) else size
    with torch.device("meta"):
        model = build_model(cfg, load_weights=False).eval()
        images = torch.empty(1, 3, height, width)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.count_forward(images)
    flops = counter.get_flop_counts()
    result = {}
    for name in get_architecture(cfg.arch).components:
        module = model.get_submodule(name)
        # keyed by the module path from the root called (BAISeg.iabm), or by its class when it was the root
        key = next((k for k in (f"{type(model).__name__}.{name}", type(module).__name__) if k in flops), None)
        macs = sum(flops[key].values()) // 2 if key else 0
        result[name] = {"params": count_params(module), "macs": int(macs)}
    result["total"] = {"params": count_params(model), "macs": int(counter.get_total_flops() // 2)}
    return result
