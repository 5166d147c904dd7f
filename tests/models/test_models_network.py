"""Shapes, gradients, determinism and autocast of the BAISeg network on tiny CPU configs."""

from __future__ import annotations

import pytest
import torch

from baiseg.config import ConfigError, ModelConfig
from baiseg.models import BAISeg, build_model


def tiny_cfg(**kw) -> ModelConfig:
    base = dict(backbone="tf_efficientnet_lite0", pretrained=False, num_classes=4, sem_dim=16, iabm_r=2, iabm_dim=8,
                proj_dim=8, mau_reduction=4)
    base.update(kw)
    return ModelConfig(**base)


@pytest.mark.parametrize("shape", [(1, 3, 33, 65), (2, 3, 40, 47)])
@pytest.mark.parametrize("stride", [1, 2])
def test_output_shapes_odd_sizes(shape, stride):
    torch.manual_seed(0)
    model = build_model(tiny_cfg(iabm_stride=stride)).eval()
    n, _, h, w = shape
    with torch.no_grad():
        out = model(torch.randn(shape), with_embeddings=True)
    assert out["sem_logits"].shape == (n, 4, h, w)
    assert out["boundary_logits"].shape == (n, 1, h, w)
    hs, ws = -(-h // stride), -(-w // stride)
    assert out["boundary_features"].shape == (n, 8, hs, ws)
    assert out["embeddings"].shape == (n, 8, hs, ws)
    norms = out["embeddings"].norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-4)
    assert all(torch.isfinite(v).all() for v in out.values())


def test_hrnet_odd_size_batch1():
    torch.manual_seed(0)
    model = build_model(tiny_cfg(backbone="hrnet_w18", sem_head="auto")).eval()
    assert type(model.semantic_head).__name__ == "HRNetV2Head"
    with torch.no_grad():
        out = model(torch.randn(1, 3, 50, 70))
    assert out["sem_logits"].shape == (1, 4, 50, 70)
    assert out["boundary_logits"].shape == (1, 1, 50, 70)
    assert "embeddings" not in out  # eval mode: not computed unless asked


@pytest.mark.parametrize("kw", [{}, {"use_dma": False}, {"use_cfm": False}, {"iabm_lowres_mapping": True},
                                {"iabm_r": 1}])
def test_every_parameter_gets_a_gradient(kw):
    torch.manual_seed(0)
    model = build_model(tiny_cfg(iabm_dim=16, mau_reduction=2, **kw)).train()  # hidden 8: no all-dead ReLU layer
    with torch.no_grad():  # beta starts at 0, which stops the gradient of the MLP/7x7 attention paths
        for name, p in model.named_parameters():
            if name.endswith("beta"):
                p.fill_(0.5)
    out = model(torch.randn(2, 3, 32, 32))
    noise = [torch.randn_like(out[k]) for k in ("sem_logits", "boundary_logits", "embeddings")]
    loss = sum((out[k] * r).mean() for k, r in zip(("sem_logits", "boundary_logits", "embeddings"), noise))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []
    # Our modules: no gradient may be exactly zero. (In the backbone a bias followed by a conv and a train-mode BN
    # cancels exactly, so the check is limited to the heads and the IABM.)
    zero = [n for n, p in model.named_parameters() if not n.startswith("backbone.") and p.grad.abs().sum() == 0]
    assert zero == []


def test_ablation_switches_change_the_module():
    full = build_model(tiny_cfg())
    no_dma = build_model(tiny_cfg(use_dma=False))
    no_cfm = build_model(tiny_cfg(use_cfm=False))
    names = {n for n, _ in full.named_modules()}
    assert any(n.endswith("dma.mau") for n in names)
    assert not any(n.endswith("dma.mau") and not isinstance(m, torch.nn.Identity) for n, m in no_dma.named_modules())
    assert not any("ffm" in n for n, _ in no_cfm.named_modules())
    assert len(build_model(tiny_cfg(iabm_r=3)).iabm.blocks) == 3


def test_eval_is_deterministic():
    torch.manual_seed(0)
    model = build_model(tiny_cfg()).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = model(x, with_embeddings=True), model(x, with_embeddings=True)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_bf16_autocast_on_cpu():
    torch.manual_seed(0)
    model = build_model(tiny_cfg()).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.randn(2, 3, 32, 32))
    assert out["boundary_logits"].dtype == torch.bfloat16
    assert all(torch.isfinite(v.float()).all() for v in out.values())
    (out["sem_logits"].float().mean() + out["boundary_logits"].float().mean()).backward()


def test_model_contract():
    model = build_model(tiny_cfg())
    assert isinstance(model, BAISeg)
    mean, std = model.input_norm
    assert len(mean) == 3 and len(std) == 3 and min(std) > 1  # 0-255 pixel units
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        model(torch.randn(1, 1, 32, 32))


@pytest.mark.parametrize("kw, word", [({"iabm_stride": 3}, "iabm_stride"), ({"iabm_r": 0}, "iabm_r"),
                                      ({"sem_head": "unet"}, "sem_head"), ({"num_classes": 1}, "num_classes")])
def test_bad_config_values(kw, word):
    with pytest.raises(ConfigError, match=word):
        build_model(tiny_cfg(**kw))


def test_lowres_mapping_is_the_same_function():
    from baiseg.models.iabm import IABM

    torch.manual_seed(0)
    full = IABM(in_ch=12, dim=8, num_cfm=2, reduction=4).train()
    low = IABM(in_ch=12, dim=8, num_cfm=2, reduction=4, lowres_mapping=True).train()
    low.load_state_dict(full.state_dict())
    feats = torch.randn(2, 12, 9, 11)
    a, b = full(feats, (36, 44)), low(feats, (36, 44))
    assert torch.allclose(a[0], b[0], atol=1e-4) and torch.allclose(a[1], b[1], atol=1e-4)


@pytest.mark.parametrize("name,mean,std", [
    ("resnet18", (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),  # ImageNet statistics
    ("tf_mobilenetv3_small_100", (127.5,) * 3, (127.5,) * 3),  # a TF port: (x - 0.5) / 0.5 in [0, 1] units
])  # fmt: skip
def test_non_lite_backbones_take_their_normalisation_from_timm(name, mean, std):
    from baiseg.models.backbone import Backbone
    from baiseg.preprocess import IMAGENET_MEAN, IMAGENET_STD

    norm = Backbone(name=name).input_norm
    assert norm == (mean, std)
    assert Backbone(name="resnet18").input_norm == (IMAGENET_MEAN, IMAGENET_STD)  # the one ImageNet constant
