"""The Mask R-CNN keys in their own section (``model.rcnn.*``): presets, rules, the renaming of stored configs
written with the old flat keys (``model.rcnn_detections``, ``model.fpn_dim``) and the error for an old key typed."""

from __future__ import annotations

import copy

import pytest
import yaml

from baiseg.cli import main
from baiseg.config import Config, ConfigError, config_from_dict, dump_yaml, load_config, resolve_preset, to_dict
from baiseg.config_rules import RENAMED_KEYS, upgrade_stored

#: A stored ``model:`` section as the versions before ``model.rcnn`` wrote it (flat keys).
OLD_MODEL = {"arch": "maskrcnn", "backbone": "test_efficientnet", "pretrained": False, "num_classes": 3,
             "fpn_dim": 32, "rcnn_min_size": 96, "rcnn_max_size": 128, "rcnn_scale_jitter": 0.2,
             "rcnn_frozen_bn": True, "rcnn_fpn_gn": False, "rcnn_freeze_stem": True, "rcnn_score_thr": 0.1,
             "rcnn_detections": 500, "rcnn_mask_thr": 0.4, "rcnn_mask_dim": 16, "rcnn_mask_convs": 2,
             "rcnn_roi_batch": 32, "rcnn_rpn_test_top_n": 50}  # fmt: skip


def test_preset_fills_the_nested_section():
    m = load_config(resolve_preset("maskrcnn_lite0")).model
    assert (m.rcnn.fpn_dim, m.rcnn.min_size, m.rcnn.max_size, m.rcnn.rpn_test_top_n) == (128, 320, 640, 500)
    assert not hasattr(m, "rcnn_min_size") and not hasattr(m, "fpn_dim")
    assert load_config(None, ["model.rcnn.detections=500"]).model.rcnn.detections == 500


def test_old_stored_config_is_renamed_on_load():
    tree = {"model": dict(OLD_MODEL), "train": {"iters": 7}}
    before = copy.deepcopy(tree)
    cfg = config_from_dict(tree)
    assert tree == before  # the caller's dict is not modified
    r = cfg.model.rcnn
    assert (r.fpn_dim, r.min_size, r.max_size, r.scale_jitter, r.fpn_gn) == (32, 96, 128, 0.2, False)
    assert (r.score_thr, r.detections, r.mask_thr, r.mask_dim, r.mask_convs) == (0.1, 500, 0.4, 16, 2)
    assert (r.roi_batch, r.rpn_test_top_n, cfg.train.iters) == (32, 50, 7)
    # every old key is covered: the renamed config equals the one written with the new keys
    new = {"model": {k: v for k, v in OLD_MODEL.items() if f"model.{k}" not in RENAMED_KEYS}, "train": {"iters": 7}}
    new["model"]["rcnn"] = {RENAMED_KEYS[f"model.{k}"].rsplit(".", 1)[1]: v
                            for k, v in OLD_MODEL.items() if f"model.{k}" in RENAMED_KEYS}  # fmt: skip
    assert to_dict(cfg) == to_dict(config_from_dict(new))
    assert set(RENAMED_KEYS) == {f"model.{k}" for k in OLD_MODEL if k.startswith(("rcnn_", "fpn_"))}


def test_upgrade_keeps_new_keys_and_odd_input():
    assert upgrade_stored({"model": {"rcnn_detections": 5, "rcnn": {"detections": 9}}}) == \
        {"model": {"rcnn": {"detections": 9}}}
    assert upgrade_stored([1, 2]) == [1, 2]
    assert upgrade_stored({"model": None}) == {"model": None}
    with pytest.raises(ConfigError, match="model.rcnn"):  # a bad section still gets the loader's one-line error
        config_from_dict({"model": {"rcnn": 3, "rcnn_detections": 5}})


def test_old_style_weights_load(tmp_path):
    from safetensors.torch import save_file

    from baiseg.models import build_model
    from baiseg.weights_io import FORMAT, load_weights, read_weights_meta

    old_yaml = yaml.safe_dump({"model": OLD_MODEL, "train": {"iters": 7}}, sort_keys=False)
    assert "rcnn_detections" in old_yaml and "rcnn:" not in old_yaml
    model = build_model(config_from_dict({"model": OLD_MODEL}).model, load_weights=False)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    path = tmp_path / "old.safetensors"
    save_file(state, str(path), metadata={"format": FORMAT, "config": old_yaml, "baiseg_version": "0.0",
                                          "class_names": '["a", "b"]', "category_ids": "[1, 2]"})  # fmt: skip
    meta = read_weights_meta(path)
    assert meta["config"].model.rcnn.detections == 500 and meta["config"].model.rcnn.mask_thr == 0.4
    loaded, _ = load_weights(path)
    assert loaded.net.roi_heads.detections_per_img == 500 and loaded.test_min_size == 96
    assert "rcnn_" not in dump_yaml(meta["config"])  # written back in the new form


@pytest.mark.parametrize("old,new", [("model.rcnn_detections", "model.rcnn.detections"),
                                     ("model.fpn_dim", "model.rcnn.fpn_dim")])  # fmt: skip
def test_old_key_typed_names_the_new_one(old, new, tmp_path, capsys):
    with pytest.raises(ConfigError, match=f"'{old}' is now '{new}'"):
        load_config(None, [f"{old}=500"])
    p = tmp_path / "old.yaml"
    p.write_text(f"model:\n  {old.split('.')[1]}: 500\n")
    with pytest.raises(ConfigError, match=f"'{new}'"):
        load_config(p)
    assert main(["config", "maskrcnn_lite0", f"{old}=500"]) == 2
    err = capsys.readouterr().err.strip()
    assert new in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("key,bad", [("detections", 0), ("mask_thr", 1.5), ("scale_jitter", 1)])
def test_nested_values_are_checked_on_load(key, bad):
    with pytest.raises(ConfigError, match=f"model.rcnn.{key}: must be"):
        load_config(None, [f"model.rcnn.{key}={bad}"])
    with pytest.raises(ConfigError, match=f"model.rcnn.{key}: must be"):
        config_from_dict({"model": {"rcnn": {key: bad}}})


def test_info_prints_the_nested_keys(capsys):
    assert main(["info", "maskrcnn_lite0", "model.pretrained=false", "--size", "64"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "rcnn.fpn_dim=128" in first and "rcnn.min_size=320" in first


def test_default_config_round_trips_with_the_section():
    cfg = Config()
    assert to_dict(config_from_dict(to_dict(cfg))) == to_dict(cfg)
    assert "rcnn" in to_dict(cfg)["model"] and "rcnn_min_size" not in to_dict(cfg)["model"]
