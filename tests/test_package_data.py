"""Presets and shipped dataset YAMLs are package data: a non-editable install finds them by name, and the shipped
dataset roots find the shared data folder (``$BAISEG_SHARED_DATA`` or ``shared/data`` above the package / cwd)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import baiseg.data.spec as spec
from baiseg.config import CONFIGS_DIR
from baiseg.errors import DataError

REPO = Path(__file__).resolve().parents[1]


def test_shared_data_dir_rules(tmp_path, monkeypatch):
    monkeypatch.setenv("BAISEG_SHARED_DATA", str(tmp_path / "env"))
    assert spec.shared_data_dir() == tmp_path / "env"
    assert spec.expand_vars("${BAISEG_SHARED_DATA}/x") == f"{tmp_path / 'env'}/x"
    monkeypatch.delenv("BAISEG_SHARED_DATA")
    if any((p / "shared" / "data").is_dir() for p in tmp_path.parents):  # e.g. a checkout at /tmp/main, /tmp/shared
        pytest.skip("a shared/data folder lies above the temporary folder: the search order cannot be tested here")
    # a package installed where no shared/data lies above it: the working directory's parents are searched next
    monkeypatch.setattr(spec, "__file__", str(tmp_path / "site" / "baiseg" / "data" / "spec.py"))
    (tmp_path / "work" / "shared" / "data").mkdir(parents=True)
    (tmp_path / "work" / "repo" / "sub").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work" / "repo" / "sub")
    assert spec.shared_data_dir() == (tmp_path / "work" / "shared" / "data").resolve()
    assert spec.expand_vars("${BAISEG_SHARED_DATA:-rel}/x") == "rel/x"  # an explicit default is kept
    (tmp_path / "site").mkdir()
    monkeypatch.chdir(tmp_path / "site")  # neither: one line naming the variable to set
    if spec.shared_data_dir() is None:
        with pytest.raises(DataError, match="set BAISEG_SHARED_DATA"):
            spec.expand_vars("${BAISEG_SHARED_DATA}/PennFudanPed")


def test_shipped_dataset_roots_use_the_shared_data_rule():
    for y in sorted((CONFIGS_DIR / "datasets").glob("*.yaml")):
        root = next(line for line in y.read_text().splitlines() if line.startswith("root:"))
        assert root.startswith("root: ${BAISEG_SHARED_DATA}/"), y


_PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import baiseg
    from baiseg.config import CONFIGS_DIR, find_named_yaml, load_config, resolve_preset
    from baiseg.data.spec import DATASETS_DIR, load_spec
    out = {"package": baiseg.__file__, "preset": str(resolve_preset("cpu_lite0")),
           "dataset": str(find_named_yaml("pennfudan_val", DATASETS_DIR)[0]),
           "files": sorted(str(p.relative_to(CONFIGS_DIR)) for p in CONFIGS_DIR.rglob("*") if p.is_file())}
    load_config(resolve_preset("maskrcnn_lite0"))
    if len(sys.argv) > 1:
        spec = load_spec("pennfudan_val")
        out["root"] = str(spec.root)
    print(json.dumps(out))
    """
)


def test_non_editable_install_ships_presets_and_datasets(tmp_path, shared_data):
    src, site = tmp_path / "src", tmp_path / "site"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "baiseg", src / "baiseg", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q",
           "--target", str(site), str(src)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("BAISEG_SHARED_DATA", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    probe = [sys.executable, "-P", "-c", _PROBE]
    # run from the work folder (the one holding shared/data), BAISEG_SHARED_DATA unset
    r = subprocess.run([*probe, "root"], capture_output=True, text=True, cwd=shared_data.parent.parent, env=env,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    pkg = site / "baiseg"
    assert Path(out["package"]).parent == pkg
    assert Path(out["preset"]) == pkg / "configs" / "cpu_lite0.yaml"
    assert Path(out["dataset"]) == pkg / "configs" / "datasets" / "pennfudan_val.yaml"
    shipped = sorted(str(p.relative_to(CONFIGS_DIR)) for p in CONFIGS_DIR.rglob("*") if p.is_file())
    assert out["files"] == shipped and "datasets/pennfudan_val.txt" in shipped and "ablations/table3.yaml" in shipped
    # the rule's first hit: a shared/data above the installed package (e.g. a /tmp/shared left beside a checkout
    # in /tmp) wins over the working directory's, which is the shared data folder here
    above_pkg = next((f / "shared" / "data" for f in pkg.resolve().parents if (f / "shared" / "data").is_dir()), None)
    expected = (above_pkg or shared_data) / "PennFudanPed"
    assert Path(out["root"]).resolve() == expected.resolve()
    # the documented CLI on a shipped dataset by name, from the installed package
    r = subprocess.run([sys.executable, "-P", "-m", "baiseg", "data", "check", "pennfudan_val", "--json"],
                       capture_output=True, text=True, cwd=shared_data.parent.parent, env=env, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["images"] == 50
