"""Backbone weights: the packaged Lite0/Lite2 ImageNet weights, local files, and the offline error."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

from baiseg.config import ModelConfig
from baiseg.errors import WeightsError
from baiseg.models import build_model
from baiseg.models.backbone import Backbone
from baiseg.models.lite_weights import LITE_MEAN_STD, lite_weights_path, map_lite_state_dict


@pytest.mark.parametrize("name", ["tf_efficientnet_lite0", "tf_efficientnet_lite2"])
def test_lite_keys_all_mapped(name):
    state = torch.load(lite_weights_path(name), map_location="cpu", weights_only=True)
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    mapped = map_lite_state_dict(state, model)
    own = model.state_dict()
    assert set(mapped) == set(own)  # every key mapped, none left at random init, none unused
    assert all(mapped[k].shape == own[k].shape for k in own)


def test_lite0_classifies_the_zebra(shared_data):
    from PIL import Image

    from baiseg.models.lite_weights import load_lite_weights

    path = shared_data / "coco128_lightly" / "images" / "val2017" / "000000001818.jpg"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    load_lite_weights(model, "tf_efficientnet_lite0")
    image = np.array(Image.open(path).convert("RGB").resize((224, 224)), dtype=np.float32)
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in LITE_MEAN_STD)
    x = ((torch.from_numpy(image).permute(2, 0, 1) - mean) / std)[None]
    with torch.no_grad():
        probs = model(x).softmax(1)
    assert probs.argmax().item() == 340  # ImageNet "zebra"
    assert probs.max().item() > 0.5


def test_pretrained_lite0_backbone_is_the_packaged_weights():
    bb = Backbone(name="tf_efficientnet_lite0", pretrained=True)
    state = torch.load(lite_weights_path("tf_efficientnet_lite0"), map_location="cpu", weights_only=True)
    assert torch.equal(bb.body.conv_stem.weight, state["_conv_stem.weight"])
    assert bb.channels == [24, 40, 112, 320] and bb.input_norm == LITE_MEAN_STD


def test_local_weights_file_roundtrip(tmp_path):
    src = Backbone(name="resnet18", pretrained=False)
    path = tmp_path / "r18.pth"
    torch.save(src.body.state_dict(), path)
    model = build_model(ModelConfig(backbone="resnet18", pretrained=False, backbone_weights=str(path), iabm_dim=8,
                                    iabm_r=1, sem_dim=8, proj_dim=8))
    assert torch.equal(model.backbone.body.conv1.weight, src.body.conv1.weight)


def test_bad_weights_files(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        Backbone(name="resnet18", weights=str(tmp_path / "missing.pth"))
    path = tmp_path / "other.pth"
    torch.save({"foo.weight": torch.zeros(1)}, path)
    with pytest.raises(WeightsError, match="lack"):
        Backbone(name="resnet18", weights=str(path))


def test_hub_weights_offline_fail_fast(monkeypatch):
    import baiseg.models.backbone as bb

    monkeypatch.setattr(bb, "_hub_reachable", lambda host="huggingface.co": False)
    with pytest.raises(WeightsError, match="backbone_weights"):
        Backbone(name="resnet18", pretrained=True)
