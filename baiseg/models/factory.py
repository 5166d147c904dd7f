"""``build_model``: the only code that reads ``ModelConfig``."""

from __future__ import annotations

from baiseg.architectures import get_architecture, resolve
from baiseg.config import ModelConfig, validate
from baiseg.models.backbone import Backbone
from baiseg.models.baiseg_net import BAISeg
from baiseg.models.heads import FPNHead, HRNetV2Head, ProjectionHead
from baiseg.models.iabm import IABM
from baiseg.models.maskrcnn import MaskRCNN


def build_model(cfg: ModelConfig, *, load_weights: bool = True) -> BAISeg | MaskRCNN:
    """Build the network of ``cfg.arch`` from ``cfg`` (the ``model:`` section of a config) with the builder the
    architecture registry names (baiseg/architectures.py): the BAISeg network, or the Mask R-CNN of the refinement
    step (``arch: maskrcnn``, baiseg/models/maskrcnn.py).

    Args:
        cfg: model configuration.
        load_weights: False skips ``pretrained`` / ``backbone_weights`` (for counting, or before loading a
            checkpoint of the whole model).

    Returns:
        A ``BAISeg`` (or ``MaskRCNN``) module in training mode; ``model.input_norm`` gives the input
        normalisation.

    Raises:
        ConfigError: an invalid value. WeightsError: weights missing, unreadable or not fitting.
    """
    validate(cfg, "model.")  # the same rules as at load time (config._RULES): a config built in code is checked too
    return resolve(get_architecture(cfg.arch).builder)(cfg, load_weights=load_weights)


def build_baiseg(cfg: ModelConfig, *, load_weights: bool = True) -> BAISeg:
    """The BAISeg network of ``cfg`` (the builder of ``model.arch: baiseg`` in baiseg/architectures.py)."""
    backbone = Backbone(name=cfg.backbone, pretrained=cfg.pretrained and load_weights,
                        weights=cfg.backbone_weights if load_weights else None)
    concat_ch = sum(backbone.channels)
    kind = cfg.sem_head if cfg.sem_head != "auto" else ("hrnetv2" if cfg.backbone.startswith("hrnet") else "fpn")
    if kind == "hrnetv2":
        sem = HRNetV2Head(in_ch=concat_ch, num_classes=cfg.num_classes)
    else:
        sem = FPNHead(in_channels=backbone.channels, dim=cfg.sem_dim, num_classes=cfg.num_classes)
    iabm = IABM(in_ch=concat_ch, dim=cfg.iabm_dim, num_cfm=cfg.iabm_r, stride=cfg.iabm_stride, use_cfm=cfg.use_cfm,
                use_dma=cfg.use_dma, reduction=cfg.mau_reduction, lowres_mapping=cfg.iabm_lowres_mapping)
    proj = ProjectionHead(in_ch=cfg.iabm_dim, proj_dim=cfg.proj_dim)
    return BAISeg(backbone=backbone, semantic_head=sem, iabm=iabm, projection_head=proj)
