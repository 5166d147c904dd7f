"""The --resume gate (baiseg/engine/resume.py): overrides validated and recorded, edited config.yaml and foreign
checkpoints refused, one process per run folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from baiseg.engine.resume import RunLock
from baiseg.errors import BaisegError

sys.path.insert(0, str(Path(__file__).parent))
from test_engine_resume_ddp import RUNNER, _env, _train_cmd  # noqa: E402


def _run(cmd, **kw):
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    for name, extra in (("a", []), ("b", ["model.iabm_dim=16"])):
        r = _run([*_train_cmd(out, 3, name), *extra])
        assert r.returncode == 0, r.stderr[-2000:]
    return out


def _copy(run, tmp_path):
    dst = tmp_path / run.name
    shutil.copytree(run, dst)
    return dst


def _resume(run, *overrides):
    return _run([sys.executable, RUNNER, "--tiny", "train", "--no-progress", "--resume", str(run), *overrides])


def test_resume_overrides_are_validated_like_a_new_run(two_runs, tmp_path):
    run = _copy(two_runs / "a-001", tmp_path)
    before = (run / "metrics.csv").read_text()
    for bad in ("train.accum_steps=0", "train.log_every=0", "train.device=gpu"):
        r = _resume(run, bad)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (bad, r.stderr[-500:])
    assert (run / "metrics.csv").read_text() == before  # nothing touched


def test_resume_records_its_overrides(two_runs, tmp_path):
    run = _copy(two_runs / "a-001", tmp_path)
    r = _resume(run, "train.iters=5")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "iters: 5" in (run / "config.yaml").read_text()
    assert json.loads((run / "run.json").read_text())["resumes"] == [{"iteration": 3, "overrides": ["train.iters=5"]}]


def test_edited_config_yaml_is_refused(two_runs, tmp_path):
    run = _copy(two_runs / "a-001", tmp_path)
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text.replace("lr: 0.001", "lr: 0.5"))
    r = _resume(run)
    assert r.returncode == 2 and "was edited since the last checkpoint" in r.stderr and "train.lr" in r.stderr


def test_foreign_checkpoint_and_identity_overrides_are_refused(two_runs, tmp_path):
    run = _copy(two_runs / "a-001", tmp_path)
    before = (run / "metrics.csv").read_text()
    shutil.copy(two_runs / "b-001" / "checkpoint.pt", run / "checkpoint.pt")  # another architecture's checkpoint
    r = _resume(run)
    assert r.returncode == 2 and "was not written by this run" in r.stderr
    assert (run / "metrics.csv").read_text() == before
    run2 = _copy(two_runs / "a-001", tmp_path / "x")
    r = _resume(run2, "model.iabm_dim=16")
    assert r.returncode == 2 and "start a new run instead" in r.stderr


def test_one_process_per_run_folder(two_runs, tmp_path):
    run = _copy(two_runs / "a-001", tmp_path)
    before = (run / "metrics.csv").read_text()
    with RunLock(run):
        r = _resume(run)
        assert r.returncode == 2 and "in use by another training process" in r.stderr
        with pytest.raises(BaisegError, match="in use"):
            RunLock(run).__enter__()
    assert (run / "metrics.csv").read_text() == before
