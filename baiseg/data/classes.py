"""Class lists: the 20 PASCAL VOC classes and the COCO -> VOC name mapping (``class_subset: voc``; README "Data
formats")."""

from __future__ import annotations

VOC_CLASSES: list[str] = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
]  # fmt: skip

# COCO category name -> VOC class name, for the 20 COCO categories that are VOC classes.
COCO_TO_VOC: dict[str, str] = {
    "airplane": "aeroplane", "bicycle": "bicycle", "bird": "bird", "boat": "boat", "bottle": "bottle",
    "bus": "bus", "car": "car", "cat": "cat", "chair": "chair", "cow": "cow", "dining table": "diningtable",
    "dog": "dog", "horse": "horse", "motorcycle": "motorbike", "person": "person", "potted plant": "pottedplant",
    "sheep": "sheep", "couch": "sofa", "train": "train", "tv": "tvmonitor",
}  # fmt: skip


def resolve_subset(native_names: list[str], subset: str | list[str], source: str) -> tuple[list[str], dict[int, int]]:
    """Map a dataset's native classes onto a subset.

    Args:
        native_names: the dataset's K class names (semantic ids 1..K).
        subset: ``"voc"`` (the 20 VOC classes, COCO names renamed) or a list of native class names to keep.
        source: file name for error messages.

    Returns:
        (new class names, {native semantic id: new semantic id}); native classes not in the map become background.
    """
    from baiseg.errors import DataError

    if isinstance(subset, str):
        if subset.lower() != "voc":
            raise DataError(f"{source}: class_subset must be 'voc' or a list of class names, got {subset!r}")
        rename = {n: COCO_TO_VOC.get(n, n) for n in native_names}
        present = {rename[n]: i + 1 for i, n in enumerate(native_names) if rename[n] in VOC_CLASSES}
        if not present:
            raise DataError(f"{source}: class_subset 'voc' matches none of the dataset's classes {native_names[:5]}...")
        names = [v for v in VOC_CLASSES if v in present]
        return names, {present[n]: k + 1 for k, n in enumerate(names)}
    if not isinstance(subset, list) or not subset:
        raise DataError(f"{source}: class_subset must be 'voc' or a non-empty list of class names")
    unknown = [s for s in subset if s not in native_names]
    if unknown:
        raise DataError(f"{source}: class_subset names {unknown} are not classes of this dataset: {native_names}")
    return list(subset), {native_names.index(s) + 1: k + 1 for k, s in enumerate(subset)}
