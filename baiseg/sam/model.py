"""MobileSAM = our TinyViT-5M encoder (tiny_vit.py) + SAM's prompt encoder and mask decoder (``segment-anything``).

The released weights (``mobile_sam.pt``, Apache-2.0) are a plain state dict; they are read with
``torch.load(weights_only=True)`` (no unpickling of code) and loaded strictly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from baiseg.errors import BaisegError, WeightsError
from baiseg.preprocess import IMAGENET_MEAN, IMAGENET_STD
from baiseg.sam.tiny_vit import TinyViT

FETCH_HINT = "bash ../shared/tools/fetch_mobilesam.sh .cache/mobilesam"
DEFAULT_WEIGHTS = Path(".cache/mobilesam/mobile_sam.pt")


def require_segment_anything() -> Any:
    """Import and return the ``segment_anything`` module, or raise a BaisegError that says how to install it."""
    try:
        import segment_anything
    except ImportError as e:
        raise BaisegError(
            f"the MobileSAM competitor needs the 'segment-anything' package ({e}): pip install 'baiseg[sam]'"
        ) from e
    return segment_anything


def build_mobilesam(*, img_size: int = 1024) -> torch.nn.Module:
    """An uninitialised MobileSAM as a ``segment_anything.modeling.Sam``.

    Args:
        img_size: input side (the long image side is resized to it); the embedding is 256 x img_size/16 x img_size/16.
            The released weights are for 1024; smaller sizes make fast tests.
    """
    sa = require_segment_anything()
    from segment_anything.modeling import MaskDecoder, PromptEncoder, TwoWayTransformer

    embed_dim, emb_size = 256, img_size // 16
    return sa.modeling.Sam(
        image_encoder=TinyViT(img_size=img_size, out_chans=embed_dim),
        prompt_encoder=PromptEncoder(
            embed_dim=embed_dim,
            image_embedding_size=(emb_size, emb_size),
            input_image_size=(img_size, img_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=embed_dim, mlp_dim=2048, num_heads=8),
            transformer_dim=embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=list(IMAGENET_MEAN),  # SAM normalises with ImageNet's statistics
        pixel_std=list(IMAGENET_STD),
    )


def check_weights_file(weights_path: str | Path) -> Path:
    """The MobileSAM weights path, checked to be a file (before a command claims its output folder).

    Raises:
        WeightsError: no such file, with the command that fetches it.
    """
    path = Path(weights_path)
    if not path.is_file():
        raise WeightsError(f"MobileSAM weights '{path}' not found: run `{FETCH_HINT}` (from the repository root)")
    return path


def load_mobilesam(weights_path: str | Path = DEFAULT_WEIGHTS, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Build MobileSAM and load the released weights strictly; return it in eval mode on ``device``.

    Args:
        weights_path: ``mobile_sam.pt`` (fetch it with ``bash ../shared/tools/fetch_mobilesam.sh .cache/mobilesam``).
        device: torch device for the model.

    Raises:
        BaisegError: ``segment-anything`` is not installed.
        WeightsError: the file is missing or unreadable, or its keys/shapes do not fit the model.
    """
    model = build_mobilesam()
    path = check_weights_file(weights_path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling/IO problem means a bad file
        raise WeightsError(f"cannot read MobileSAM weights '{path}' ({e}): fetch them again with `{FETCH_HINT}`") from e
    if not isinstance(state, dict):
        raise WeightsError(f"'{path}' holds a {type(state).__name__}, not a state dict: expected mobile_sam.pt")
    _load_strict(model, state, path)
    return model.eval().to(device)


def _load_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load ``state`` into ``model`` with every key and shape matching, or raise a WeightsError listing the misfits."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in own
             if k in state and tuple(state[k].shape) != tuple(own[k].shape)]  # fmt: skip
    if missing or unexpected or wrong:
        raise WeightsError(
            f"'{path}' does not fit MobileSAM (TinyViT-5M + SAM decoder): {len(missing)} missing keys "
            f"[{_head(missing)}], "
            f"{len(unexpected)} unexpected [{_head(unexpected)}], {len(wrong)} shape mismatches [{_head(wrong)}]; "
            f"is it the original mobile_sam.pt? fetch it with `{FETCH_HINT}`"
        )
    model.load_state_dict(state, strict=True)


def _head(keys: list[str], n: int = 5) -> str:
    """The first ``n`` keys, comma separated, with the count of the rest."""
    return ", ".join(keys[:n]) + (f" (+{len(keys) - n} more)" if len(keys) > n else "")
