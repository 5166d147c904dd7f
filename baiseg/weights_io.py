"""Released weights: a ``*.safetensors`` file whose metadata holds the resolved config and the class list.

The file is self-describing: ``load_weights`` rebuilds the network with ``baiseg.models.build_model`` from the stored
config and loads the tensors strictly. Nothing is ever unpickled.

Metadata keys (all strings, as safetensors requires):

- ``format``: ``"baiseg-weights-1"``,
- ``config``: the resolved ``Config`` as YAML (``baiseg.config.dump_yaml``),
- ``class_names`` / ``category_ids``: JSON lists of the K thing classes and their result-file ids,
- ``baiseg_version``, and any ``extra`` entries given to ``save_weights`` (e.g. ``iteration``, ``metric``).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from baiseg.config import Config, ConfigError, config_from_dict, dump_yaml
from baiseg.errors import WeightsError
from baiseg.fileio import atomic_write
from baiseg.version import __version__
from baiseg.yamlio import load_yaml_text

FORMAT = "baiseg-weights-1"


def unwrap_model(model: nn.Module) -> nn.Module:
    """The bare module inside DistributedDataParallel / DataParallel / ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def save_weights(
    path: str | os.PathLike,
    model: nn.Module,
    cfg: Config,
    class_names: list[str],
    category_ids: list[int] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the model's state dict and its description atomically to ``path`` (``*.safetensors``).

    Args:
        path: output file.
        model: the network (wrappers such as DDP are removed).
        cfg: the resolved config; ``cfg.model.num_classes`` must equal ``len(class_names) + 1``.
        class_names: K thing class names (semantic ids 1..K).
        category_ids: K ids for result files; default 1..K.
        extra: additional JSON-serialisable facts stored in the metadata.

    Returns:
        The path written.
    """
    from safetensors.torch import save_file

    if category_ids is None:
        category_ids = list(range(1, len(class_names) + 1))
    if len(category_ids) != len(class_names):
        raise ValueError(f"{len(class_names)} class names but {len(category_ids)} category ids")
    if cfg.model.num_classes != len(class_names) + 1:
        raise ValueError(
            f"cfg.model.num_classes={cfg.model.num_classes} but {len(class_names)} classes (+1 background) were given"
        )
    state = {k: v.detach().cpu().contiguous().clone() for k, v in unwrap_model(model).state_dict().items()}
    meta = {
        "format": FORMAT,
        "config": dump_yaml(cfg),
        "class_names": json.dumps(list(class_names)),
        "category_ids": json.dumps([int(c) for c in category_ids]),
        "baiseg_version": __version__,
    }
    for k, v in (extra or {}).items():
        meta[str(k)] = v if isinstance(v, str) else json.dumps(v)
    return atomic_write(path, lambda tmp: save_file(state, tmp, metadata=meta))


def read_weights_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The decoded metadata of a weights file without loading its tensors.

    Returns:
        ``{"config": Config, "class_names": list[str], "category_ids": list[int], "baiseg_version": str, ...}``;
        extra entries are JSON-decoded where possible.

    Raises:
        WeightsError: the file is missing, not safetensors, or not a baiseg weights file.
    """
    from safetensors import safe_open

    if not isinstance(path, (str, os.PathLike)):
        raise WeightsError(f"weights must be a path to a *.safetensors file, got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        found = sorted(q.name for q in p.glob("*.safetensors"))
        hint = f" (it holds {', '.join(found[:4])})" if found else ""
        raise WeightsError(f"weights '{p}' is a folder, not a file: give a *.safetensors file in it{hint}")
    if not p.is_file():
        raise WeightsError(f"weights file '{p}' does not exist: give a *.safetensors file written by 'baiseg train'")
    try:
        with safe_open(str(p), framework="pt") as f:
            raw = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for a bad header
        raise WeightsError(f"'{p}' is not a safetensors file ({e}); give best.safetensors or last.safetensors") \
            from None
    if raw.get("format") != FORMAT or "config" not in raw:
        raise WeightsError(f"'{p}' is a safetensors file but not baiseg weights (no '{FORMAT}' metadata)")
    meta = decode_meta(raw, p)
    check_class_meta(meta, str(p))
    return meta


def decode_meta(raw: dict[str, str], p: Path, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """String metadata of a weights or ONNX file -> ``{"config": Config, <key>: JSON-decoded value, ...}``.

    ``format`` and the keys in ``skip`` are left out; the class lists must be valid JSON.

    Raises:
        WeightsError: the stored config does not fit this version, or a class list is not JSON.
    """
    try:
        cfg = config_from_dict(load_yaml_text(raw["config"], "the stored config", ConfigError) or {})
    except ConfigError as e:
        raise WeightsError(f"'{p}': the stored config does not fit this baiseg version: {e}") from None
    meta: dict[str, Any] = {}
    for k, v in raw.items():
        if k in ("config", "format", *skip):
            continue
        try:
            meta[k] = json.loads(v)
        except json.JSONDecodeError:
            if k in CLASS_KEYS:
                raise WeightsError(f"'{p}': the '{k}' metadata is not valid JSON: the file was altered or written "
                                   "by another tool; use the weights 'baiseg train' wrote") from None  # fmt: skip
            meta[k] = v
    meta["config"] = cfg
    return meta


#: Metadata entries that describe the classes of the semantic head.
CLASS_KEYS = ("class_names", "category_ids")


def check_class_meta(meta: dict[str, Any], where: str) -> None:
    """The class metadata must be K names (non-empty strings) and K integer ids, K + 1 = ``config.model.num_classes``
    (the semantic head's outputs).

    Raises:
        WeightsError: one line naming the file and what disagrees.
    """
    names, ids = meta.get("class_names"), meta.get("category_ids")
    if names is None:
        raise WeightsError(f"'{where}' has no 'class_names' metadata: use the weights 'baiseg train' wrote")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise WeightsError(f"'{where}': 'class_names' metadata must be a list of non-empty strings, got {names!r:.80}")
    cfg = meta.get("config")
    heads = getattr(getattr(cfg, "model", None), "num_classes", None)
    if heads is not None and heads != len(names) + 1:
        raise WeightsError(f"'{where}': {len(names)} class names but the semantic head has {heads} outputs "
                           f"(expected {len(names) + 1}: K classes + background): the metadata was altered")
    if ids is not None and (not isinstance(ids, list) or len(ids) != len(names)
                            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)):  # fmt: skip
        raise WeightsError(f"'{where}': 'category_ids' metadata must be {len(names)} integers (one per class name), "
                           f"got {ids!r:.80}")  # fmt: skip
    for key, values in (("class_names", names), ("category_ids", ids or [])):
        twice = sorted({v for v in values if values.count(v) > 1}, key=str)
        if twice:  # two classes under one name or id: their results and metrics would be merged without a word
            raise WeightsError(f"'{where}': '{key}' metadata names {twice[:3]} twice ({values!r:.80}): each class "
                               "needs its own; the metadata was altered")  # fmt: skip


def load_weights(
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    build_fn: Callable[[Any], nn.Module] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network described by a weights file and load its tensors strictly.

    Args:
        path: a ``*.safetensors`` file written by ``save_weights``.
        device: where the model and tensors go.
        build_fn: builds the model from ``cfg.model``; default ``baiseg.models.build_model``. Pretrained backbone
            downloads are switched off (the file holds every weight).

    Returns:
        ``(model in eval mode, meta)`` with meta as in ``read_weights_meta``.

    Raises:
        WeightsError: the file is unreadable or its tensors do not fit the stored config.
    """
    from safetensors.torch import load_file

    from baiseg.devices import resolve_device

    if not isinstance(device, torch.device):  # the one device parser: 'gpu' is refused here, not by safetensors
        device = resolve_device(device, "device")
    meta = read_weights_meta(path)
    cfg: Config = copy.deepcopy(meta["config"])
    cfg.model.pretrained = False
    cfg.model.backbone_weights = None
    if build_fn is None:
        from baiseg.models import build_model as build_fn
    model = build_fn(cfg.model)
    try:
        state = load_file(str(path), device=str(device))
    except Exception as e:
        raise WeightsError(f"'{path}': cannot read tensors ({e})") from None
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    bad = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or bad:
        detail = "; ".join(
            f"{name}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
            for name, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", bad))
            if keys
        )
        raise WeightsError(f"'{path}' does not fit the model built from its config ({detail})")
    model.load_state_dict(state, strict=True)
    model.to(device).eval()
    return model, meta
