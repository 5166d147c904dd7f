"""The cases of the third bad-input campaign (``bench/campaign3.py``): none of them is in docs/HARDENING.md's tables.

Kinds of fault: ``out`` (output folders: files, long names, locks, other runs), ``yaml``, ``device``, ``image``
(the decoder), ``results`` (results JSON), ``coco`` (COCO dataset JSON), ``weights`` (safetensors / ONNX metadata,
paths), ``value`` (numbers and options), ``path`` (input paths), ``kill`` (concurrency and kills).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from bench.campaign3 import Case, baiseg

P = ["--no-progress"]
LONG = "n" * 300


def wr(rel: str, data: str | bytes):
    """A setup writing ``data`` to ``rel`` in the work folder."""

    def setup(work: Path) -> None:
        p = work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data) if isinstance(data, bytes) else p.write_text(data)

    return setup


def fresh(*rels: str):
    """A setup removing earlier outputs."""

    def setup(work: Path) -> None:
        for rel in rels:
            p = work / rel
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()

    return setup


def both(*setups):
    def setup(work: Path) -> None:
        for s in setups:
            s(work)

    return setup


def _digest(folder: Path) -> str:
    h = hashlib.sha1()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != ".lock":
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


_SNAP: dict[str, str] = {}


def snap(rel: str):
    """A setup remembering the content of a folder or file; ``kept(rel)`` checks it afterwards."""

    def setup(work: Path) -> None:
        p = work / rel
        _SNAP[rel] = _digest(p) if p.is_dir() else hashlib.sha1(p.read_bytes()).hexdigest()

    return setup


def kept(rel: str):
    def check(work: Path, rc: int) -> str | None:
        p = work / rel
        now = _digest(p) if p.is_dir() else hashlib.sha1(p.read_bytes()).hexdigest() if p.exists() else "gone"
        return None if now == _SNAP.get(rel) else f"'{rel}' changed or was lost"

    return check


def has(rel: str, n_png: int | None = None):
    """Output check of an accepted run: ``rel/results.json`` exists (and ``n_png`` instance PNGs)."""

    def check(work: Path, rc: int) -> str | None:
        if rc != 0:
            return None
        if not (work / rel / "results.json").is_file():
            return f"exit 0 without {rel}/results.json"
        if n_png is not None and len(list((work / rel / "instances").glob("*.png"))) != n_png:
            return f"{rel}/instances holds {len(list((work / rel / 'instances').glob('*.png')))} PNGs, not {n_png}"
        return None

    return check


def _one_class_copy(work: Path) -> None:
    """pred1: a copy of the predict run pred0 whose results are all of the dataset's one class."""
    shutil.copytree(work / "pred0", work / "pred1")
    rows = json.loads((work / "pred1" / "results.json").read_text())
    # an input, not a result (of the cases that read it)
    (work / "pred1" / "results.json").write_text(json.dumps([{**r, "category_id": 1} for r in rows]))


def predict(inp: str, out: str, *extra: str) -> list[str]:
    return ["predict", "--weights", "w.safetensors", "--input", inp, "--out", out, *P, *extra]


def _tif(rel: str, arr: np.ndarray, **kw):
    def setup(work: Path) -> None:
        import tifffile

        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(work / rel, arr, **kw)

    return setup


def _pil(rel: str, arr: np.ndarray, mode: str | None = None, **kw):
    def setup(work: Path) -> None:
        from PIL import Image

        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (Image.fromarray(arr).convert(mode) if mode else Image.fromarray(arr)).save(work / rel, **kw)

    return setup


def _cv2(rel: str, arr: np.ndarray):
    def setup(work: Path) -> None:
        import cv2

        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(work / rel), arr)

    return setup


def img_case(cid: str, what: str, setup, name: str, expect: str = "either") -> Case:
    out = f"out_{cid}"
    return Case(cid, "image", what, predict(f"img/{name}", out, "--on-error", "stop"), expect,
                both(fresh(out, "img"), setup), has(out))  # fmt: skip


# ------------------------------------------------------------------------------------------------- output folders
def out_cases() -> list[Case]:
    cases = [
        Case("O01", "out", "predict --out: a component of 300 bytes", predict("ds/good.yaml", f"o/{LONG}")),
        Case("O02", "out", "predict --out: a path of 5000 bytes (25 components of 200)",
             predict("ds/good.yaml", "/".join(["p" * 200] * 25))),
        Case("O03", "out", "predict --out below an existing file", predict("ds/good.yaml", "w.safetensors/o")),
        Case("O04", "out", "predict --out ''", predict("ds/good.yaml", "")),
        Case("O05", "out", "predict --out a broken symlink", predict("ds/good.yaml", "o5"),
             setup=both(fresh("o5"), lambda w: os.symlink(w / "nowhere", w / "o5"))),
        Case("O06", "out", "predict --out a symlink to an empty folder", predict("ds/good.yaml", "o6"), "ok",
             both(fresh("o6", "o6t"), lambda w: (w / "o6t").mkdir(), lambda w: os.symlink(w / "o6t", w / "o6")),
             has("o6t", 4)),
        Case("O07", "out", "predict --out in /proc (not writable)", predict("ds/good.yaml", "/proc/baiseg_o7")),
        Case("O08", "out", "predict --overwrite into a folder another predict holds (lock)",
             predict("ds/good.yaml", "pred0", "--overwrite"), setup=snap("pred0"), check=kept("pred0"),
             hold=("pred0", "predict")),
        Case("O09", "out", "predict into a folder another process holds", predict("ds/good.yaml", "o9"),
             setup=fresh("o9"), hold=("o9", "predict")),
        Case("O10", "out", "predict into a folder with a stale lock of a dead process", predict("ds/good.yaml", "o10"),
             "ok", both(fresh("o10"), wr("o10/.lock", "999999 baiseg predict\n")), has("o10", 4)),
        Case("O11", "out", "pseudo --out a folder another process holds",
             ["pseudo", "--data", "syn_a.yaml", "--method", "cc", "--out", "o11", *P], setup=fresh("o11"),
             hold=("o11", "pseudo")),
        Case("O12", "out", "evaluate --out a folder another process holds",
             ["evaluate", "--data", "syn_a.yaml", "--method", "cc", "--out", "o12"], setup=fresh("o12"),
             hold=("o12", "evaluate")),
        Case("O13", "out", "sweep --out a folder another process holds",
             ["sweep", "cpu_lite0", "--grid", "train.iters=1", "--out", "o13", *P], setup=fresh("o13"),
             hold=("o13", "sweep")),
        Case("O14", "out", "demo --out a folder another process holds", ["demo", "--out", "o14", "--iters", "1", *P],
             setup=fresh("o14"), hold=("o14", "demo")),
        Case("O15", "out", "data show --out a folder another process holds",
             ["data", "show", "ds/good.yaml", "--out", "o15"], setup=fresh("o15"), hold=("o15", "data show")),
        Case("O16", "out", "evaluate --predictions with --out an existing file",
             ["evaluate", "--data", "ds/good.yaml", "--predictions", "pred0/results.json", "--out", "ds/good.yaml"],
             setup=snap("ds/good.yaml"), check=kept("ds/good.yaml")),
        Case("O17", "out", "sweep --out: a 300-byte name", ["sweep", "cpu_lite0", "--grid", "train.iters=1", "--out",
                                                           LONG, *P]),  # fmt: skip
        Case("O18", "out", "demo --out below a file", ["demo", "--out", "syn_a.yaml/demo", *P]),
        Case("O19", "out", "train: train.out_dir below a file", ["train", "cpu_lite0", "train.out_dir=syn_a.yaml/r",
                                                               "data.train=syn_a.yaml", *P]),  # fmt: skip
        Case("O20", "out", "train: train.name of 300 bytes", ["train", "cpu_lite0", f"train.name={LONG}",
                                                             "data.train=syn_a.yaml", "train.out_dir=o20", *P]),
        Case("O21", "out", "export --out: a 300-byte file name", ["export", "--weights", "w.safetensors", "--out",
                                                                 f"{LONG}.onnx"]),  # fmt: skip
        Case("O22", "out", "data show --out: a 300-byte name", ["data", "show", "ds/good.yaml", "--out", LONG]),
        Case("O23", "out", "pseudo --out below a file", ["pseudo", "--data", "syn_a.yaml", "--method", "cc", "--out",
                                                        "syn_a.yaml/p", *P]),  # fmt: skip
        Case("O24", "out", "evaluate --out: a 300-byte name (before the run)",
             ["evaluate", "--data", "syn_a.yaml", "--method", "cc", "--out", LONG]),
    ]
    pa = ["pseudo", "--data", "syn_a.yaml", "--method", "cc", "--out", "pp", *P]
    cases += [
        Case("O25", "out", "pseudo rerun into the same --out with another --data",
             ["pseudo", "--data", "syn_b.yaml", "--method", "cc", "--out", "pp", *P],
             setup=both(fresh("pp"), lambda w: baiseg(w, pa), snap("pp")), check=kept("pp")),
        Case("O26", "out", "pseudo rerun with another --split", [*pa, "--split", "val"], setup=snap("pp"),
             check=kept("pp")),
        Case("O27", "out", "pseudo rerun with another --method", [*pa[:4], "dtws", *pa[5:]], setup=snap("pp"),
             check=kept("pp")),
        Case("O28", "out", "pseudo rerun with another semantic source (--semantic model)",
             [*pa, "--semantic", "model", "--weights", "w.safetensors"], setup=snap("pp"), check=kept("pp")),
        Case("O29", "out", "pseudo rerun with the same inputs continues (nothing lost)", pa, "ok",
             snap("pp/pseudo.json"),
             kept("pp/pseudo.json")),
        Case("O30", "out", "pseudo into a predict run's folder (would replace its results.json)",
             ["pseudo", "--data", "ds/good.yaml", "--method", "cc", "--out", "pred0", *P], setup=snap("pred0"),
             check=kept("pred0")),
        Case("O31", "out", "evaluate --weights into a predict run's folder (would replace its results.json)",
             ["evaluate", "--data", "ds/good.yaml", "--weights", "w.safetensors", "--semantic", "gt", "--out",
              "pred0"], setup=snap("pred0/results.json"), check=kept("pred0/results.json")),
        Case("O32", "out", "evaluate --predictions writing metrics.json beside the predict run's results",
             ["evaluate", "--data", "ds/good.yaml", "--predictions", "pred1/results.json", "--out", "pred1"], "ok",
             both(fresh("pred1"), _one_class_copy, snap("pred1/results.json")), kept("pred1/results.json")),
        Case("O33", "out", "demo into a pseudo folder", ["demo", "--out", "pp", "--iters", "1", *P],
             setup=snap("pp"), check=kept("pp")),
    ]
    return cases


# ------------------------------------------------------------------------------------------------------------- YAML
def yaml_cases() -> list[Case]:
    cfg = "train:\n  iters: 5\n"
    return [
        Case("Y01", "yaml", "config file in UTF-16", ["config", "c16.yaml"],
             setup=wr("c16.yaml", cfg.encode("utf-16"))),
        Case("Y02", "yaml", "config indented with a tab", ["config", "ctab.yaml"],
             setup=wr("ctab.yaml", "train:\n\titers: 5\n")),
        Case("Y03", "yaml", "config nested 3000 levels deep", ["config", "cdeep.yaml"],
             setup=wr("cdeep.yaml", "a: " + "[" * 3000 + "]" * 3000 + "\n")),
        Case("Y04", "yaml", "config with 40 harmless aliases", ["config", "calias.yaml"],
             setup=wr("calias.yaml", "x: &a 1\nl: [" + ", ".join(["*a"] * 40) + "]\n")),
        Case("Y05", "yaml", "dataset YAML with 'format' twice", ["data", "check", "dd.yaml"],
             setup=wr("dd.yaml", "format: synthetic\nformat: coco\n")),
        Case("Y06", "yaml", "dataset YAML in Latin-1 (class name caf\\xe9)", ["data", "check", "dl.yaml"],
             setup=wr("dl.yaml", "format: instance_png\nroot: ds\nimages: images\nmasks: masks\nclasses: [caf\xe9]\n"
                      .encode("latin-1"))),
        Case("Y07", "yaml", "sweep rows file naming a row twice", ["sweep", "cpu_lite0", "--rows", "rows2.yaml",
                                                                  "--out",
                                                                  "y07", *P],
             setup=both(fresh("y07"), wr("rows2.yaml", "a:\n  - train.iters=1\na:\n  - train.iters=2\n"))),
        Case("Y08", "yaml", "sweep rows file with a byte 0xff", ["sweep", "cpu_lite0", "--rows", "rowsb.yaml", "--out",
                                                                "y08", *P],
             setup=both(fresh("y08"), wr("rowsb.yaml", b"a:\n  - train.iters=1 \xff\n"))),
        Case("Y09", "yaml", "override value that is an alias bomb", ["config", "cpu_lite0",
                                                                    "train.iters=&a [*a, *a, *a]"]),  # fmt: skip
        Case("Y10", "yaml", "override train.lr=.nan", ["config", "cpu_lite0", "train.lr=.nan"]),
        Case("Y11", "yaml", "override train.lr=.inf", ["config", "cpu_lite0", "train.lr=.inf"]),
        Case("Y12", "yaml", "override train.iters=1e400", ["config", "cpu_lite0", "train.iters=1e400"]),
        Case("Y13", "yaml", "override train.iters of 30 digits", ["config", "cpu_lite0", "train.iters=" + "9" * 30]),
        Case("Y14", "yaml", "override with an empty key part", ["config", "cpu_lite0", "train..iters=5"]),
        Case("Y15", "yaml", "override with no key (=5)", ["config", "cpu_lite0", "=5"]),
        Case("Y16", "yaml", "override mep.boundary_thr=[0.5]", ["config", "cpu_lite0", "mep.boundary_thr=[0.5]"]),
        Case("Y17", "yaml", "config: an empty file", ["config", "cempty.yaml"], "either", wr("cempty.yaml", "")),
        Case("Y18", "yaml", "config with CRLF line ends and a BOM", ["config", "ccrlf.yaml"], "ok",
             wr("ccrlf.yaml", "\ufefftrain:\r\n  iters: 5\r\n".encode())),
        Case("Y19", "yaml", "config holding two YAML documents", ["config", "c2doc.yaml"],
             setup=wr("c2doc.yaml", "train:\n  iters: 5\n---\ntrain:\n  iters: 6\n")),
        Case("Y20", "yaml", "config with a python tag", ["config", "ctag.yaml"],
             setup=wr("ctag.yaml", "train: !!python/object/apply:os.system ['true']\n")),
        Case("Y21", "yaml", "config with a binary value", ["config", "cbin.yaml"],
             setup=wr("cbin.yaml", "train:\n  iters: !!binary aGVsbG8=\n")),
        Case("Y22", "yaml", "dataset YAML with classes as a mapping", ["data", "check", "dmap.yaml"],
             setup=wr("dmap.yaml", "format: instance_png\nroot: ds\nimages: images\nmasks: masks\nclasses: {a: 1}\n")),
        Case("Y23", "yaml", "dataset YAML with root a list", ["data", "check", "droot.yaml"],
             setup=wr("droot.yaml", "format: instance_png\nroot: [ds]\nimages: images\nmasks: masks\nclasses: [a]\n")),
        Case("Y24", "yaml", "dataset YAML with format a list", ["data", "check", "dfl.yaml"],
             setup=wr("dfl.yaml", "format: [coco]\n")),
        Case("Y25", "yaml", "classes_file with a byte 0xff", ["data", "check", "dcf.yaml"],
             setup=both(wr("ds/cls.txt", b"a0 1 x\xff\n"),
                        wr("dcf.yaml", "format: instance_png\nroot: ds\nimages: images\nmasks: masks\n"
                           "classes: [x, y]\nclasses_file: cls.txt\n"))),
        Case("Y26", "yaml", "config: a merge key of a scalar (<<: 5)", ["config", "cmerge.yaml"],
             setup=wr("cmerge.yaml", "train:\n  <<: 5\n")),
    ]


def device_cases() -> list[Case]:
    return [
        Case("V01", "device", "predict --device CPU (capitals)", predict("ds/good.yaml", "v01", "--device", "CPU"),
             "either", fresh("v01"), has("v01")),
        Case("V02", "device", "predict --device cuda:-1", predict("ds/good.yaml", "v02", "--device", "cuda:-1")),
        Case("V03", "device", "predict --device cuda:abc", predict("ds/good.yaml", "v03", "--device", "cuda:abc")),
        Case("V04", "device", "train.device=' cpu' (a space)", ["config", "cpu_lite0", "train.device= cpu"], "either"),
        Case("V05", "device", "evaluate --device mps", ["evaluate", "--data", "syn_a.yaml", "--weights",
                                                       "w.safetensors", "--device", "mps"]),  # fmt: skip
        Case("V06", "device", "pseudo --device cuda:0 without a GPU",
             ["pseudo", "--data", "syn_a.yaml", "--weights", "w.safetensors", "--device", "cuda:0", "--out", "v06", *P],
             setup=fresh("v06")),
        Case("V07", "device", "sweep --device tpu", ["sweep", "cpu_lite0", "--grid", "train.iters=1", "--device",
                                                    "tpu", "--out", "v07", *P]),  # fmt: skip
        Case("V08", "device", "train.device=cuda:1.5", ["config", "cpu_lite0", "train.device=cuda:1.5"]),
    ]
