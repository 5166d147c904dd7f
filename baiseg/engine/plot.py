"""Training curves: ``metrics.csv`` of a run -> ``curves.png``: losses, instance mAP50 (GT / model semantics) and
the boundary F-score / mIoU against iterations."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from baiseg.errors import BaisegError
from baiseg.fileio import atomic_write

LOSS_KEYS = ("loss", "loss_boundary", "loss_contrast", "loss_sem")
MAP_KEYS = ("val_map50_gt", "val_map50_model")  # the task: instance mAP50 (VOC, IoU 0.5)
VAL_KEYS = ("val_boundary_f", "val_miou")  # secondary monitors


def _series(rows: list[dict[str, str]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in rows:
        v = r.get(key, "")
        if v not in ("", None):
            xs.append(int(r["iteration"]))
            ys.append(float(v))
    return xs, ys


def _plot_validation(ax, rows: list[dict[str, str]], keys: tuple[str, ...], title: str, empty: str) -> None:
    """One panel of validation figures in [0, 1] against iterations."""
    for key in keys:
        xs, ys = _series(rows, key)
        if xs:
            ax.plot(xs, ys, marker="o", label=key)
    ax.set_ylim(0, 1)
    ax.set_xlabel("iteration")
    ax.set_title(title if ax.lines else f"{title} ({empty})")
    if ax.lines:
        ax.legend(fontsize=8)


def plot_metrics(csv_path: str | os.PathLike, png_path: str | os.PathLike | None = None, title: str = "") -> Path:
    """Plot the weighted total and each loss term (log scale), the instance mAP50 and the other validation figures.

    Args:
        csv_path: a run's ``metrics.csv``.
        png_path: output PNG (default ``curves.png`` beside the CSV); written atomically.
        title: figure title (default: the run folder's name).

    Returns:
        The PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise BaisegError(f"'{csv_path}' does not exist: give the metrics.csv of a run folder")
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    png = Path(png_path) if png_path else csv_path.with_name("curves.png")
    fig, (ax_l, ax_m, ax_v) = plt.subplots(1, 3, figsize=(15, 4))
    for key in LOSS_KEYS:
        xs, ys = _series(rows, key)
        if xs and any(y > 0 for y in ys):  # zeros (e.g. L_P during its warm-up) are left out of the log plot
            ax_l.plot(xs, [y if y > 0 else float("nan") for y in ys], label=key, lw=1.2)
    ax_l.set_yscale("log")
    ax_l.set_xlabel("iteration")
    ax_l.set_title("training losses (unweighted terms, weighted total)")
    if ax_l.lines:
        ax_l.legend(fontsize=8)
    _plot_validation(ax_m, rows, MAP_KEYS, "instance mAP50 (VOC, IoU 0.5)", "no instance GT")
    _plot_validation(ax_v, rows, VAL_KEYS, "boundary F vs T, semantic mIoU", "none yet")
    fig.suptitle(title or csv_path.parent.name)
    fig.tight_layout()
    atomic_write(png, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
    return png
