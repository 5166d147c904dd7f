"""The value rules of the configuration (``baiseg.config``): one table, ``RULES``, checked by ``check_values`` when a
config is loaded, built from a stored dict or changed (``baiseg.config.validate``), so that a bad value is one line
naming its key instead of a crash (or an untrained model) later. The string choices of the MEP live here too, and the
keys renamed since older versions (``RENAMED_KEYS``; stored configs are moved on by ``upgrade_stored``).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import math
import typing
from typing import Any

MAX_THREADS = 1024  # torch aborts the process (OpenMP) for thread counts far above the cores
MAX_CONTOUR_PX = 64  # contour width and void fill: a disc of 2 * N + 1 px (100000 allocates 37 GiB)


def _positive(v: Any) -> bool:
    return v > 0


def _non_negative(v: Any) -> bool:
    return v >= 0


def _unit(v: Any) -> bool:
    return 0 <= v <= 1


#: The string choices of the MEP, checked on load (``validate``) rather than when a stage first reads them.
MARKER_SOURCES = ("boundary", "distance")
WATERSHED_ON = ("boundary", "image")
SCORE_RULES = ("evidence", "area")
#: The C flood kernels (``native/flood.c``) hold a pixel's level in 16 bits, 65535 meaning "closed".
MAX_WATERSHED_LEVELS = 65534


def _one_of(choices: tuple[Any, ...]) -> tuple[Any, str]:
    return (lambda v: v in choices, "one of " + ", ".join(map(str, choices)))


#: ``section.key -> (rule, what it must be)``, checked by ``check_values``. Every float must also be finite.
RULES: dict[str, tuple[Any, str]] = {
    "model.num_classes": (lambda v: v >= 2, ">= 2 (background + at least one class)"),
    "model.sem_dim": (_positive, "> 0"),
    "model.iabm_r": (_positive, "> 0"),
    "model.iabm_dim": (_positive, "> 0"),
    "model.iabm_stride": (lambda v: v in (1, 2, 4), "1 (full resolution, paper), 2 or 4"),
    "model.sem_head": _one_of(("auto", "hrnetv2", "fpn")),
    "model.rcnn.fpn_dim": (_positive, "> 0"),
    "model.rcnn.min_size": (_positive, "> 0"),
    "model.rcnn.max_size": (_positive, "> 0"),
    "model.rcnn.detections": (_positive, "> 0"),
    "model.rcnn.roi_batch": (_positive, "> 0"),
    "model.rcnn.rpn_test_top_n": (_positive, "> 0"),
    "model.rcnn.mask_dim": (_positive, "> 0"),
    "model.rcnn.mask_convs": (_positive, "> 0"),
    "model.rcnn.scale_jitter": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "model.rcnn.score_thr": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "model.rcnn.mask_thr": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "model.proj_dim": (_positive, "> 0"),
    "model.mau_reduction": (_positive, "> 0"),
    "data.crop_size": (lambda v: v >= 8, ">= 8"),
    "data.scale_min": (_positive, "> 0"),
    "data.scale_max": (_positive, "> 0"),
    "data.color_jitter": (_unit, "in [0, 1]"),
    "data.num_workers": (lambda v: 0 <= v <= MAX_THREADS, f">= 0 and <= {MAX_THREADS} (processes)"),
    "data.contour.neighbourhood": (lambda v: v in (4, 8), "4 or 8"),
    "data.contour.width_px": (lambda v: 1 <= v <= MAX_CONTOUR_PX, f">= 1 and <= {MAX_CONTOUR_PX}"),
    "data.contour.void_fill_px": (lambda v: 0 <= v <= MAX_CONTOUR_PX, f">= 0 and <= {MAX_CONTOUR_PX}"),
    "loss.w_contrast": (_non_negative, ">= 0"),
    "loss.w_boundary": (_non_negative, ">= 0"),
    "loss.w_sem": (_non_negative, ">= 0"),
    "loss.temperature": (_positive, "> 0"),
    "loss.contrast_max_samples": (_positive, "> 0"),
    "loss.contrast_max_views": (_positive, "> 0"),
    "loss.contrast_warmup_iters": (_non_negative, ">= 0"),
    "loss.sem_topk": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "loss.ignore_index": (lambda v: 0 <= v <= 255, "in [0, 255]"),
    "train.iters": (_positive, "> 0"),
    "train.batch_size": (_positive, "> 0"),
    "train.accum_steps": (_positive, "> 0"),
    "train.lr": (_positive, "> 0"),
    "train.weight_decay": (_non_negative, ">= 0"),
    "train.poly_power": (_non_negative, ">= 0"),
    "train.warmup_iters": (_non_negative, ">= 0"),
    "train.clip_grad_norm": (_non_negative, ">= 0 (0 disables)"),
    "train.log_every": (_positive, "> 0"),
    "train.val_every": (_positive, "> 0"),
    "train.ckpt_every": (_positive, "> 0"),
    "train.threads": (lambda v: 0 <= v <= MAX_THREADS, f">= 0 (0 = torch default) and <= {MAX_THREADS}"),
    "train.val_max_images": (_non_negative, ">= 0 (0 = all)"),
    "train.val_images": (_non_negative, ">= 0 (0 = none)"),
    "train.val_boundary_thr": (_unit, "in [0, 1]"),
    "train.val_tolerance_px": (_non_negative, ">= 0"),
    "mep.nms_margin": (_positive, "> 0"),
    "mep.nms_smooth_sigma": (_non_negative, ">= 0"),
    "mep.boundary_thr": (_unit, "in [0, 1]"),
    "mep.boundary_dilate_px": (_non_negative, ">= 0"),
    "mep.sure_fg_px": (_non_negative, ">= 0"),
    "mep.min_marker_px": (_non_negative, ">= 0"),
    "mep.marker_source": _one_of(MARKER_SOURCES),
    "mep.watershed_on": _one_of(WATERSHED_ON),
    "mep.watershed_levels": (lambda v: 1 <= v <= MAX_WATERSHED_LEVELS, f"in 1..{MAX_WATERSHED_LEVELS}"),
    "mep.score_rule": _one_of(SCORE_RULES),
    "mep.close_px": (_non_negative, ">= 0"),
    "mep.min_area_px": (_non_negative, ">= 0"),
    "mep.merge_thr": (_unit, "in [0, 1]"),
    "mep.merge_neck_ratio": (_non_negative, ">= 0"),
    "mep.merge_neck_max_strength": (_non_negative, ">= 0"),
    "mep.score_area_px": (_non_negative, ">= 0"),
    "mep.split_min_frac": (_unit, "in [0, 1]"),
    "mep.cc_min_area_px": (_non_negative, ">= 0"),
    "mep.dtws_peak_frac": (_unit, "in [0, 1]"),
    "mep.dtws_min_area_px": (_non_negative, ">= 0"),
    "mep.adapt_ref": (_non_negative, ">= 0"),
    "mep.adapt_quantile": (_unit, "in [0, 1]"),
    "mep.marker_band": (_unit, "in [0, 1]"),
    "mep.marker_band_min_free": (_unit, "in [0, 1]"),
    "mep.marker_band_max_px": (_non_negative, ">= 0"),
}


#: Keys of older versions -> their key now. A stored config (weights, checkpoint, run folder) is renamed on load
#: (``upgrade_stored``); an old key typed in a YAML file or an override is an error naming the new one.
RENAMED_KEYS: dict[str, str] = {
    "model.fpn_dim": "model.rcnn.fpn_dim",
    **{f"model.rcnn_{k}": f"model.rcnn.{k}" for k in (
        "min_size", "max_size", "scale_jitter", "frozen_bn", "fpn_gn", "freeze_stem", "score_thr", "detections",
        "mask_thr", "mask_dim", "mask_convs", "roi_batch", "rpn_test_top_n")},
}  # fmt: skip


def upgrade_stored(tree: Any) -> Any:
    """A copy of a stored config tree (nested dict) with the keys of ``RENAMED_KEYS`` moved to their new place
    (``{"model": {"rcnn_detections": 500}}`` -> ``{"model": {"rcnn": {"detections": 500}}}``); a key given both ways
    keeps its new-style value. Anything that is not a mapping is returned as is (the loader then says why)."""
    if not isinstance(tree, dict):
        return tree
    out = copy.deepcopy(tree)
    for old, new in RENAMED_KEYS.items():
        *old_path, old_key = old.split(".")
        *new_path, new_key = new.split(".")
        src = out
        for part in old_path:
            src = src.get(part) if isinstance(src, dict) else None
        if not isinstance(src, dict) or old_key not in src:
            continue
        value = src.pop(old_key)
        dst: Any = out
        for part in new_path:
            dst = dst.setdefault(part, {}) if isinstance(dst, dict) else None
        if isinstance(dst, dict):
            dst.setdefault(new_key, value)
    return out


def _float(text: str) -> float:
    """``float`` of an override's text, also in YAML's spellings ``.inf``, ``-.inf``, ``.nan`` (any case)."""
    t = text.strip()
    return float(t.lower().replace(".", "", 1)) if t.lower().lstrip("+-") in (".inf", ".nan") else float(t)


def coerce(value: Any, typ: Any, key: str, error: type[Exception]) -> Any:
    """Convert ``value`` (from YAML or a string override) to the declared type ``typ`` of the key ``key``; raise
    ``error`` (``ConfigError``), one line naming the key, if impossible."""
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], key, error)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise error(f"{key}: expected a boolean (true/false), got {value!r}")
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise error(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, str):  # an exact integer first: float() would round 20-digit values
            try:
                value = int(value.strip())
            except ValueError:
                try:
                    value = _float(value)
                except ValueError:
                    raise error(f"{key}: expected an integer, got {value!r}") from None
        if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
            raise error(f"{key}: expected an integer, got {value!r}")
        if abs(int(value)) >= 2**63:  # beyond int64: torch, NumPy and the C kernels cannot hold it
            raise error(f"{key}: {value!r} is out of range (an integer below 2^63 in absolute value)")
        return int(value)
    if typ is float:
        if isinstance(value, bool):
            raise error(f"{key}: expected a number, got {value!r}")
        try:
            return _float(value) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise error(f"{key}: expected a number, got {value!r}") from None
    if typ is str:
        if value is None:  # YAML reads ``~``, ``null`` and an empty value as nothing, never as the text 'None'
            raise error(f"{key}: expected a string, got nothing (YAML null: ~, null or an empty value); quote it "
                        "('~') if that is the text you mean")  # fmt: skip
        if not isinstance(value, str):  # YAML 1.1 read the text: 007 -> 7, yes -> True, 12:30 -> 750
            raise error(f"{key}: expected a string, got {value!r} ({type(value).__name__}); quote it ('...') if "
                        "that is the text you mean")  # fmt: skip
        return value
    return value


def check_values(obj: Any, prefix: str, error: type[Exception]) -> None:
    """Check every field of a config dataclass (recursively) against ``RULES``.

    Args:
        obj: a config dataclass (``Config`` or one section).
        prefix: the key prefix of ``obj`` (``""``, ``"mep."``, ...).
        error: the exception raised (``ConfigError``).

    Raises:
        error: the first bad value, one line naming its key (``train.iters: must be > 0, got -5``).
    """
    for f in dataclasses.fields(obj):
        key, value = prefix + f.name, getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            check_values(value, key + ".", error)
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise error(f"{key}: expected a finite number, got {value}")
        rule = RULES.get(key)
        if rule is not None and isinstance(value, (int, float, str)) and not rule[0](value):
            raise error(f"{key}: must be {rule[1]}, got {value!r}")


def declared_type(root: type, parts: list[str]) -> Any:
    """The declared type of the scalar key ``parts`` of the config dataclass ``root`` (``["train", "name"]`` ->
    ``str``); None for a section or a key ``root`` does not have."""
    cls: Any = root
    for i, part in enumerate(parts):
        if not dataclasses.is_dataclass(cls):
            return None
        hints = typing.get_type_hints(cls)
        if part not in hints or part not in {f.name for f in dataclasses.fields(cls)}:
            return None
        cls = hints[part]
        if i == len(parts) - 1:
            return None if dataclasses.is_dataclass(cls) else cls
    return None


def override_value(item: str, key: str, raw: str, root: type, error: type[Exception]) -> Any:
    """The value of the override ``item`` (``key=raw``): YAML (``5``, ``[1, 2]``, ``{iabm_r: 1}``); for a scalar key
    of ``root``, a plain scalar stays the text typed, which ``coerce`` converts by the key's type (YAML 1.1 would read
    ``train.name=12:30`` as 750, ``yes`` as True, ``train.iters=010`` as 8, octal)."""
    from baiseg.yamlio import load_override_value

    if raw == "":
        return ""
    value = load_override_value(raw, f"override '{item}'", error)
    if isinstance(value, (bool, int, float, datetime.date)) and declared_type(root, key.strip().split(".")):
        return raw.strip()
    return value


def merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` with ``new``'s keys (recursively): ``train.iters=3 train={lr: 0.1}`` keeps ``iters``."""
    out = dict(old)
    for k, v in new.items():
        out[k] = merged(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def check_loss(cfg: Any, error: type[Exception], loss_weights: bool) -> None:
    """Across sections of a ``Config``: a loss that can train something (when the architecture trains with the
    ``loss.w_*`` weights: its registry entry's ``loss_weights``), and a void label that is no class id."""
    loss = cfg.loss
    if loss_weights and loss.w_boundary == 0 and loss.w_sem == 0 and (
            loss.w_contrast == 0 or not loss.use_contrast):  # fmt: skip
        raise error("loss.w_boundary, loss.w_sem and loss.w_contrast are all 0 (or the contrast loss is off): the "
                    "loss would be 0 and the weights would never change; give one a weight > 0")
    if loss.ignore_index < cfg.model.num_classes:
        raise error(f"loss.ignore_index={loss.ignore_index} is a class id (0 = background, 1.."
                    f"{cfg.model.num_classes - 1} = the classes): its pixels would be ignored; use 255 (void)")
