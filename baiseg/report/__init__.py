"""HTML reports of evaluations, predictions and training runs (``baiseg report``; docs/REPORT.md).

``build_report(folders, out)`` reads the folders (``collect``), counts each image's errors (``analysis``), writes the
pictures (``images``) and the static page (``writer`` and ``assets/``); ``run`` makes the page of a training run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from baiseg.report.collect import KINDS, ReportError, folder_kind

__all__ = ["KINDS", "ReportError", "build_report", "folder_kind"]


def _check_out(out: Path, inputs: list[Path]) -> None:
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out '{out}' is a file: give a folder for the report")
    for p in inputs:
        if out.resolve() == p.resolve():
            raise ReportError(f"--out '{out}' is an input folder: write the report elsewhere (e.g. {p}/report)")


def _staged(out: Path, build: Callable[[Path], Path]) -> Path:
    """Run ``build(staging folder)``, then put the staged report in place (``staging``); returns ``index.html``."""
    from baiseg.report.staging import publish, staging_dir

    stage = staging_dir(out)
    try:
        build(stage)
        publish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out / "index.html"


def build_report(
    folders: list[str | os.PathLike], out: str | os.PathLike, *, images: str | None = None, progress: bool = False
) -> Path:
    """Write the HTML report of ``folders`` into ``out``.

    Args:
        folders: one training run, one predict output, or one or more evaluate outputs of the same dataset (shown
            side by side).
        out: the report folder: new, empty or an earlier report (replaced as a whole once the new one is complete).
        images: the input images of a predict output that has no ``predict.json`` (its ``--input``).
        progress: show a progress bar.

    Returns:
        The path of ``index.html``.

    Raises:
        ReportError: a folder of no known kind, kinds mixed, or data that cannot be read.
    """
    from baiseg.report import collect
    from baiseg.report.build import build_image_report
    from baiseg.report.run import build_run_report

    paths = [Path(f) for f in folders]
    if not paths:
        raise ReportError("give at least one folder")
    out = Path(out)
    _check_out(out, paths)
    kinds = [folder_kind(p) for p in paths]
    if len(set(kinds)) > 1 or (kinds[0] != "evaluate" and len(paths) > 1):
        raise ReportError(f"folders of kinds {kinds}: give one training run, one predict output, or evaluate "
                          "outputs of the same data")  # fmt: skip
    if images is not None and kinds[0] != "predict":  # it would be ignored: the report of other images than asked
        raise ReportError(f"--images applies to a predict output, not to a {kinds[0]} folder: drop it")
    if kinds[0] == "run":
        return _staged(out, lambda stage: build_run_report(paths[0], stage))
    meta: dict = {}
    if kinds[0] == "evaluate":
        methods = [collect.load_evaluation(p) for p in paths]
        collect.unique_names(methods)
        dataset, indices = collect.evaluation_images(methods)
        title = f"{methods[0].settings.get('data')} ({len(indices)} images): " + ", ".join(m.name for m in methods)
        cats = list(dataset.category_ids)
    else:
        dataset, meta = collect.prediction_images(paths[0], images)
        methods = [collect.load_prediction(paths[0], meta)]
        indices = list(range(len(dataset)))
        title = f"predictions {paths[0].name} on {meta.get('input') or images} ({len(indices)} images)"
        cats = list(meta["category_ids"]) if meta.get("category_ids") else (list(dataset.category_ids) or None)
    names = list(dataset.class_names) or list(meta.get("class_names") or [])
    return _staged(out, lambda stage: build_image_report(stage, dataset, indices, methods, title=title,
                                                         category_ids=cats, class_names=names, progress=progress))
