"""The paper's size tables: IABM parameters and MACs at 416x416 (Tables 4-5) and the HRNet-W48 backbone (Table 6).

Counted on the meta device by ``torch.utils.flop_counter`` over a real forward: no weights, about a second each.
"""

from __future__ import annotations

import json

import pytest

from baiseg.cli import main
from baiseg.config import load_config
from baiseg.models import resolve_preset
from baiseg.models.complexity import model_complexity

# (R, dim): (params in millions, GMACs at 416x416) from the paper (Tables 4-5; docs/MODEL.md).
PAPER_IABM = {(1, 128): (0.39, 73.3), (2, 128): (0.88, 158.6), (4, 32): (0.13, 23.9), (4, 64): (0.48, 86.7),
              (4, 128): (1.87, 329.4), (4, 256): (7.37, 1282.5)}


@pytest.fixture(scope="module")
def paper_cfg(repo_root):
    return load_config(repo_root / "baiseg" / "configs" / "voc_hrnet48.yaml")


@pytest.mark.parametrize("r_dim", sorted(PAPER_IABM))
def test_iabm_matches_tables_4_and_5(paper_cfg, r_dim):
    r, dim = r_dim
    paper_cfg.model.iabm_r, paper_cfg.model.iabm_dim = r, dim
    iabm = model_complexity(paper_cfg.model, 416)["iabm"]
    params_m, gmacs = PAPER_IABM[r_dim]
    assert iabm["params"] / 1e6 == pytest.approx(params_m, rel=0.10)
    assert iabm["macs"] / 1e9 == pytest.approx(gmacs, rel=0.10)


def test_hrnet_w48_backbone_matches_table_6(paper_cfg):
    assert model_complexity(paper_cfg.model, 64)["backbone"]["params"] / 1e6 == pytest.approx(65.6, rel=0.05)


def test_macs_scale_with_pixels(paper_cfg):
    small, big = model_complexity(paper_cfg.model, 64), model_complexity(paper_cfg.model, 128)
    assert big["iabm"]["macs"] == pytest.approx(4 * small["iabm"]["macs"], rel=0.01)
    assert big["iabm"]["params"] == small["iabm"]["params"]


def test_info_json(capsys):
    assert main(["info", "baiseg/configs/voc_hrnet48.yaml", "--json", "--size", "64"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["size"] == 64
    comps = out["components"]
    assert set(comps) >= {"backbone", "semantic_head", "iabm", "total"}
    parts = sum(comps[k]["params"] for k in comps if k != "total")
    assert parts == comps["total"]["params"]
    assert all(c["macs"] > 0 for c in comps.values())


def test_info_preset_name_and_override(capsys):
    assert main(["info", "cpu_lite0", "model.iabm_dim=16", "--size", "64"]) == 0
    text = capsys.readouterr().out
    assert "dim=16" in text and "iabm" in text


def test_resolve_preset(repo_root):
    assert resolve_preset("cpu_lite0") == repo_root / "baiseg" / "configs" / "cpu_lite0.yaml"
    assert resolve_preset("baiseg/configs/voc_resnet50.yaml").name == "voc_resnet50.yaml"
    assert main(["info", "no_such_preset"]) == 2


@pytest.mark.parametrize("preset", ["voc_hrnet48", "coco_hrnet48", "voc_resnet50", "cpu_lite0"])
def test_presets_count(preset):
    cfg = load_config(resolve_preset(preset))
    comps = model_complexity(cfg.model, 64)
    assert comps["total"]["params"] > 1e6
