"""Pictures of a few fixed validation images at each validation: where the boundary map stands as training goes on.

``train.val_images`` (default 4; 0 = none) first images of ``data.val`` are run through the model at every validation
and their boundary maps written as ``<run>/val_images/<iteration, 6 digits>/<image id>.png`` (inferno colour map, the
network's working size); ``baiseg report RUN`` shows them as a table of iterations x images. With
``train.tensorboard: true`` the same maps and the instances the MEP draws from them go to TensorBoard
(``val/boundary/<id>``, ``val/instances/<id>``). BAISeg models only (Mask R-CNN has no boundary map).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from baiseg.fileio import write_png_atomic


def save_val_images(model: nn.Module, dataset: Any, cfg: Any, device: torch.device, run_dir: Path, iteration: int,
                    tb: Any = None) -> list[Path]:  # fmt: skip
    """Write the boundary maps of the first ``cfg.train.val_images`` samples of ``dataset`` at ``iteration``.

    Args:
        model: the BAISeg network (not DDP-wrapped); its train / eval mode is given back as it was.
        dataset: validation samples (``image`` uint8 H x W x 3, ``image_id``) with ``class_names``.
        cfg: the run's config (``train.val_images``, ``mep``).
        device: where the model lives.
        run_dir: the run folder.
        iteration: the training iteration (names the sub-folder).
        tb: a TensorBoard ``SummaryWriter`` or None.

    Returns:
        The written PNG paths.
    """
    from baiseg.predictor import Predictor
    from baiseg.visualize import draw_instances, heatmap

    k = min(int(cfg.train.val_images), len(dataset))
    if k <= 0:
        return []
    was_training = model.training
    names = list(dataset.class_names)
    predictor = Predictor(model, names, mep=cfg.mep, device=str(device))  # sets eval mode
    written = []
    try:
        for i in range(k):
            sample = dataset[i]
            image_id = str(sample["image_id"])
            maps = predictor.infer(sample["image"])
            heat = heatmap(np.asarray(maps["boundary_prob"]))
            path = run_dir / "val_images" / f"{iteration:06d}" / f"{image_id}.png"
            written.append(write_png_atomic(path, heat))
            if tb is not None:
                tb.add_image(f"val/boundary/{image_id}", heat, iteration, dataformats="HWC")
                inst, _ = predictor.instances_from_maps(maps, sample["image"].shape[:2], image=sample["image"])
                tb.add_image(f"val/instances/{image_id}", draw_instances(sample["image"], inst, names), iteration,
                             dataformats="HWC")  # fmt: skip
    finally:
        model.train(was_training)
    return written
