"""Subprocess tests: SIGKILL then --resume equals an uninterrupted run; a 2-process gloo DDP run."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from baiseg.engine.checkpoint import load_checkpoint

RUNNER = str(Path(__file__).parent / "engine_runner.py")
REPO = Path(__file__).resolve().parents[2]
ARGS = ["data.train=synthetic", "data.crop_size=64", "data.num_workers=0", "train.batch_size=2", "model.iabm_dim=8",
        "train.log_every=1", "train.ckpt_every=3", "train.device=cpu", "train.deterministic=true", "train.lr=1e-3",
        "train.val_every=100000"]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env.pop("RANK", None), env.pop("WORLD_SIZE", None)
    return env


def _train_cmd(out: Path, iters: int, name: str) -> list[str]:
    cfg = out / "base.yaml"
    cfg.write_text("train:\n  seed: 5\n")
    return [sys.executable, RUNNER, "--tiny", "train", "--no-progress", str(cfg), *ARGS, f"train.iters={iters}",
            f"train.out_dir={out}", f"train.name={name}"]


def _last_logged(metrics: Path) -> int:
    try:
        with open(metrics, newline="") as f:
            rows = list(csv.DictReader(f))
        return int(rows[-1]["iteration"]) if rows else 0
    except (OSError, KeyError, ValueError):
        return 0


def test_kill_and_resume_matches_uninterrupted_run(tmp_path):
    iters = 24
    ref = subprocess.Popen(_train_cmd(tmp_path, iters, "ref"), env=_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    victim = subprocess.Popen(_train_cmd(tmp_path, iters, "victim"), env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    run = tmp_path / "victim-001"
    deadline = time.time() + 60
    while _last_logged(run / "metrics.csv") < 5 and victim.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = load_checkpoint(run / "checkpoint.pt")["iteration"]
    assert 0 < killed_at < iters
    out, err = ref.communicate(timeout=120)
    assert ref.returncode == 0, err.decode()[-2000:]
    resumed = subprocess.run([sys.executable, RUNNER, "--tiny", "train", "--resume", str(run), "--no-progress"],
                             env=_env(), capture_output=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    a = load_checkpoint(tmp_path / "ref-001" / "checkpoint.pt")
    b = load_checkpoint(run / "checkpoint.pt")
    assert a["iteration"] == b["iteration"] == iters
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"]
    wa, wb = load_file(tmp_path / "ref-001" / "last.safetensors"), load_file(run / "last.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    rows = [int(r["iteration"]) for r in csv.DictReader(open(run / "metrics.csv", newline=""))]
    assert rows == list(range(1, iters + 1))  # rows after the checkpoint were dropped and redone
    assert not list(run.glob(".*.tmp"))


def test_resume_command_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    r = subprocess.run([sys.executable, "-m", "baiseg", "train", "--resume", str(tmp_path / "empty")], env=_env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no checkpoint.pt" in r.stderr and "Traceback" not in r.stderr


def test_ddp_two_processes_gloo(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", RUNNER,
           *_train_cmd(tmp_path, 4, "ddp")[2:]]
    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = sorted(tmp_path.glob("ddp-*"))
    assert [p.name for p in runs] == ["ddp-001"]  # only rank 0 created a run directory
    ckpt = load_checkpoint(runs[0] / "checkpoint.pt")
    assert ckpt["iteration"] == 4
    import json

    assert json.loads((runs[0] / "run.json").read_text())["world_size"] == 2
    rows = list(csv.DictReader(open(runs[0] / "metrics.csv", newline="")))
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3, 4]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_signal_available():
    assert signal.SIGKILL
