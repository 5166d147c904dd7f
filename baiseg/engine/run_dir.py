"""Run directories: ``<out_dir>/<name>-NNN``, auto-numbered and never overwritten, with the facts of the run.

Layout::

    runs/cpu_lite0-003/
      config.yaml        resolved config (round-trips through ``baiseg train``)
      run.json           seed, package version, git hash, command line, environment report
      metrics.csv        one row per logged iteration (train losses, lr, speed) and per validation
      checkpoint.pt      resumable training state (atomic)
      last.safetensors   released weights of the last checkpoint
      best.safetensors   released weights with the best validation metric
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from baiseg.version import __version__

METRIC_FIELDS = [
    "iteration", "lr", "loss", "loss_boundary", "loss_contrast", "loss_sem", "images_per_s", "elapsed_s",
    "val_boundary_f", "val_boundary_p", "val_boundary_r", "val_miou", "val_map50_gt", "val_map50_model",
    # Mask R-CNN runs (model.arch: maskrcnn): torchvision's losses and the mask mAP50 of the model's own output
    "loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg", "loss_mask", "val_map50",
]


#: Run folders this process created (``remove_unstarted`` cleans them up when training fails before its first step).
CREATED: list[Path] = []


def create_run_dir(out_dir: str | os.PathLike, name: str) -> Path:
    """Create and return a fresh ``out_dir/name-NNN`` (NNN = 1 + the highest existing number; never reuses one)."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    taken = []
    for p in root.glob(f"{name}-*"):
        tail = p.name[len(name) + 1:]
        if tail.isdigit():
            taken.append(int(tail))
    n = max(taken, default=0) + 1
    while True:
        path = root / f"{name}-{n:03d}"
        try:
            path.mkdir()  # atomic: two processes can never get the same folder
            CREATED.append(path)
            return path
        except FileExistsError:
            n += 1


def git_hash() -> str | None:
    """The commit of the source tree the package runs from (``+dirty`` when modified), or None outside git."""
    src = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=src,
                               capture_output=True, text=True, timeout=5)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment_report() -> dict[str, Any]:
    """Python / torch / device facts worth keeping next to every result."""
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        report["cuda"] = torch.version.cuda
        report["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    try:
        import timm

        report["timm"] = timm.__version__
    except ImportError:  # pragma: no cover
        pass
    return report


def write_run_info(run_dir: Path, config_yaml: str, seed: int, world_size: int, extra: dict | None = None) -> None:
    """Write ``config.yaml`` and ``run.json`` into a run directory."""
    (run_dir / "config.yaml").write_text(config_yaml)
    info = {
        "baiseg_version": __version__,
        "git": git_hash(),
        "seed": seed,
        "world_size": world_size,
        "command": sys.argv,
        "environment": environment_report(),
        **(extra or {}),
    }
    (run_dir / "run.json").write_text(json.dumps(info, indent=2) + "\n")


def remove_unstarted(path: Path) -> bool:
    """Delete a run folder that this process created and that holds no trained state (no checkpoint, no weights, no
    logged iteration): what a run that failed before its first step leaves. Returns whether it was removed."""
    import shutil

    path = Path(path)
    if path not in CREATED or not path.is_dir():
        return False
    if any(path.glob("checkpoint*.pt")) or any(path.glob("*.safetensors")):
        return False
    metrics = path / "metrics.csv"
    if metrics.is_file() and len(metrics.read_text().strip().splitlines()) > 1:
        return False
    shutil.rmtree(path, ignore_errors=True)
    CREATED.remove(path)
    return True


def _metrics_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of an existing ``metrics.csv``; a row whose iteration is not an integer is a one-line error."""
    from baiseg.errors import BaisegError

    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "iteration" not in reader.fieldnames:
            raise BaisegError(f"'{path}' has no 'iteration' column: it is not this run's metrics.csv; restore or "
                              "delete it")  # fmt: skip
        rows = []
        for row in reader:
            try:
                row["_iteration"] = int(str(row["iteration"]).strip())
            except (TypeError, ValueError):
                raise BaisegError(
                    f"'{path}' line {reader.line_num}: iteration {row['iteration']!r} is not an integer: fix or "
                    "delete that line, then resume again"
                ) from None
            rows.append(row)
    return rows


class MetricsCSV:
    """Append-only ``metrics.csv``; on resume, rows after the resumed iteration are dropped (they will be redone)."""

    def __init__(self, path: Path, resume_from: int | None = None) -> None:
        self.path = Path(path)
        if resume_from is not None and self.path.is_file():
            rows = [r for r in _metrics_rows(self.path) if r.pop("_iteration") <= resume_from]
            self._write_all(rows)
        elif not self.path.is_file():
            self._write_all([])

    def _write_all(self, rows: list[dict[str, Any]]) -> None:
        with open(self.path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=METRIC_FIELDS, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    def append(self, row: dict[str, Any]) -> None:
        clean = {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items() if k in METRIC_FIELDS}
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=METRIC_FIELDS).writerow(clean)
            f.flush()

    def read(self) -> list[dict[str, str]]:
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))
