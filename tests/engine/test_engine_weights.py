"""Released weights: safetensors round trip with the config and class list in the metadata."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from baiseg.config import Config
from baiseg.errors import WeightsError
from baiseg.weights_io import load_weights, read_weights_meta, save_weights


def _tiny(model_cfg) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, model_cfg.iabm_dim, 3), nn.BatchNorm2d(model_cfg.iabm_dim),
                         nn.Conv2d(model_cfg.iabm_dim, model_cfg.num_classes, 1))


def _cfg(dim: int = 4) -> Config:
    cfg = Config()
    cfg.model.iabm_dim = dim
    cfg.model.num_classes = 3
    return cfg


def test_round_trip(tmp_path):
    cfg = _cfg()
    model = _tiny(cfg.model)
    with torch.no_grad():
        model[0].weight.add_(1.5)
    p = save_weights(tmp_path / "w.safetensors", model, cfg, ["cat", "dog"], [17, 18], extra={"iteration": 7})
    loaded, meta = load_weights(p, build_fn=_tiny)
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    assert meta["class_names"] == ["cat", "dog"] and meta["category_ids"] == [17, 18]
    assert meta["iteration"] == 7 and meta["config"].model.iabm_dim == 4
    assert meta["config"].model.pretrained is True  # stored as trained; only the rebuilt model skips downloads
    assert not loaded.training
    assert not list(tmp_path.glob("*.tmp"))


def test_default_category_ids_and_meta_only(tmp_path):
    cfg = _cfg()
    p = save_weights(tmp_path / "w.safetensors", _tiny(cfg.model), cfg, ["a", "b"])
    assert read_weights_meta(p)["category_ids"] == [1, 2]


def test_num_classes_must_match(tmp_path):
    cfg = _cfg()
    with pytest.raises(ValueError, match="num_classes"):
        save_weights(tmp_path / "w.safetensors", _tiny(cfg.model), cfg, ["a"])


def test_errors(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_weights(tmp_path / "nope.safetensors", build_fn=_tiny)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(WeightsError, match="not a safetensors"):
        load_weights(junk, build_fn=_tiny)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(other))
    with pytest.raises(WeightsError, match="not baiseg weights"):
        load_weights(other, build_fn=_tiny)
    cfg = _cfg(dim=4)
    p = save_weights(tmp_path / "w.safetensors", _tiny(cfg.model), cfg, ["a", "b"])
    with pytest.raises(WeightsError, match="does not fit"):
        load_weights(p, build_fn=lambda m: _tiny(_cfg(dim=5).model))
