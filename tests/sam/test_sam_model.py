"""MobileSAM model code without the released weights: TinyViT against timm's TinyViT, strict loading, clear errors."""

from __future__ import annotations

import re
import sys

import pytest
import torch

from baiseg.errors import BaisegError, WeightsError
from baiseg.sam.tiny_vit import TinyViT


def _timm_state(ours: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our TinyViT state-dict names -> timm's (``c`` -> ``conv``; timm puts a stage's downsample in the next one)."""
    out = {}
    for k, v in ours.items():
        if k.startswith(("neck", "head", "norm_head")):
            continue
        t = k.replace(".c.", ".conv.").replace("patch_embed.seq.0.", "patch_embed.conv1.")
        t = t.replace("patch_embed.seq.2.", "patch_embed.conv2.")
        m = re.match(r"layers\.(\d)\.downsample\.(.*)", t)
        t = f"stages.{int(m.group(1)) + 1}.downsample.{m.group(2)}" if m else t.replace("layers.", "stages.")
        out[t] = v
    return out


def _randomised(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    for name, t in model.state_dict().items():
        if t.is_floating_point():
            t.copy_(torch.rand_like(t) * 0.5 + 0.5 if "running_var" in name else torch.randn_like(t) * 0.1)
    return model.eval()


def test_tiny_vit_matches_timm_reference():
    tiny_vit = pytest.importorskip("timm.models.tiny_vit")
    ours = _randomised(TinyViT(img_size=128))
    ref = tiny_vit.TinyVit(embed_dims=(64, 128, 160, 320), depths=(2, 2, 6, 2), num_heads=(2, 4, 5, 10),
                           window_sizes=(7, 7, 14, 7), drop_path_rate=0.0)  # fmt: skip
    ref.stages[3].downsample.conv2.conv.stride = (1, 1)  # MobileSAM: the last downsample keeps the resolution
    missing, unexpected = ref.load_state_dict(_timm_state(ours.state_dict()), strict=False)
    assert not unexpected and all(k.startswith("head.") for k in missing)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        feats = ours.patch_embed(x)
        for layer in ours.layers:
            feats = layer(feats)
        expected = ref.eval().forward_features(x)
        emb = ours(x)
    assert feats.shape == (1, 320, 8, 8)
    torch.testing.assert_close(feats, expected, rtol=1e-4, atol=1e-4)
    assert emb.shape == (1, 256, 8, 8)


def test_odd_input_size_and_gradients():
    model = TinyViT(img_size=96)
    out = model(torch.randn(1, 3, 100, 76))  # not a multiple of any window size
    assert out.shape == (1, 256, 7, 5)
    out.mean().backward()
    unused = {"head.weight", "head.bias", "norm_head.weight", "norm_head.bias"}
    assert all(p.grad is not None for n, p in model.named_parameters() if n not in unused)


def test_strict_loading_names_the_misfits(tmp_path):
    pytest.importorskip("segment_anything")
    from baiseg.sam.model import _load_strict, build_mobilesam

    model = build_mobilesam()
    state = dict(model.state_dict())
    assert len(state) == 439 and "image_encoder.layers.2.blocks.5.attn.attention_biases" in state
    state.pop("image_encoder.neck.0.weight")
    state["extra.weight"] = torch.zeros(1)
    state["mask_decoder.iou_token.weight"] = torch.zeros(2, 256)
    with pytest.raises(WeightsError, match=r"1 missing keys \[image_encoder.neck.0.weight\], 1 unexpected"):
        _load_strict(model, state, tmp_path / "x.pt")


def test_missing_or_bad_weights_file(tmp_path):
    pytest.importorskip("segment_anything")
    from baiseg.sam import load_mobilesam

    with pytest.raises(BaisegError, match="fetch_mobilesam.sh"):
        load_mobilesam(tmp_path / "absent.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        load_mobilesam(bad)


def test_missing_segment_anything_says_how_to_install(monkeypatch, tmp_path):
    from baiseg.sam import load_mobilesam

    monkeypatch.setitem(sys.modules, "segment_anything", None)  # import fails as if not installed
    with pytest.raises(BaisegError, match=r"pip install 'baiseg\[sam\]'"):
        load_mobilesam(tmp_path / "mobile_sam.pt")


def test_proposals_and_instances_with_a_tiny_random_sam():
    pytest.importorskip("segment_anything")
    import numpy as np

    from baiseg.sam import SAMConfig, build_mobilesam, filter_proposals, foreground_points, sam_instances, sam_proposals

    torch.manual_seed(0)
    model = build_mobilesam(img_size=64).eval()  # 4 x 4 embedding: runs in well under a second
    image = np.random.default_rng(0).integers(0, 255, (30, 41, 3), dtype=np.uint8)
    sem = np.zeros((30, 41), np.uint8)
    sem[5:20, 5:25] = 1
    sem[22:28, 30:40] = 255
    cfg = SAMConfig(points_per_side=8, points_per_batch=7, pred_iou_thresh=-1.0, stability_score_thresh=0.0,
                    box_nms_thresh=1.0, min_area_px=4)  # fmt: skip
    props = sam_proposals(image, sem, model=model, cfg=cfg)
    n_points = len(foreground_points(sem, 8))
    assert n_points > 0
    assert props["masks"].shape == (3 * n_points, 30, 41) and props["masks"].dtype == bool
    assert props["iou"].shape == props["stability"].shape == (3 * n_points,)
    masks, ious = filter_proposals(props, cfg)
    assert len(masks) == len(ious) and (np.diff(ious) <= 0).all()
    inst = sam_instances(image, sem, model=model, cfg=cfg)
    assert (inst.masks.sum(0) <= 1).all() and (inst.classes == 1).all()
    assert inst.masks.any(0)[sem == 1].all() and not inst.masks.any(0)[sem != 1].any()
    with pytest.raises(BaisegError, match="does not match image"):
        sam_proposals(image, sem[:, :40], model=model, cfg=cfg)
