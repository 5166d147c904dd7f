"""What a report is made of: the kind of each folder given, and the images, ground truth and predictions in it.

Three kinds of folder:

- an ``evaluate`` output: ``metrics.json`` (with its ``settings``: dataset, split, subset, limit), ``results.json``
  (or the ``--predictions`` file it names) and, written with ``evaluate --save-maps``, ``boundary/<id>.png`` and
  ``semantic/<id>.png``;
- a ``predict`` output: ``results.json``, ``instances/``, ``boundary/<id>.png``, and ``predict.json`` naming the input
  (or the input given to ``baiseg report --images``);
- a training run: ``metrics.csv``, ``config.yaml``, ``run.json`` and, when validation saved them, ``val_images/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baiseg.errors import BaisegError

KINDS = ("evaluate", "predict", "run")


class ReportError(BaisegError):
    """A folder given to ``baiseg report`` is not one it can read, or the folders do not go together."""


def folder_kind(folder: str | Path) -> str:
    """``"evaluate"``, ``"predict"`` or ``"run"`` from the files in ``folder``.

    Raises:
        ReportError: not a folder, or none of the three kinds.
    """
    p = Path(folder)
    if not p.is_dir():
        raise ReportError(f"'{p}' is not a folder: give an evaluate output, a predict output or a training run")
    if (p / "metrics.json").is_file():
        return "evaluate"
    if (p / "metrics.csv").is_file() and (p / "config.yaml").is_file():
        return "run"
    if (p / "results.json").is_file() and ((p / "instances").is_dir() or (p / "predict.json").is_file()):
        return "predict"
    raise ReportError(f"'{p}' holds neither metrics.json (evaluate), results.json + instances/ (predict) nor "
                      "metrics.csv + config.yaml (a training run)")  # fmt: skip


def read_json(path: Path, what: str) -> Any:
    """A JSON file, or a one-line ReportError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(f"{what} '{path}' cannot be read ({e}): rerun the command that wrote it") from None


@dataclass
class Method:
    """One set of predictions on the report's images (an evaluate or predict folder)."""

    name: str
    folder: Path
    grouped: dict[str, list[dict[str, Any]]]
    metrics: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def map_path(self, kind: str, image_id: str) -> Path | None:
        """``<folder>/<kind>/<image_id>.png`` when it exists (kind: boundary | semantic)."""
        p = self.folder / kind / f"{image_id}.png"
        return p if p.is_file() else None


def method_name(settings: dict[str, Any], folder: Path) -> str:
    """A short label: ``"baiseg (model)"``, ``"dtws (gt)"``, ``"maskrcnn"``, or the results file's stem."""
    if settings.get("predictions"):
        return Path(str(settings["predictions"])).stem
    method, sem = settings.get("method") or folder.name, settings.get("semantic")
    return f"{method} ({Path(str(sem)).name})" if sem and sem != "none" else str(method)


def load_evaluation(folder: Path) -> Method:
    """An evaluate output folder as a Method (its metrics, settings and grouped results)."""
    from baiseg.evaluation.common import EvaluationError
    from baiseg.evaluation.results import read_results

    metrics = read_json(folder / "metrics.json", "metrics file")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("settings"), dict):
        raise ReportError(f"'{folder / 'metrics.json'}' has no 'settings': write it with 'baiseg evaluate'")
    settings = metrics["settings"]
    results = folder / "results.json"
    if not results.is_file() and settings.get("predictions"):
        results = Path(str(settings["predictions"]))
    try:
        grouped = read_results(results)
    except EvaluationError as e:
        raise ReportError(f"{e} (evaluate folder '{folder}')") from None
    return Method(method_name(settings, folder), folder, grouped, metrics, settings)


def unique_names(methods: list[Method]) -> None:
    """Append the folder name to method names that would otherwise repeat."""
    seen: dict[str, int] = {}
    for m in methods:
        seen[m.name] = seen.get(m.name, 0) + 1
    for m in methods:
        if seen[m.name] > 1:
            m.name = f"{m.name} [{m.folder.name}]"


def evaluation_images(methods: list[Method]) -> tuple[Any, list[int]]:
    """The dataset the evaluations share and the indices of the images they evaluated.

    Raises:
        ReportError: the evaluations are of different datasets, splits or subsets.
    """
    from baiseg.data import build_dataset
    from baiseg.evaluation.results import id_key

    keys = {(str(m.settings.get("data")), m.settings.get("split"), m.settings.get("subset", "all")) for m in methods}
    if len(keys) > 1:
        raise ReportError(f"the evaluations were made on different data {sorted(keys, key=str)}: give folders of "
                          "the same dataset, split and subset")  # fmt: skip
    data, split, subset = keys.pop()
    try:
        dataset = build_dataset(data, split=split)
    except BaisegError as e:
        raise ReportError(f"the evaluated dataset '{data}' cannot be opened ({e}): run 'baiseg report' from the "
                          "folder the evaluation ran in") from None  # fmt: skip
    known = {id_key(r["image_id"]) for r in getattr(dataset, "items", [])}  # file datasets (synthetic ids: no file)
    for m in methods if known else []:
        unknown = sorted(set(m.grouped) - known)
        if unknown:
            raise ReportError(f"'{m.folder}': results for {len(unknown)} image id(s) not in '{data}' (e.g. "
                              f"'{unknown[0]}'): these results are of other images")  # fmt: skip
    limits = [int(m.settings.get("limit") or 0) for m in methods]
    n = len(dataset) if not any(limits) else min(x for x in limits if x > 0)
    n = min(n, len(dataset))
    if subset == "touching":
        from baiseg.evaluation.subsets import has_touching_instances

        return dataset, [i for i in range(n) if has_touching_instances(dataset[i])]
    return dataset, list(range(n))


class FolderImages:
    """Images of a predict input that is a file or a folder: ``[i]`` gives a sample without ground truth."""

    def __init__(self, source: str) -> None:
        from baiseg.data.io import IMAGE_EXTS

        p = Path(source)
        files = [p] if p.is_file() else sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise ReportError(f"'{source}' holds no image: give the --input of the predict run")
        self.files = files
        self.class_names: list[str] = []
        self.category_ids: list[int] = []

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict[str, Any]:
        from baiseg.data.io import read_image

        return {"image": read_image(self.files[i]), "image_id": self.files[i].stem, "instances": None}


def prediction_images(folder: Path, images: str | None) -> tuple[Any, dict[str, Any]]:
    """The input of a predict output (a dataset, with its GT when it has one, or image files) and its metadata.

    Args:
        folder: the predict output; its ``predict.json`` names the input unless ``images`` is given.
        images: the predict ``--input`` (file, folder, dataset YAML or shipped name), or None.
    """
    meta = read_json(folder / "predict.json", "predict record") if (folder / "predict.json").is_file() else {}
    source = images or meta.get("input")
    if not source:
        raise ReportError(f"'{folder}' does not name its input images (no predict.json): give --images, the "
                          "--input of the predict run")  # fmt: skip
    src = Path(str(source))
    if src.is_file() and src.suffix.lower() not in (".yaml", ".yml") or src.is_dir():
        dataset = FolderImages(str(source))
    else:
        from baiseg.data import build_dataset

        try:
            dataset = build_dataset(str(source), split=meta.get("split"))
        except BaisegError as e:
            raise ReportError(f"the predict input '{source}' cannot be opened ({e}): give --images") from None
    return dataset, meta


def load_prediction(folder: Path, meta: dict[str, Any]) -> Method:
    """A predict output folder as a Method (no metrics)."""
    from baiseg.evaluation.common import EvaluationError
    from baiseg.evaluation.results import read_results

    try:
        grouped = read_results(folder / "results.json")
    except EvaluationError as e:
        raise ReportError(str(e)) from None
    return Method(meta.get("name") or folder.name, folder, grouped, None, dict(meta))


def gt_of(sample: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The sample's instance GT as ``{"masks", "classes", "crowd"}``, or None when it has none."""
    inst = sample.get("instances")
    if inst is None or np.asarray(inst.get("masks")).ndim != 3:
        return None
    n = len(inst["masks"])
    return {"masks": np.asarray(inst["masks"], bool), "classes": np.asarray(inst["classes"]).reshape(-1),
            "crowd": np.asarray(inst.get("crowd", np.zeros(n, bool)), bool).reshape(-1)}  # fmt: skip
