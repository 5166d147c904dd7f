"""Training curves from a metrics.csv."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from baiseg.engine.plot import plot_metrics
from baiseg.engine.run_dir import MetricsCSV
from baiseg.errors import BaisegError


def test_plot_metrics_writes_png(tmp_path):
    m = MetricsCSV(tmp_path / "metrics.csv")
    for it in range(1, 6):
        m.append({"iteration": it, "lr": 1e-3, "loss": 5.0 / it, "loss_boundary": 0.1 / it, "loss_contrast": 0.0,
                  "loss_sem": 1.0 / it, "images_per_s": 2.0, "elapsed_s": float(it)})
    m.append({"iteration": 5, "val_boundary_f": 0.4, "val_miou": 0.3})
    png = plot_metrics(tmp_path / "metrics.csv")
    assert png == tmp_path / "curves.png"
    img = np.asarray(Image.open(png))
    assert img.shape[0] > 100 and img.shape[1] > 200 and img.std() > 0
    with pytest.raises(BaisegError, match="metrics.csv"):
        plot_metrics(tmp_path / "missing.csv")
