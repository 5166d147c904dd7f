"""Shared helpers of the evaluators: input validation and the ground truth they read from a dataset sample."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from baiseg.errors import BaisegError
from baiseg.instances import Instances


class EvaluationError(BaisegError):
    """A prediction or results file does not fit the ground truth it is evaluated against."""


def check_prediction(
    prediction: Instances | Mapping[str, Any], height: int, width: int, image_id: str
) -> Instances:
    """The one gate of the evaluators' predictions: validate them against the image size, as ``Instances``.

    Args:
        prediction: ``Instances``, or (for users of the API) any mapping with ``masks`` (bool N x H x W), ``classes``
            (int N, semantic ids 1..K) and ``scores`` (float N in [0, 1]), converted here into ``Instances``.
        height: image height H of the ground truth.
        width: image width W of the ground truth.
        image_id: used in error messages.

    Returns:
        ``Instances`` (masks bool, classes int64, scores float32): ``prediction`` itself when it is one.

    Raises:
        EvaluationError: a missing key, a mask of another size, fractional class ids, non-finite scores or
            inconsistent lengths.
    """
    inst = prediction if isinstance(prediction, Instances) else _from_mapping(prediction, height, width, image_id)
    _check_size(inst.masks, height, width, image_id)
    return inst


def _check_size(masks: np.ndarray, height: int, width: int, image_id: str) -> None:
    if masks.ndim != 3 or masks.shape[1:] != (height, width):
        raise EvaluationError(
            f"prediction masks for image '{image_id}' have shape {tuple(masks.shape)}, expected N x {height} x {width}:"
            " predict at the original image resolution"
        )


def _from_mapping(prediction: Any, height: int, width: int, image_id: str) -> Instances:
    """``Instances`` of a prediction given as a mapping (the API's users), each fault an EvaluationError naming the
    image: not a mapping, a missing key, masks not binary (soft, NaN) or of another size, class ids not integers
    1..K, scores not finite numbers, lengths that differ. (``Instances`` check their arrays themselves.)"""
    if not isinstance(prediction, Mapping):
        raise EvaluationError(f"prediction for image '{image_id}' is {type(prediction).__name__}: give Instances "
                              "or a mapping with masks, classes and scores")  # fmt: skip
    for key in ("masks", "classes", "scores"):
        if key not in prediction:
            raise EvaluationError(f"prediction for image '{image_id}' lacks '{key}': give masks, classes and scores")
    masks = np.asarray(prediction["masks"])
    if masks.dtype != bool and masks.size and not (np.isin(masks, (0, 1)).all() or (
            masks.dtype == np.uint8 and np.isin(masks, (0, 255)).all())):  # fmt: skip
        raise EvaluationError(f"prediction masks for image '{image_id}' are not binary (dtype {masks.dtype}, values "
                              "other than 0 and 1): threshold soft masks first (e.g. masks > 0.5)")
    masks = masks.astype(bool, copy=False)
    if masks.ndim == 2 and masks.size == 0:
        masks = masks.reshape(0, height, width)
    _check_size(masks, height, width, image_id)
    classes = np.asarray(prediction["classes"]).reshape(-1)
    if classes.size and (classes.dtype.kind not in "iuf" or (classes.dtype.kind == "f" and (
            not np.isfinite(classes).all() or (classes != np.round(classes)).any()))):
        raise EvaluationError(f"prediction for image '{image_id}' has class ids {classes[:5].tolist()}...: class "
                              "ids must be integers (semantic ids 1..K)")  # fmt: skip
    if classes.size and classes.min() < 1:
        raise EvaluationError(f"prediction for image '{image_id}' has class id {classes.min()}: class ids are "
                              "semantic ids 1..K (0 = background is not an instance)")  # fmt: skip
    try:
        scores = np.asarray(prediction["scores"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise EvaluationError(f"prediction for image '{image_id}' has scores that are not numbers") from None
    if not np.isfinite(scores).all():
        raise EvaluationError(f"prediction for image '{image_id}' has NaN or infinite scores: scores must be finite "
                              "numbers (check the network output that produced them)")  # fmt: skip
    if not (len(masks) == len(classes) == len(scores)):
        raise EvaluationError(
            f"prediction for image '{image_id}' has {len(masks)} masks, {len(classes)} classes and {len(scores)}"
            " scores: give one class and one score per mask"
        )
    return Instances(masks, classes.astype(np.int64), scores.astype(np.float32))


def once(seen: set[str], sample: dict[str, Any]) -> None:
    """Record ``sample``'s image id in ``seen`` (an evaluator's images); an image given twice is an EvaluationError
    (its ground truth would be counted twice)."""
    image_id = sample.get("image_id")
    if image_id is None:
        return
    if str(image_id) in seen:
        raise EvaluationError(f"image '{image_id}' was already processed: give each image once (reset() starts a "
                              "new evaluation)")  # fmt: skip
    seen.add(str(image_id))


def gt_from_sample(sample: dict[str, Any]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The instance ground truth of a dataset sample and its void map.

    Args:
        sample: a dataset sample (see docs/ARCHITECTURE.md) with ``instances`` and optionally ``semantic``.

    Returns:
        ``(gt, void)``: ``gt = {"masks": bool N x H x W, "classes": int64 N, "crowd": bool N}``; ``void`` is a bool
        H x W map of ``semantic == 255`` (None when the sample has no semantic map).

    Raises:
        EvaluationError: the sample has no instance ground truth.
    """
    image_id = str(sample.get("image_id", "?"))
    inst = sample.get("instances")
    if inst is None:
        raise EvaluationError(
            f"image '{image_id}' has no instance ground truth: evaluate on a dataset with instance masks"
        )
    masks = np.asarray(inst["masks"]).astype(bool, copy=False)
    classes = np.asarray(inst["classes"], dtype=np.int64).reshape(-1)
    crowd = np.asarray(inst.get("crowd", np.zeros(len(classes), bool)), dtype=bool).reshape(-1)
    semantic = sample.get("semantic")
    void = None if semantic is None else np.asarray(semantic) == 255
    if masks.ndim != 3:
        if void is None:
            raise EvaluationError(f"ground-truth masks of image '{image_id}' must be N x H x W")
        masks = masks.reshape(0, *void.shape)
    if void is not None and masks.shape[1:] != void.shape:
        raise EvaluationError(f"ground truth of image '{image_id}': masks {masks.shape[1]}x{masks.shape[2]} but "
                              f"semantic map {void.shape[0]}x{void.shape[1]}: give both at the image's size")
    return {"masks": masks, "classes": classes, "crowd": crowd}, void


def gt_masks_without_void(gt: dict[str, np.ndarray], void: np.ndarray | None) -> np.ndarray:
    """The GT masks of ``gt_from_sample`` with void pixels removed from every instance except the crowd regions (in
    COCO data a crowd region is itself void in the semantic map: cutting void from it would leave it empty, and the
    evaluators could no longer ignore the predictions on it).

    Returns:
        bool N x H x W.
    """
    masks = gt["masks"]
    if void is None or not void.any() or not len(masks):
        return masks
    cut = ~np.asarray(gt["crowd"], bool)
    return np.where(cut[:, None, None], masks & ~void[None], masks)
