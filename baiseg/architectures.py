"""The architecture registry: what ``model.arch`` means to every layer, in one table.

Each entry names its network builder (models), its training task (engine/tasks.py) and its segmenter (the
weights -> instances class behind ``Predictor.from_pretrained``) by import path, so that this module sits below all
of them and imports none: ``build_model``, ``task_for`` and ``from_pretrained`` look the entry up and ``resolve`` the
path. Code asks the entry (``maps``, ``exportable``, ``metrics``) instead of testing ``arch == "..."``.

Adding an architecture: one entry here, its builder, task and segmenter; tests/test_architectures.py checks that every
path resolves.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from baiseg.errors import BaisegError


@dataclass(frozen=True)
class Architecture:
    """One ``model.arch`` value.

    Attributes:
        name: the ``model.arch`` value.
        title: a human name for messages ("Mask R-CNN").
        builder: ``"module:callable"``, ``callable(ModelConfig, load_weights=bool) -> nn.Module``.
        task: ``"module:class"``, the training task (``class(Config)``, engine/tasks.py).
        segmenter: ``"module:class"``, weights -> instances (``class.from_loaded(model, meta, device, **kwargs)``).
        maps: the network gives boundary and semantic maps (the MEP, the baselines, ``--save-maps``, ONNX run on
            them); False: it predicts instances itself.
        exportable: ``baiseg export`` can write it to ONNX.
        metrics: the validation keys its training writes to ``metrics.csv`` (fractions in [0, 1]).
        components: dotted attribute paths of the submodules ``baiseg info`` counts.
        info_keys: the ``model.*`` keys ``baiseg info`` prints in its title line (dotted: ``rcnn.min_size``).
        info_note: a line ``baiseg info`` prints under its table.
        loss_weights: the ``loss.w_*`` weights are its training loss (a config whose weights are all 0 trains nothing).
    """

    name: str
    title: str
    builder: str
    task: str
    segmenter: str
    maps: bool
    exportable: bool
    metrics: tuple[str, ...]
    components: tuple[str, ...]
    info_keys: tuple[str, ...] = ()
    info_note: str = ""
    loss_weights: bool = False


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            name="baiseg", title="BAISeg", builder="baiseg.models.factory:build_baiseg",
            task="baiseg.engine.tasks:BAISegTask", segmenter="baiseg.predictor:Predictor", maps=True,
            exportable=True,
            metrics=("val_map50_gt", "val_map50_model", "val_boundary_f", "val_boundary_p", "val_boundary_r",
                     "val_miou"),
            components=("backbone", "semantic_head", "iabm", "projection_head"),
            info_keys=("sem_head", "iabm_r", "iabm_dim", "iabm_stride"),
            info_note="projection_head is used in training only (pixel-to-pixel contrast).", loss_weights=True,
        ),
        Architecture(
            name="maskrcnn", title="Mask R-CNN", builder="baiseg.models.maskrcnn:MaskRCNN",
            task="baiseg.engine.tasks:MaskRCNNTask", segmenter="baiseg.rcnn_predictor:MaskRCNNPredictor", maps=False,
            exportable=False, metrics=("val_map50",),
            components=("net.backbone", "net.rpn", "net.roi_heads"),
            info_keys=("rcnn.fpn_dim", "rcnn.mask_dim", "rcnn.min_size"),
            info_note="MACs of the encoder + FPN only: the RPN and ROI heads' cost depends on the proposals.",
        ),
    )
}


def get_architecture(name: str) -> Architecture:
    """The registry entry of ``model.arch`` ``name``.

    Raises:
        BaisegError: an unknown name (one line listing the known ones; configs are checked on load already).
    """
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise BaisegError(f"model.arch: expected one of {' | '.join(ARCHITECTURES)}, got {name!r}") from None


def resolve(ref: str) -> Any:
    """The object a ``"module:attribute"`` path names (the module is imported on first use)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
