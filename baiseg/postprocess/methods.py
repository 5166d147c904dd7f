"""One entry point for every way of turning a semantic map into instances: BAISeg's MEP and the two baselines.

- ``baiseg``: the Mask Extraction Pipeline on the boundary map (mep.py), then assembly (assembly.py).
- ``cc`` / ``dtws``: connected components / distance-transform watershed of each class region (baselines.py), then
  the same assembly without a boundary map.
"""

from __future__ import annotations

import numpy as np

from baiseg.config import MEPConfig
from baiseg.errors import BaisegError
from baiseg.instances import Instances
from baiseg.postprocess.assembly import assemble_instances
from baiseg.postprocess.baselines import cc_labels, dtws_labels
from baiseg.postprocess.labels import check_semantic_ids
from baiseg.postprocess.mep import extract_masks

METHODS = ("baiseg", "cc", "dtws")


def instances_from_semantic(
    method: str,
    semantic: np.ndarray,
    *,
    boundary_prob: np.ndarray | None = None,
    sem_prob: np.ndarray | None = None,
    image: np.ndarray | None = None,
    cfg: MEPConfig | None = None,
) -> Instances:
    """Instances of one image from its semantic map by ``method``.

    Args:
        method: ``"baiseg"`` (needs ``boundary_prob``), ``"cc"`` or ``"dtws"``.
        semantic: uint8/int H x W semantic ids (0 background, 1..K classes, 255 void).
        boundary_prob: float H x W in [0, 1]: the model's boundary map (also used in the baiseg score).
        sem_prob: float (K + 1) x H x W softmax probabilities, or None (ground-truth / external semantics).
        image: uint8 H x W x 3, used when ``cfg.watershed_on == "image"``.
        cfg: MEP parameters (defaults when None).

    Returns:
        ``Instances``: masks bool N x H x W, classes int64 N (1..K), scores float32 N in [0, 1].
    """
    cfg = cfg or MEPConfig()
    semantic = np.asarray(semantic)
    if semantic.ndim != 2:
        raise BaisegError(f"semantic map must be H x W, got shape {semantic.shape}: pass class ids, not colours")
    check_semantic_ids(semantic)
    if method == "baiseg":
        if boundary_prob is None:
            raise BaisegError("method 'baiseg' needs a boundary map (boundary_prob): use a model, or --method cc|dtws")
        labels = extract_masks(boundary_prob, semantic, image, cfg)
        return assemble_instances(labels, semantic, sem_prob=sem_prob, boundary_prob=boundary_prob, cfg=cfg)
    if method == "cc":
        labels = cc_labels(semantic, cfg.cc_min_area_px)
    elif method == "dtws":
        labels = dtws_labels(semantic, cfg.dtws_peak_frac, cfg.dtws_min_area_px)
    else:
        raise BaisegError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    return assemble_instances(labels, semantic, sem_prob=sem_prob, boundary_prob=None, cfg=cfg)
