"""Mask R-CNN for the refinement step (paper §4.4, the † rows): torchvision's Mask R-CNN on our timm encoders + FPN.

The encoder is the same ``Backbone`` as BAISeg's (EfficientNet-Lite0/2 with real ImageNet weights offline, ResNet-50/101
from random or user-supplied weights), its 4 maps at strides 4-32 feed torchvision's ``FeaturePyramidNetwork`` (plus a
max-pooled 5th level), and torchvision's RPN, RoI heads and mask head do the rest. Batch norm in the encoder is frozen
(its ImageNet statistics), as detectron2 and torchvision do for small per-device batches. Choices: docs/REFINEMENT.md.

``MaskRCNN.forward`` takes a list of images (float 3 x H x W in [0, 1], any sizes) and, in training mode, their
targets; it returns torchvision's loss dict in training and a list of detections in eval mode.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from baiseg.config import ModelConfig
from baiseg.models.backbone import Backbone

#: names of the losses torchvision's Mask R-CNN returns in training mode
RCNN_LOSS_KEYS = ("loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg", "loss_mask")


class EncoderFPN(nn.Module):
    """``Backbone`` + FPN: ``forward(x) -> OrderedDict('0'..'3' at strides 4-32, 'pool' at 64)`` of ``out_channels``.

    Args:
        backbone: a ``Backbone`` (4 maps at strides 4, 8, 16, 32).
        out_channels: FPN width.
        frozen_bn: replace the encoder's batch norms by frozen ones (statistics and affine kept as loaded).
        gn: GroupNorm (32 groups) after each FPN conv.
        freeze_stem: no gradient for the encoder up to its stride-4 map (as torchvision's default of 3 trainable
            ResNet stages; the costliest part of the backward pass on a CPU).
    """

    def __init__(self, backbone: Backbone, *, out_channels: int, frozen_bn: bool = True, gn: bool = True,
                 freeze_stem: bool = False) -> None:
        super().__init__()
        import functools

        from torchvision.ops import FeaturePyramidNetwork
        from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

        if frozen_bn:
            from timm.layers import freeze_batch_norm_2d

            backbone.body = freeze_batch_norm_2d(backbone.body)
        if freeze_stem:
            freeze_until(backbone.body, backbone.body.feature_info.module_name()[0])
        self.body = backbone
        # GroupNorm in the FPN: the Lite encoder's maps are not unit-scaled (docs/REFINEMENT.md)
        norm = functools.partial(nn.GroupNorm, 32) if gn else None
        self.fpn = FeaturePyramidNetwork(backbone.channels, out_channels, extra_blocks=LastLevelMaxPool(),
                                         norm_layer=norm)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        feats = self.body(x)
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(feats)))


class MaskRCNN(nn.Module):
    """torchvision Mask R-CNN around ``EncoderFPN`` (see the module docstring).

    Attributes:
        arch: ``"maskrcnn"`` (stored with the weights; ``Predictor.from_pretrained`` dispatches on it).
        input_norm: ``(mean, std)`` in 0-255 pixel units, for reference; normalisation happens inside ``forward``.
    """

    arch = "maskrcnn"

    def __init__(self, cfg: ModelConfig, *, load_weights: bool = True) -> None:
        super().__init__()
        from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
        from torchvision.models.detection.mask_rcnn import MaskRCNN as TVMaskRCNN
        from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

        backbone = Backbone(name=cfg.backbone, pretrained=cfg.pretrained and load_weights,
                            weights=cfg.backbone_weights if load_weights else None)
        mean, std = backbone.input_norm
        self.input_norm = (mean, std)
        encoder = EncoderFPN(backbone, out_channels=cfg.rcnn.fpn_dim, frozen_bn=cfg.rcnn.frozen_bn,
                              gn=cfg.rcnn.fpn_gn, freeze_stem=cfg.rcnn.freeze_stem)
        lo, hi = train_size_range(cfg)
        d = cfg.rcnn.mask_dim  # torchvision's default is 256 x 4 convs, the costliest part on a CPU
        mask_head = MaskRCNNHeads(cfg.rcnn.fpn_dim, [d] * cfg.rcnn.mask_convs, 1)
        mask_predictor = MaskRCNNPredictor(d, d, cfg.num_classes)
        self.net = TVMaskRCNN(
            encoder,
            box_predictor=FastRCNNPredictor(1024, cfg.num_classes),  # after torchvision's 2-layer MLP of width 1024
            min_size=tuple(range(lo, hi + 1, 32)),  # training: a random choice per batch (scale jitter)
            max_size=cfg.rcnn.max_size,
            image_mean=[m / 255.0 for m in mean],
            image_std=[s / 255.0 for s in std],
            rpn_pre_nms_top_n_test=cfg.rcnn.rpn_test_top_n,
            rpn_post_nms_top_n_test=cfg.rcnn.rpn_test_top_n,
            box_batch_size_per_image=cfg.rcnn.roi_batch,
            box_score_thresh=cfg.rcnn.score_thr,
            box_detections_per_img=cfg.rcnn.detections,
            mask_head=mask_head,
            mask_predictor=mask_predictor,
        )
        self.test_min_size = cfg.rcnn.min_size

    def train(self, mode: bool = True) -> MaskRCNN:
        super().train(mode)
        # eval: one fixed scale; train: the jitter range (GeneralizedRCNNTransform picks min_size[-1] in eval mode)
        t = self.net.transform
        if not hasattr(self, "_train_sizes"):
            self._train_sizes = tuple(t.min_size)
        t.min_size = self._train_sizes if mode else (self.test_min_size,)
        return self

    def count_forward(self, images: torch.Tensor) -> None:
        """The forward whose operations ``baiseg info`` counts (models/complexity.py): the encoder and FPN on a
        normalised N x 3 x H x W batch; the RPN and ROI heads' cost depends on the proposals (not counted)."""
        self.net.backbone(images)

    def forward(
        self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]] | None = None
    ) -> dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]:
        """Args:
            images: list of float 3 x H_i x W_i in [0, 1] (RGB).
            targets: training only; per image ``boxes`` float N x 4 (x0, y0, x1, y1), ``labels`` int64 N in 1..K,
                ``masks`` uint8 N x H_i x W_i.

        Returns:
            training: the 5 losses (``RCNN_LOSS_KEYS``); eval: per image ``boxes`` N x 4, ``labels`` N, ``scores`` N
            in [0, 1], ``masks`` float N x 1 x H_i x W_i in [0, 1] (soft masks), best score first.
        """
        return self.net(images, targets)


def freeze_until(module: nn.Module, name: str) -> int:
    """Turn off gradients of ``module``'s parameters registered before and inside submodule ``name``; returns the
    number of tensors frozen."""
    params = list(module.named_parameters())
    last = max((i for i, (n, _) in enumerate(params) if n.startswith(name + ".")), default=-1)
    for _, p in params[: last + 1]:
        p.requires_grad_(False)
    return last + 1


def train_size_range(cfg: ModelConfig) -> tuple[int, int]:
    """Shorter-side sizes used in training: ``model.rcnn.min_size`` x (1 -/+ ``model.rcnn.scale_jitter``),
    multiples of 32."""
    base = cfg.rcnn.min_size
    lo = max(32, int(round(base * (1 - cfg.rcnn.scale_jitter) / 32)) * 32)
    hi = max(lo, int(round(base * (1 + cfg.rcnn.scale_jitter) / 32)) * 32)
    return lo, hi


def detections_to_instances(det: dict[str, torch.Tensor], mask_thr: float = 0.5) -> dict[str, Any]:
    """One image's eval output -> instances dict (docs/ARCHITECTURE.md) as NumPy.

    Returns:
        ``{"masks": bool N x H x W, "classes": int64 N (1..K), "scores": float32 N}``, best score first; masks may
        overlap (Mask R-CNN predicts each detection's mask on its own).
    """
    import numpy as np

    masks = (det["masks"][:, 0] >= mask_thr).cpu().numpy() if det["masks"].numel() else None
    scores = det["scores"].detach().float().cpu().numpy().astype(np.float32)
    classes = det["labels"].cpu().numpy().astype(np.int64)
    if masks is None:
        h, w = det["masks"].shape[-2:] if det["masks"].dim() == 4 else (0, 0)
        masks = np.zeros((0, h, w), bool)
    keep = masks.reshape(masks.shape[0], -1).any(1) if masks.shape[0] else np.zeros(0, bool)
    order = np.argsort(-scores[keep], kind="stable")
    return {"masks": masks[keep][order], "classes": classes[keep][order], "scores": scores[keep][order]}
