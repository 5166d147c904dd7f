"""Cases of the fourth campaign, fourth part: ``train --resume`` and concurrent or interrupted runs; ``all_cases``
lists every case of the campaign."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.campaign3 import Case, baiseg
from bench.campaign3_cases import P, both, fresh, has, predict
from bench.campaign4 import RUN
from bench.campaign4_cases import id_cases, value_cases, yaml_cases
from bench.campaign4_cases_b import SCENE, device_cases, image_cases, out_cases, path_cases
from bench.campaign4_cases_c import ckernel_cases, evaluator_cases, results_cases, weights_cases
from bench.campaign4_cases_e import extra_cases


# -------------------------------------------------------------------------------------------------------- resume
def _run_copy(name: str):
    def setup(work: Path) -> None:
        if (work / name).exists():
            shutil.rmtree(work / name)
        shutil.copytree(work / RUN, work / name, symlinks=True)
        for junk in (".lock", ".baiseg_out.json"):
            (work / name / junk).unlink(missing_ok=True)

    return setup


def resume_cases() -> list[Case]:
    def rs(cid, what, extra, expect="error", change=None, timeout=300, hold=None, via=None):
        name = f"rr_{cid}"
        setup = _run_copy(name) if change is None else both(_run_copy(name), lambda w: change(w / name))
        return Case(cid, "resume", what, ["train", "--resume", via or name, *P, *extra], expect, setup,
                    timeout=timeout, hold=(name, "train") if hold else None)  # fmt: skip

    def trunc(d: Path) -> None:
        b = (d / "checkpoint.pt").read_bytes()
        (d / "checkpoint.pt").write_bytes(b[: len(b) // 3])

    def link(d: Path) -> None:
        p = d.parent / f"{d.name}_link"
        p.unlink(missing_ok=True)
        p.symlink_to(d)

    return [
        rs("R01", "--resume with train.iters=1 (fewer than the 2 done)", ["train.iters=1"], "either"),
        Case("R02", "resume", "--resume the checkpoint.pt file instead of the folder",
             ["train", "--resume", f"{RUN}/checkpoint.pt", *P]),
        rs("R03", "--resume a truncated checkpoint.pt", ["train.iters=3"], change=trunc),
        rs("R04", "--resume a run whose run.json is garbage", ["train.iters=3"], "either",
           change=lambda d: (d / "run.json").write_text("{{{")),
        rs("R05", "--resume a run whose config.yaml was deleted", ["train.iters=3"], "either",
           change=lambda d: (d / "config.yaml").unlink()),
        rs("R06", "--resume with train.device=gpu", ["train.device=gpu"]),
        rs("R07", "--resume with train.iters=abc", ["train.iters=abc"]),
        rs("R08", "--resume a run whose metrics.csv is a folder", ["train.iters=3"], change=lambda d: (
            (d / "metrics.csv").unlink(), (d / "metrics.csv").mkdir())),  # fmt: skip
        rs("R09", "--resume through a symlink while another process holds the run (real path)", ["train.iters=3"],
           change=link, hold=True, via="rr_R09_link"),
        rs("R10", "--resume with train.name=other (a run's name)", ["train.iters=3", "train.name=other"], "either"),
        rs("R11", "--resume with loss.ignore_index=1", ["train.iters=3", "loss.ignore_index=1"]),
        rs("R12", "--resume where checkpoint.pt is a symlink loop", [], change=lambda d: (
            (d / "checkpoint.pt").unlink(), (d / "checkpoint.pt").symlink_to(d / "checkpoint.pt"))),  # fmt: skip
    ]


# ---------------------------------------------------------------------------------------------- concurrency, kills
def _pseudo_into_predict(work: Path) -> tuple[int, str]:
    fresh("kc1")(work)
    a = baiseg(work, predict("many", "kc1"), background=True)
    while not (work / "kc1" / ".lock").exists() and a.poll() is None:
        time.sleep(0.2)
    b = baiseg(work, ["pseudo", "--data", "syn_a.yaml", "--method", "cc", "--out", "kc1", *P])
    a.communicate(timeout=600)
    n = len(list((work / "kc1" / "instances").glob("*.png")))
    return (b.returncode if a.returncode == 0 and n > 0 else 0), b.stderr + (
        "" if a.returncode == 0 else f"\nfirst predict failed (exit {a.returncode})")


def _two_exports(work: Path) -> tuple[int, str]:
    fresh("kc2.onnx")(work)
    argv = ["export", "--weights", "w.safetensors", "--out", "kc2.onnx", "--no-check"]
    a, b = (baiseg(work, argv, background=True) for _ in range(2))
    ra, rb = a.communicate(timeout=600), b.communicate(timeout=600)
    try:
        from baiseg.onnx_backend import load_onnx

        load_onnx(work / "kc2.onnx")
    except Exception as e:  # noqa: BLE001 - a broken file is the fault this case looks for
        return 0, f"the ONNX file does not load after two concurrent exports: {e}"
    rcs = sorted((a.returncode, b.returncode))
    return rcs[-1], ra[1] + rb[1]


def _big_images(work: Path) -> None:
    """big: 60 images of 512 x 640 (a predict of a few seconds per image batch, long enough to be interrupted)."""
    from PIL import Image

    d = work / "big"
    if d.is_dir() and len(list(d.glob("*.png"))) == 60:
        return
    d.mkdir(exist_ok=True)
    for i in range(60):
        Image.fromarray(np.kron(np.roll(SCENE, i, axis=1), np.ones((8, 8, 1), np.uint8))).save(d / f"b{i:02d}.png")


def _sigint_and_rerun(work: Path) -> tuple[int, str]:
    fresh("kc3")(work)
    _big_images(work)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    a = subprocess.Popen([sys.executable, "-m", "baiseg", *predict("big", "kc3")], cwd=work, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # SIGINT as in a terminal (a job started
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # with & ignores it)
    while not (work / "kc3" / "instances").is_dir() or len(list((work / "kc3" / "instances").glob("*.png"))) < 3:
        if a.poll() is not None:
            break
        time.sleep(0.2)
    a.send_signal(signal.SIGINT)
    _, err = a.communicate(timeout=120)
    if a.returncode != 130:
        return 1, err + f"\nCtrl-C: exit {a.returncode}, not 130"
    r = baiseg(work, predict("big", "kc3", "--overwrite"), timeout=900)
    return r.returncode, r.stderr


def _pseudo_kill_other_chunk(work: Path) -> tuple[int, str]:
    fresh("kc4", "kc4_ref")(work)
    argv = ["pseudo", "--data", "syn_a.yaml", "--method", "cc", "--chunk", "1", "--out", "kc4", *P]
    a = baiseg(work, argv, background=True)
    while not list((work / "kc4" / "chunks").glob("*.json")) and a.poll() is None:
        time.sleep(0.1)
    a.send_signal(signal.SIGKILL)
    a.wait()
    r = baiseg(work, [*argv[:6], "2", *argv[7:]])
    ref = baiseg(work, [*argv[:5], "--out", "kc4_ref", *P])
    if r.returncode == 0 and ref.returncode == 0:
        got, want = ((work / x / "results.json").read_text() for x in ("kc4", "kc4_ref"))
        if got != want:
            return 0, r.stderr + "\nresults.json differs from an uninterrupted run"
    return r.returncode, r.stderr


def _two_trainings(work: Path) -> tuple[int, str]:
    argv = ["train", "cpu_lite0", "data.train=syn_a.yaml", "data.val=syn_b.yaml", "model.num_classes=3",
            "model.pretrained=false", "train.out_dir=kc5", "train.name=same", "train.iters=1", "train.batch_size=2",
            "data.crop_size=64", "train.val_every=1000", "train.val_images=0", *P]  # fmt: skip
    fresh("kc5")(work)
    a, b = (baiseg(work, argv, background=True) for _ in range(2))
    ra, rb = a.communicate(timeout=900), b.communicate(timeout=900)
    runs = sorted(p.name for p in (work / "kc5").iterdir()) if (work / "kc5").is_dir() else []
    if a.returncode == 0 and b.returncode == 0 and len(runs) != 2:
        return 0, f"two trainings, run folders {runs}"
    return max(a.returncode, b.returncode), ra[1] + rb[1]


def concurrency_cases() -> list[Case]:
    return [
        Case("K01", "concurrency", "pseudo --out a folder another predict is writing", run=_pseudo_into_predict,
             argv=["pseudo ... --out (a predict's folder, concurrent)"]),
        Case("K02", "concurrency", "two exports to one .onnx at the same time", expect="ok", run=_two_exports,
             argv=["export ... x2 (concurrent)"]),
        Case("K03", "concurrency", "predict (60 images) interrupted by Ctrl-C after 3, rerun with --overwrite",
             expect="ok", run=_sigint_and_rerun, check=has("kc3", None), argv=["predict ... (SIGINT, rerun)"],
             timeout=900),  # fmt: skip
        Case("K04", "concurrency", "pseudo SIGKILLed after its first chunk, rerun with another --chunk",
             expect="either", run=_pseudo_kill_other_chunk, argv=["pseudo --chunk 1 (killed), --chunk 2"]),
        Case("K05", "concurrency", "two trainings with one train.name started at once", expect="ok",
             run=_two_trainings, argv=["train ... x2 (concurrent)"], timeout=900),
    ]


def all_cases() -> list[Case]:
    return [*id_cases(), *yaml_cases(), *value_cases(), *device_cases(), *path_cases(), *out_cases(),
            *image_cases(), *evaluator_cases(), *results_cases(), *weights_cases(), *ckernel_cases(),
            *resume_cases(), *concurrency_cases(), *extra_cases()]  # fmt: skip
