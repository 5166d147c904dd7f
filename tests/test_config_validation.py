"""Config values are validated at load time: one line naming the key (issue 10 §1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from baiseg.cli import main
from baiseg.config import ConfigError, MEPConfig, config_from_dict, load_config, mep_with_overrides, validate
from baiseg.data import build_dataset
from baiseg.errors import DataError

BAD = [
    ("train.iters=-5", "train.iters: must be > 0, got -5"),
    ("train.iters=0", "train.iters: must be > 0"),
    ("train.accum_steps=0", "train.accum_steps: must be > 0"),
    ("train.batch_size=0", "train.batch_size: must be > 0"),
    ("train.lr=-1e-4", "train.lr: must be > 0"),
    ("train.lr=.nan", "train.lr: expected a finite number"),
    ("train.log_every=0", "train.log_every: must be > 0"),
    ("train.val_every=0", "train.val_every: must be > 0"),
    ("train.ckpt_every=0", "train.ckpt_every: must be > 0"),
    ("data.crop_size=0", "data.crop_size: must be >= 8"),
    ("data.scale_min=-0.5", "data.scale_min: must be > 0"),
    ("data.scale_max=-2", "data.scale_max: must be > 0"),
    ("data.scale_max=0.4", "data.scale_max (0.4) must be >= data.scale_min (0.5)"),
    ("data.contour.void_fill_px=-1", "data.contour.void_fill_px: must be >= 0"),
    ("loss.sem_topk=0", "loss.sem_topk: must be in (0, 1]"),
    ("model.num_classes=1", "model.num_classes: must be >= 2"),
    ("mep.boundary_thr=1.5", "mep.boundary_thr: must be in [0, 1]"),
    ("mep.marker_source=edges", "mep.marker_source: must be one of boundary, distance, got 'edges'"),
    ("mep.watershed_on=depth", "mep.watershed_on: must be one of boundary, image"),
    ("mep.score_rule=sam", "mep.score_rule: must be one of evidence, area"),
    ("mep.watershed_levels=65535", "mep.watershed_levels: must be in 1..65534"),
    ("mep.watershed_levels=0", "mep.watershed_levels: must be in 1..65534"),
    ("train.seed=abc", "train.seed: expected an integer"),
]


@pytest.mark.parametrize("override,expected", BAD)
def test_bad_values_name_the_key(override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(None, [override])
    assert expected in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("override,expected", BAD[:3])
def test_train_command_refuses_before_making_a_run_folder(tmp_path: Path, override: str, expected: str, capsys) -> None:
    out = tmp_path / "runs"
    assert main(["train", "cpu_lite0", f"train.out_dir={out}", override]) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_presets_and_defaults_validate() -> None:
    from baiseg.config import CONFIGS_DIR

    for p in sorted(CONFIGS_DIR.glob("*.yaml")):
        validate(load_config(p))


def test_stored_configs_and_mep_overrides_are_validated() -> None:
    with pytest.raises(ConfigError, match="train.batch_size"):
        config_from_dict({"train": {"batch_size": 0}})
    with pytest.raises(ConfigError, match="mep.close_px: must be >= 0"):
        mep_with_overrides(None, ["mep.close_px=-1"])
    with pytest.raises(ConfigError, match="mep.sure_fg_px"):
        validate(MEPConfig(sure_fg_px=-2.0))


@pytest.mark.parametrize("seed", ["abc", -1, 1.5, True])
def test_synthetic_seed_must_be_an_integer(tmp_path: Path, seed: object) -> None:
    import yaml

    path = tmp_path / "syn.yaml"
    path.write_text(yaml.safe_dump({"format": "synthetic", "seed": seed, "num_images": 2}))
    with pytest.raises(DataError, match="synthetic: seed must be a non-negative integer"):
        build_dataset(path)


def test_enum_keys_are_refused_in_presets_stored_configs_and_with_mep() -> None:
    import torch
    from torch import nn

    from baiseg.predictor import Predictor

    with pytest.raises(ConfigError, match="mep.score_rule: must be one of evidence, area"):
        config_from_dict({"mep": {"score_rule": "Area"}})
    with pytest.raises(ConfigError, match="mep.marker_source"):
        validate(MEPConfig(marker_source="ridge"))

    class Net(nn.Module):
        input_norm = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"sem_logits": x[:, :2], "boundary_logits": x[:, :1]}

    pred = Predictor(Net(), ["a"])
    with pytest.raises(ConfigError, match="mep.watershed_levels: must be in 1..65534, got 70000"):
        pred.with_mep(watershed_levels=70000)
    with pytest.raises(ConfigError, match="unknown key 'mep.no_such_key'"):
        pred.with_mep(no_such_key=1)
    assert pred.with_mep(watershed_on="image", boundary_thr="0.4").mep.boundary_thr == 0.4  # coerced as overrides
