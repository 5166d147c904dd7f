"""Training curves from a metrics.csv."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from baiseg.engine.plot import plot_metrics
from baiseg.errors import BaisegError

FIELDS = ["iteration", "lr", "loss", "loss_boundary", "loss_contrast", "loss_sem", "images_per_s", "elapsed_s",
          "val_boundary_f", "val_miou", "val_map50_gt", "val_map50_model"]


def test_plot_metrics_writes_png(tmp_path):
    with open(tmp_path / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, restval="")
        w.writeheader()
        for it in range(1, 6):
            w.writerow({"iteration": it, "lr": 1e-3, "loss": 5.0 / it, "loss_boundary": 0.1 / it, "loss_contrast": 0.0,
                        "loss_sem": 1.0 / it, "images_per_s": 2.0, "elapsed_s": float(it)})
        for it, v in ((3, 0.1), (5, 0.2)):
            w.writerow({"iteration": it, "val_boundary_f": v, "val_miou": v, "val_map50_gt": 3 * v,
                        "val_map50_model": 2 * v})
    png = plot_metrics(tmp_path / "metrics.csv")
    assert png == tmp_path / "curves.png"
    img = np.asarray(Image.open(png))
    assert img.shape[0] > 100 and img.shape[1] >= 3 * img.shape[0] and img.std() > 0  # losses | mAP50 | F, mIoU
    with pytest.raises(BaisegError, match="metrics.csv"):
        plot_metrics(tmp_path / "missing.csv")


def test_plot_metrics_without_instance_figures(tmp_path):
    """A run whose validation set has no instances (or an old run) has no mAP50 columns: still a figure."""
    (tmp_path / "metrics.csv").write_text("iteration,loss,val_boundary_f,val_miou\n1,2.0,,\n2,1.0,0.5,0.4\n")
    assert plot_metrics(tmp_path / "metrics.csv").is_file()
