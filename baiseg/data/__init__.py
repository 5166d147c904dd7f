"""The data layer: dataset formats named by description YAMLs, the contour label T, transforms, synthetic data.

``build_dataset(path_or_name, split=None)`` opens a dataset from its YAML (see ``baiseg.data.spec``) or the
built-in ``"synthetic"`` data; every dataset yields the sample dict of docs/ARCHITECTURE.md and has
``class_names`` and ``category_ids``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from baiseg.data.contour import semantic_contour
from baiseg.data.spec import DatasetSpec, load_spec
from baiseg.errors import DataError

__all__ = ["build_dataset", "dataset_from_spec", "semantic_contour", "FORMATS"]

FORMATS = ["voc", "coco", "coco_panoptic", "instance_png", "semantic_png", "instance_folders", "synthetic"]


def _synthetic_from(spec: DatasetSpec | None, split: str | None, load_instances: bool, **kwargs: Any) -> Any:
    from baiseg.data.synthetic import SyntheticDataset

    params: dict[str, Any] = {}
    if spec is not None:
        params = {k: spec.get(k) for k in ("num_images", "size", "num_classes", "seed") if spec.get(k) is not None}
        split = split if split is not None else spec.get("split")
    params.update(kwargs)
    return SyntheticDataset(split=split, load_instances=load_instances, **params)


def dataset_from_spec(
    spec: DatasetSpec, *, split: str | None = None, load_instances: bool = True, strict: bool = True
) -> Any:
    """Open the dataset a parsed description names (``strict``: see ``build_dataset``)."""
    if split is not None and spec.format not in ("voc", "synthetic") and split != spec.get("split"):
        raise DataError(f"{spec.source}: a split ('{split}') selects nothing in format '{spec.format}' (only voc "
                        "and synthetic have splits): describe each split by its own YAML (e.g. with a 'list' file)")
    if spec.format == "synthetic":
        ds = _synthetic_from(spec, split, load_instances)
        ds.source = spec.source
        return ds
    if spec.format == "voc":
        from baiseg.data.voc import VOCDataset as cls
    elif spec.format == "coco":
        from baiseg.data.coco import CocoDataset as cls
    elif spec.format == "coco_panoptic":
        from baiseg.data.coco import CocoPanopticDataset as cls
    elif spec.format == "instance_png":
        from baiseg.data.pngs import InstancePngDataset as cls
    elif spec.format == "instance_folders":
        from baiseg.data.folders import InstanceFoldersDataset as cls
    else:
        from baiseg.data.pngs import SemanticPngDataset as cls
    ds = cls(spec, split=split, load_instances=load_instances)
    errors = getattr(ds, "errors", [])
    if strict and errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise DataError(f"{errors[0]}{more}: run `baiseg data check {spec.source}` for the full list")
    return ds


def build_dataset(
    path_or_name: str | os.PathLike | dict[str, Any],
    split: str | None = None,
    *,
    load_instances: bool = True,
    strict: bool = True,
    **synthetic_kwargs: Any,
) -> Any:
    """Open a dataset.

    Args:
        path_or_name: a dataset description YAML, ``"synthetic"`` (keyword arguments go to ``SyntheticDataset``:
            num_images, size, num_classes, seed), or a description mapping (paths relative to the working dir).
        split: overrides the YAML's ``split`` (VOC list name; ``train``/``val`` for synthetic).
        load_instances: False skips decoding instance masks (``instances`` is None), for training.
        strict: refuse a dataset whose index found label errors (``dataset.errors``: e.g. a COCO annotation of an
            unknown image, a degenerate polygon, a duplicate image id); False keeps them as listed ``problems``
            (``data check``).

    Returns:
        A ``torch.utils.data.Dataset`` of sample dicts with ``class_names``, ``category_ids`` and ``problems``.

    Raises:
        DataError: the description or its paths are wrong, the dataset is empty, or (``strict``) its labels have
            errors.
    """
    if not isinstance(path_or_name, (str, os.PathLike, dict)):
        raise DataError(f"a dataset is a YAML path, a shipped name, 'synthetic' or a mapping, got "
                        f"{type(path_or_name).__name__}")  # fmt: skip
    if isinstance(path_or_name, dict):
        return dataset_from_spec(DatasetSpec(path_or_name, "<dict>", Path.cwd()), split=split,
                                 load_instances=load_instances, strict=strict)  # fmt: skip
    if str(path_or_name) == "synthetic":
        return _synthetic_from(None, split, load_instances, **synthetic_kwargs)
    if synthetic_kwargs:
        raise DataError(f"options {sorted(synthetic_kwargs)} apply only to the 'synthetic' dataset")
    return dataset_from_spec(load_spec(path_or_name), split=split, load_instances=load_instances, strict=strict)
