"""The IABM's low-resolution mapping runs through the first CFM's own forward: same weights, same outputs."""

from __future__ import annotations

import types

import pytest
import torch
import torch.nn.functional as F

from baiseg.config import load_config, resolve_preset
from baiseg.models import build_model
from baiseg.models.iabm import CFM, IABM


def reference_forward(iabm: IABM, feats: torch.Tensor, out_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The IABM forward written out step by step, layer by layer (the code before CFM took ``out_size``)."""
    first = iabm.blocks[0]
    if iabm.lowres_mapping:
        mapping = first.mapping if isinstance(first, CFM) else first
        x = mapping[0](feats)
        x = F.interpolate(x, size=out_size, mode="bilinear", align_corners=False)
        x = mapping[2](mapping[1](x))
        if isinstance(first, CFM):
            x = first.ffm(first.dma(x))
    else:
        x = first(F.interpolate(feats, size=out_size, mode="bilinear", align_corners=False))
    for block in iabm.blocks[1:]:
        x = block(x)
    return iabm.head(x), x


def test_cpu_lite0_outputs_equal_the_step_by_step_computation():
    torch.manual_seed(0)
    cfg = load_config(resolve_preset("cpu_lite0"), ["model.pretrained=false"])
    assert cfg.model.iabm_lowres_mapping
    model = build_model(cfg.model, load_weights=False).eval()
    keys = [k for k in model.state_dict() if k.startswith("iabm.")]
    assert keys[:2] == ["iabm.blocks.0.mapping.0.weight", "iabm.blocks.0.mapping.1.weight"]  # checkpoints still load
    with torch.no_grad():
        for name, p in model.iabm.named_parameters():  # beta starts at 0: make the MAU paths count
            if name.endswith("beta"):
                p.fill_(0.5)
    image = torch.randn(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(image)
        model.iabm.forward = types.MethodType(reference_forward, model.iabm)
        ref = model(image)
    assert out.keys() == ref.keys()
    for k in out:
        assert torch.equal(out[k], ref[k]), k


@pytest.mark.parametrize("use_cfm", [True, False])
def test_lowres_mapping_matches_reference_and_full_resolution(use_cfm):
    torch.manual_seed(0)
    iabm = IABM(in_ch=12, dim=8, num_cfm=2, use_cfm=use_cfm, reduction=4, lowres_mapping=True).eval()
    feats = torch.randn(2, 12, 7, 9)
    with torch.no_grad():
        logits, x = iabm(feats, (28, 36))
        ref_logits, ref_x = reference_forward(iabm, feats, (28, 36))
        iabm.lowres_mapping = False
        full_logits, _ = iabm(feats, (28, 36))
    assert torch.equal(logits, ref_logits) and torch.equal(x, ref_x)
    torch.testing.assert_close(logits, full_logits, atol=1e-4, rtol=1e-4)  # the 1x1 conv and upsampling commute


def test_out_size_is_only_for_the_first_cfm():
    cfm = CFM(in_ch=8, dim=8, first=False, reduction=4)
    with pytest.raises(ValueError, match="first CFM"):
        cfm(torch.randn(1, 8, 4, 4), out_size=(8, 8))
