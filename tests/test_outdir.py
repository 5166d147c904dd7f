"""The output-folder gate (baiseg/outdir.py) and every command that passes it (issue 21)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from baiseg import outdir
from baiseg.cli import main
from baiseg.config import MEPConfig
from baiseg.errors import BaisegError
from baiseg.predictor import Predictor

LONG = "x" * 300  # one path component over NAME_MAX (255 bytes)
HOLDER = """
import sys, time
from baiseg import outdir
outdir.claim(sys.argv[1], "predict")
print("ready", flush=True)
time.sleep(120)
"""


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.fixture(autouse=True)
def _released():
    yield
    outdir.release_all()


@pytest.fixture
def holder(tmp_path):
    """A second process that holds a folder's lock (``start(folder)``); killed at the end of the test."""
    procs = []

    def start(folder: Path) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "ready"
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_check_path_refuses_each_kind_of_bad_path(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    cases = [(f, "is a file: give a folder"), (tmp_path / LONG, "300 bytes long"), (f / "sub", "is a file"),
             ("", "is empty"), (" ", "is empty"),
             (tmp_path / ("a/" * 2100), "bytes long")]  # fmt: skip
    for path, match in cases:
        with pytest.raises(BaisegError, match=match) as e:
            outdir.check_path(path)
        assert "\n" not in str(e.value) and len(str(e.value)) < 400
    with pytest.raises(BaisegError, match="is a folder"):
        outdir.check_path(tmp_path, folder=False)
    assert not (tmp_path / "new").exists()
    assert outdir.check_path(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # read only


def test_check_path_refuses_a_place_we_cannot_write(tmp_path, monkeypatch):
    monkeypatch.setattr(outdir.os, "access", lambda p, mode: Path(p) != tmp_path)  # (root may write anywhere)
    with pytest.raises(BaisegError, match=f"not writable \\('{tmp_path}' does not let us create files"):
        outdir.check_path(tmp_path / "a" / "b")
    monkeypatch.undo()
    real = outdir.os.statvfs

    class ReadOnly:
        f_flag = real(tmp_path).f_flag | outdir.os.ST_RDONLY

    monkeypatch.setattr(outdir.os, "statvfs", lambda p: ReadOnly())
    with pytest.raises(BaisegError, match="read-only file system"):
        outdir.check_path(tmp_path / "a")


def test_claim_locks_records_and_is_reentrant(tmp_path):
    out = outdir.claim(tmp_path / "o", "pseudo", {"data": "a.yaml"})
    assert out.is_dir() and (out / ".lock").read_text().split()[0].isdigit()
    assert json.loads((out / outdir.STAMP_NAME).read_text()) == {"command": "pseudo", "identity": {"data": "a.yaml"}}
    assert outdir.claim(out, "pseudo", {"data": "a.yaml"}) == out  # the same process: re-entrant
    assert not outdir.is_locked(out)  # only another process's lock counts
    outdir.release_all()
    with pytest.raises(BaisegError, match=r"holds another run of 'baiseg pseudo' \(data: 'a.yaml' then, 'b.yaml' now"):
        outdir.claim(out, "pseudo", {"data": "b.yaml"})
    with pytest.raises(BaisegError, match="holds the outputs of 'baiseg pseudo', not of 'baiseg demo'"):
        outdir.claim(out, "demo")
    assert outdir.claim(out, "evaluate", beside=True) == out  # metrics.json beside: accepted, stamp kept
    assert json.loads((out / outdir.STAMP_NAME).read_text())["command"] == "pseudo"


def test_a_folder_in_use_is_refused_and_a_dead_holder_is_taken_over(tmp_path, holder):
    out = tmp_path / "o"
    proc = holder(out)
    with pytest.raises(BaisegError, match=rf"in use by another baiseg process \(pid {proc.pid}: baiseg predict"):
        outdir.claim(out, "predict")
    assert outdir.is_locked(out)
    with pytest.raises(BaisegError, match="in use"):
        outdir.refuse_if_locked(out)
    proc.kill()
    proc.wait()
    assert not outdir.is_locked(out)  # the lock file stays, the dead process's lock is gone
    assert outdir.claim(out, "predict") == out
    assert (out / ".lock").read_text().startswith(f"{__import__('os').getpid()} ")


@pytest.fixture
def stand_in(monkeypatch, edge_net):
    monkeypatch.setattr(Predictor, "from_pretrained",
                        classmethod(lambda cls, w, **kw: cls(edge_net(), ["thing"], [5],
                                                             mep=MEPConfig(min_area_px=50), **kw)))  # fmt: skip


def _images(folder: Path, n: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    img = np.zeros((60, 80, 3), np.uint8)
    img[10:50, 10:40], img[10:50, 40:70] = 120, 220
    for i in range(n):
        Image.fromarray(img).save(folder / f"{i}.png")
    return folder


def _predict(inp: Path, out: Path, *extra: str) -> int:
    return main(["predict", "--weights", "w.safetensors", "--input", str(inp), "--out", str(out), "--workers", "0",
                 "--mep-workers", "0", "--no-progress", *extra])  # fmt: skip


def test_predict_overwrite_into_a_folder_another_predict_writes_is_refused(tmp_path, stand_in, holder, capsys):
    inp = _images(tmp_path / "in")
    out = tmp_path / "o"
    assert _predict(inp, out) == 0
    capsys.readouterr()
    before = sorted(p.relative_to(out) for p in out.rglob("*") if p.name != ".lock")
    proc = holder(out)
    assert _predict(inp, out, "--overwrite") == 2
    assert f"pid {proc.pid}" in _one_line(capsys)
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.name != ".lock") == before  # nothing deleted
    proc.kill()
    proc.wait()
    assert _predict(inp, out, "--overwrite") == 0


def test_predict_out_paths_refused_before_anything_is_created(tmp_path, stand_in, capsys):
    inp = _images(tmp_path / "in", 1)
    assert _predict(inp, tmp_path / LONG) == 2
    assert "300 bytes long" in _one_line(capsys)
    assert _predict(inp, tmp_path / "in" / "0.png" / "o") == 2
    assert "is a file" in _one_line(capsys)


def _syn(tmp_path: Path, name: str, seed: int) -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(f"format: synthetic\nnum_images: 2\nsize: 64\nnum_classes: 2\nseed: {seed}\n")
    return spec


def test_pseudo_rerun_with_other_data_or_method_is_refused(tmp_path, capsys):
    a, b = _syn(tmp_path, "a", 1), _syn(tmp_path, "b", 2)
    out = tmp_path / "p"

    def pseudo(data: Path, method: str = "cc") -> int:
        return main(["pseudo", "--data", str(data), "--method", method, "--semantic", "gt", "--out", str(out),
                     "--no-progress"])  # fmt: skip

    assert pseudo(a) == 0
    capsys.readouterr()
    labels = (out / "pseudo.json").read_bytes()
    assert pseudo(b) == 2
    assert "holds another run of 'baiseg pseudo'" in _one_line(capsys)
    assert pseudo(a, "dtws") == 2
    assert "method: 'cc' then, 'dtws' now" in _one_line(capsys)
    assert (out / "pseudo.json").read_bytes() == labels
    assert pseudo(a) == 0  # the same run again: continues (nothing to do)


@pytest.mark.parametrize("argv", [
    ["evaluate", "--data", "{syn}", "--method", "cc", "--out", "{out}"],
    ["sweep", "cpu_lite0", "--grid", "train.iters=1", "--out", "{out}"],
    ["demo", "--out", "{out}"],
    ["train", "cpu_lite0", "train.out_dir={out}"],
    ["data", "show", "{syn}", "--out", "{out}"],
    ["pseudo", "--data", "{syn}", "--method", "cc", "--out", "{out}"],
    ["export", "--weights", "w.safetensors", "--out", "{out}.onnx"],
])  # fmt: skip
def test_every_command_refuses_a_bad_out_in_one_line(tmp_path, capsys, argv):
    syn = _syn(tmp_path, "s", 1)
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for out, match in ((afile, "is a file"), (tmp_path / LONG, "bytes long (at most 255")):
        if argv[0] == "export" and out == afile:
            out = afile / "m"  # a file as the folder of the .onnx
        assert main([a.format(syn=syn, out=out) for a in argv]) == 2
        assert match in _one_line(capsys)
    assert afile.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "s.yaml"]  # nothing created
