"""The config system: YAML + overrides, type coercion, unknown keys, dump round trip."""

from __future__ import annotations

import pytest

from baiseg.config import Config, ConfigError, config_from_dict, dump_yaml, load_config, parse_overrides, to_dict


def test_defaults_match_paper():
    cfg = Config()
    assert (cfg.loss.w_contrast, cfg.loss.w_boundary, cfg.loss.w_sem) == (0.3, 50.0, 1.0)
    assert cfg.loss.temperature == 0.2
    assert (cfg.model.iabm_r, cfg.model.iabm_dim) == (4, 128)
    assert cfg.train.lr == 5e-5 and cfg.train.poly_power == 0.9 and cfg.train.batch_size == 16


def test_yaml_then_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model:\n  iabm_dim: 32\ntrain:\n  iters: 10\n")
    cfg = load_config(p, ["model.iabm_dim=64", "train.bf16=false", "data.val=null", "data.contour.width_px=2"])
    assert cfg.model.iabm_dim == 64
    assert cfg.train.iters == 10
    assert cfg.train.bf16 is False
    assert cfg.data.val is None
    assert cfg.data.contour.width_px == 2


@pytest.mark.parametrize("raw,expected", [("true", True), ("False", False), ("yes", True), ("0", False)])
def test_booleans_parse_as_booleans(raw, expected):
    assert load_config(None, [f"model.use_dma={raw}"]).model.use_dma is expected


def test_unknown_key_lists_valid_ones():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["model.iabm_dimm=3"])
    msg = str(e.value)
    assert "model.iabm_dimm" in msg and "model.iabm_dim" in msg and "model.backbone" in msg


def test_unknown_section_and_bad_types(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'modle'"):
        load_config(None, ["modle.x=1"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(None, ["train.iters=ten"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(None, ["train.iters=1.5"])
    with pytest.raises(ConfigError, match="expected a boolean"):
        load_config(None, ["train.bf16=maybe"])
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["train.iters"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    notmap = tmp_path / "list.yaml"
    notmap.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(notmap)


def test_dump_round_trip(tmp_path):
    cfg = load_config(None, ["model.iabm_r=2", "mep.watershed_on=image", "train.seed=7"])
    p = tmp_path / "resolved.yaml"
    p.write_text(dump_yaml(cfg))
    again = load_config(p)
    assert to_dict(again) == to_dict(cfg)
    assert to_dict(config_from_dict(to_dict(cfg))) == to_dict(cfg)


def test_cli_overrides_may_follow_options(monkeypatch):
    from baiseg import cli

    seen = {}

    def fake_run(args):
        seen["overrides"] = list(args.overrides)
        seen["no_progress"] = args.no_progress
        return 0

    parser = cli.build_parser()
    args, extra = parser.parse_known_args(["train", "cpu_lite0", "--no-progress", "train.iters=3"])
    assert extra == ["train.iters=3"]
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser, fake_run))
    assert cli.main(["train", "cpu_lite0", "a.b=1", "--no-progress", "train.iters=3"]) == 0
    assert seen == {"overrides": ["a.b=1", "train.iters=3"], "no_progress": True}
    with pytest.raises(SystemExit):
        cli.main(["train", "cpu_lite0", "--no-such-flag"])


def _with_func(parser, func):
    parser._subparsers._group_actions[0].choices["train"].set_defaults(func=func)
    return parser


def test_mep_with_overrides():
    from baiseg.config import MEPConfig, mep_with_overrides

    base = MEPConfig(min_area_px=5)
    out = mep_with_overrides(base, ["mep.boundary_thr=0.45", "mep.refine=false"])
    assert (out.boundary_thr, out.refine, out.min_area_px) == (0.45, False, 5)
    assert base.refine is True, "the base config must not change"
    with pytest.raises(ConfigError, match="only mep"):
        mep_with_overrides(None, ["train.iters=3"])
    with pytest.raises(ConfigError, match="unknown key 'mep.nope'"):
        mep_with_overrides(None, ["mep.nope=1"])


def test_config_command_prints_resolved_yaml(capsys, tmp_path):
    import yaml

    from baiseg.cli import main

    assert main(["config", "cpu_lite0", "model.iabm_dim=16", "train.bf16=true"]) == 0
    tree = yaml.safe_load(capsys.readouterr().out)
    assert tree["model"]["iabm_dim"] == 16 and tree["train"]["bf16"] is True
    assert tree["model"]["backbone"] == "tf_efficientnet_lite0"
    p = tmp_path / "resolved.yaml"
    p.write_text(yaml.safe_dump(tree))
    assert to_dict(load_config(p)) == tree
    assert main(["config", "no_such_preset"]) == 2
    assert "presets:" in capsys.readouterr().err
