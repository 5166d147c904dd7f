"""Cases of the fifth campaign (``bench/campaign5.py``), part 1: the commands the earlier rounds tried little
(``report``, ``export``, ``sweep``, ``info``, ``data show``, ``demo``, ``pseudo --method sam``) and odd output paths."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from bench.campaign3 import Case, baiseg
from bench.campaign3_cases import P, both, fresh, wr
from bench.campaign4_cases_b import remember, unchanged


def copy_of(src: str, dst: str, edit=None):
    """A setup: ``dst`` a fresh copy of the fixture folder ``src``, then ``edit(folder)``."""

    def setup(work: Path) -> None:
        d = work / dst
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(work / src, d, ignore=shutil.ignore_patterns("report", ".lock"))
        if edit is not None:
            edit(d)

    return setup


def _json_edit(name: str, fn):
    def edit(d: Path) -> None:
        p = d / name
        p.write_text(json.dumps(fn(json.loads(p.read_text()))))  # an input, not a result

    return edit


def _rows_ids(rows: list[dict]) -> list[dict]:
    return [{**r, "image_id": f"zz{i}"} for i, r in enumerate(rows)]


def _rows_nan(rows: list[dict]) -> list[dict]:
    return [{**r, "score": float("nan")} if i == 0 else r for i, r in enumerate(rows)]


def _link_to_file(link: str, target: str):
    def setup(work: Path) -> None:
        (work / target).write_text("keep me\n")
        p = work / link
        if p.is_symlink() or p.exists():
            p.unlink()
        os.symlink(work / target, p)

    return setup


def _target_kept(target: str):
    def check(work: Path, rc: int) -> str | None:
        return None if (work / target).read_text() == "keep me\n" else f"the link's target '{target}' was replaced"

    return check


def _inside(out: str):
    def check(work: Path, rc: int) -> str | None:
        runs = sorted(p.name for p in (work / out / "runs").iterdir()) if (work / out / "runs").is_dir() else []
        return None if rc != 0 or (len(runs) == 1 and not (work / "a").exists()) else f"run folders {runs}"

    return check


def _ro_file(rel: str):
    def setup(work: Path) -> None:
        p = work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.exists():
            p.chmod(0o644)
        p.write_text("old\n")
        p.chmod(0o444)

    return setup


def _sam_refused(out: str):
    def setup(work: Path) -> None:
        baiseg(work, ["pseudo", "--data", "ds/good.yaml", "--method", "sam", "--sam-weights", "no.pt", "--out", out])

    return setup


def report_cases() -> list[Case]:
    r = ["report"]
    return [
        Case("R01", "report", "evaluate folder with a truncated metrics.json", [*r, "r01", *P], "error",
             copy_of("ev0", "r01", lambda d: (d / "metrics.json").write_text((d / "metrics.json").read_text()[:90]))),
        Case("R02", "report", "evaluate folder whose results.json names unknown image ids", [*r, "r02", *P], "error",
             copy_of("ev0", "r02", _json_edit("results.json", _rows_ids))),
        Case("R03", "report", "training run folder without metrics.csv", [*r, "r03", *P], "error",
             copy_of("runs/r0-001", "r03", lambda d: (d / "metrics.csv").unlink())),
        Case("R04", "report", "an evaluate and a predict folder together", [*r, "ev0", "pred0", "--out", "r04", *P]),
        Case("R05", "report", "--out the evaluate folder itself", [*r, "r05", "--out", "r05", *P], "either",
             both(copy_of("ev0", "r05"), remember("r05")), unchanged("r05")),
        Case("R06", "report", "--out an existing file", [*r, "ev0", "--out", "syn_a.yaml", *P]),
        Case("R07", "report", "metrics.json that is a JSON list", [*r, "r07", *P], "error",
             copy_of("ev0", "r07", lambda d: (d / "metrics.json").write_text("[1, 2]"))),
        Case("R08", "report", "evaluate folder whose results.json has a NaN score", [*r, "r08", *P], "error",
             copy_of("ev0", "r08", _json_edit("results.json", _rows_nan))),
        Case("R09", "report", "the same evaluate folder twice", [*r, "ev0", "ev0", "--out", "r09", *P], "either",
             fresh("r09")),
        Case("R10", "report", "training run with an empty metrics.csv", [*r, "r10", *P], "error",
             copy_of("runs/r0-001", "r10", lambda d: (d / "metrics.csv").write_text(""))),
        Case("R11", "report", "training run whose metrics.csv has text in a number column", [*r, "r11", *P], "error",
             copy_of("runs/r0-001", "r11", lambda d: (d / "metrics.csv").write_text("iteration,loss\n1,abc\n"))),
        Case("R12", "report", "predict folder whose predict.json names a missing input", [*r, "r12", *P], "error",
             copy_of("pred0", "r12", _json_edit("predict.json", lambda m: {**m, "input": "nowhere/x.yaml"}))),
        Case("R13", "out", "report --out a symlink to a file", [*r, "ev0", "--out", "r13_link", *P], "error",
             _link_to_file("r13_link", "r13_target.txt"), _target_kept("r13_target.txt")),
        Case("R14", "report", "evaluate folder whose settings name a missing dataset", [*r, "r14", *P], "error",
             copy_of("ev0", "r14", _json_edit("metrics.json", lambda m: {**m, "settings": {**m["settings"],
                                                                                         "data": "gone.yaml"}}))),
        Case("R15", "report", "predict folder with --images a missing folder", [*r, "pred0", "--images", "nowhere",
                                                                              "--out", "r15", *P], "either"),
        Case("R16", "out", "report --out a folder holding a read-only index.html", [*r, "ev0", "--out", "r16", *P],
             "either", _ro_file("r16/index.html")),
        Case("R17", "report", "metrics.json whose settings is a string", [*r, "r17", *P], "error",
             copy_of("ev0", "r17", _json_edit("metrics.json", lambda m: {**m, "settings": "x"}))),
        Case("R18", "report", "evaluate folder whose results.json is an object", [*r, "r18", *P], "error",
             copy_of("ev0", "r18", lambda d: (d / "results.json").write_text('{"a": 1}'))),
        Case("R19", "report", "--images given with an evaluate folder (it reads its own dataset)",
             [*r, "ev0", "--images", "ds", "--out", "r19", *P], "error", fresh("r19")),
    ]  # fmt: skip


def export_cases() -> list[Case]:
    e = ["export", "--weights", "w.safetensors"]
    return [
        Case("X01", "export", "export --out an existing folder", [*e, "--out", "x01dir", "--no-check"], "error",
             lambda w: (w / "x01dir").mkdir(exist_ok=True)),
        Case("X02", "out", "export --out a symlink to a file", [*e, "--out", "x02.onnx", "--no-check"], "either",
             _link_to_file("x02.onnx", "x02_target.txt"), _target_kept("x02_target.txt")),
        Case("X03", "export", "export --int8 --calib-images 0", [*e, "--out", "x03.onnx", "--int8", "--calib-data",
                                                               "ds/good.yaml", "--calib-images", "0"]),
        Case("X04", "export", "export --int8 --calib-images -3", [*e, "--out", "x04.onnx", "--int8", "--calib-data",
                                                                "ds/good.yaml", "--calib-images", "-3"]),
        Case("X05", "export", "export --opset 1", [*e, "--out", "x05.onnx", "--opset", "1"]),
        Case("X06", "export", "export --opset -5", [*e, "--out", "x06.onnx", "--opset", "-5"]),
        Case("X07", "export", "export --weights a truncated safetensors", ["export", "--weights", "x07.safetensors",
                                                                          "--out", "x07.onnx"], "error",
             lambda w: (w / "x07.safetensors").write_bytes((w / "w.safetensors").read_bytes()[:5000])),
        Case("X08", "export", "export --int8 --calib-data a missing dataset", [*e, "--out", "x08.onnx", "--int8",
                                                                              "--calib-data", "nowhere.yaml"]),
        Case("X09", "export", "export --int8 of weights with a NaN tensor", ["export", "--weights", "x09.safetensors",
                                                                            "--out", "x09.onnx", "--int8",
                                                                            "--calib-data", "ds/good.yaml"], "error",
             lambda w: _nan_weights(w, "x09.safetensors")),
        Case("X10", "out", "export --out a read-only existing .onnx", [*e, "--out", "x10/m.onnx", "--no-check"],
             "either", _ro_file("x10/m.onnx")),
    ]  # fmt: skip


def _nan_weights(work: Path, name: str) -> None:
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(work / "w.safetensors"), "np") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    k = next(k for k, v in tensors.items() if v.dtype.kind == "f" and v.size > 8)
    tensors[k] = tensors[k].copy()
    tensors[k].flat[0] = float("nan")
    save_file(tensors, str(work / name), metadata=meta)


def sweep_cases() -> list[Case]:
    t = ["data.train=syn_a.yaml", "data.val=syn_b.yaml", "model.pretrained=false", "train.iters=1",
         "train.batch_size=2", "data.crop_size=64", "train.val_every=1000", "train.val_images=0"]
    s = ["sweep", "cpu_lite0"]
    return [
        Case("S01", "sweep", "rows file whose row is a number", [*s, "--rows", "s01.yaml", "--out", "s01", *t, *P],
             "error", wr("s01.yaml", "rows:\n  a: 5\n")),
        Case("S02", "sweep", "rows file naming an unknown key", [*s, "--rows", "s02.yaml", "--out", "s02", *t, *P],
             "error", wr("s02.yaml", "rows:\n  a: {train.bogus: 1}\n")),
        Case("S03", "sweep", "rows file whose row name is '../a' (run folders are slugs of row names)",
             [*s, "--rows", "s03.yaml", "--out", "s03", *t, *P], "either",
             both(fresh("s03"), wr("s03.yaml", "rows:\n  ../a: {train.iters: 1}\n")), _inside("s03")),
        Case("S04", "sweep", "rows file that is a list", [*s, "--rows", "s04.yaml", "--out", "s04", *t, *P], "error",
             wr("s04.yaml", "- a\n- b\n")),
        Case("S05", "sweep", "rows file with no rows", [*s, "--rows", "s05.yaml", "--out", "s05", *t, *P], "error",
             wr("s05.yaml", "rows: {}\n")),
        Case("S06", "sweep", "--seeds 0,0 (one seed twice)", [*s, "--grid", "train.iters=1", "--seeds", "0,0", "--out",
                                                             "s06", *t, *P]),
        Case("S07", "sweep", "--seeds with a word", [*s, "--grid", "train.iters=1", "--seeds", "0,x", "--out", "s07",
                                                    *t, *P]),
        Case("S08", "sweep", "--limit -1", [*s, "--grid", "train.iters=1", "--limit", "-1", "--out", "s08", *t, *P]),
        Case("S09", "sweep", "--size 0", [*s, "--grid", "train.iters=1", "--size", "0", "--out", "s09", *t, *P]),
        Case("S10", "sweep", "--baselines xyz", [*s, "--grid", "train.iters=1", "--baselines", "xyz", "--out", "s10",
                                                *t, *P]),
        Case("S11", "sweep", "--reuse a training run folder", [*s, "--reuse", "runs", "--grid", "train.iters=1",
                                                              "--out", "s11", *t, *P], "error"),
        Case("S12", "sweep", "--grid with one value twice", [*s, "--grid", "train.iters=1,1", "--out", "s12", *t, *P]),
        Case("S13", "sweep", "rows file: a row with the key mep.nonsense", [*s, "--rows", "s13.yaml", "--out", "s13",
                                                                           *t, *P], "error",
             wr("s13.yaml", "rows:\n  a: {mep.nonsense: 1}\n")),
    ]  # fmt: skip


def info_demo_cases() -> list[Case]:
    d = ["demo", "--iters", "1", "--train-images", "2", "--val-images", "2", "--size", "64", "--sheets", "1", *P]
    return [
        Case("I01", "info", "info --size 0", ["info", "cpu_lite0", "--size", "0"]),
        Case("I02", "info", "info --size -32", ["info", "cpu_lite0", "--size", "-32"]),
        Case("I03", "info", "info CPU_LITE0 (preset name in capitals)", ["info", "CPU_LITE0"], "either"),
        Case("I04", "info", "info of a dataset YAML", ["info", "syn_a.yaml"]),
        Case("I05", "info", "info model.num_classes=0", ["info", "cpu_lite0", "model.num_classes=0"]),
        Case("I06", "info", "info --size 33 (not a multiple of 32)", ["info", "cpu_lite0", "--size", "33",
                                                                     "model.pretrained=false"], "either"),
        Case("I07", "info", "info of a metrics.json", ["info", "ev0/metrics.json"]),
        Case("M01", "demo", "demo --size 33 --val-images 1", [*d[:5], "--val-images", "1", "--size", "33", "--out",
                                                             "m01", "--sheets", "1", *P], "either", fresh("m01")),
        Case("M02", "demo", "demo --size 0", [*d, "--size", "0", "--out", "m02"]),
        Case("M03", "demo", "demo --val-images 0", [*d, "--val-images", "0", "--out", "m03"]),
        Case("M04", "demo", "demo --train-images 0", [*d, "--train-images", "0", "--out", "m04"]),
        Case("M05", "demo", "demo --sheets -1", [*d, "--sheets", "-1", "--out", "m05"]),
        Case("M06", "demo", "demo --iters 0", [*d, "--iters", "0", "--out", "m06"]),
        Case("M07", "demo", "demo --size 5", [*d, "--size", "5", "--out", "m07"]),
    ]  # fmt: skip


def pseudo_out_cases() -> list[Case]:
    ps = ["pseudo", "--data", "ds/good.yaml"]
    return [
        Case("Q01", "pseudo", "pseudo --method sam without --sam-weights", [*ps, "--method", "sam", "--out", "q01",
                                                                          *P]),
        Case("Q02", "pseudo", "pseudo --method sam --sam-weights a missing file", [*ps, "--method", "sam",
                                                                                 "--sam-weights", "no.pt", "--out",
                                                                                 "q02", *P]),
        Case("Q03", "pseudo", "pseudo --method sam --sam-weights BAISeg safetensors", [*ps, "--method", "sam",
                                                                                     "--sam-weights",
                                                                                     "w.safetensors", "--out", "q03",
                                                                                     *P]),
        Case("Q04", "pseudo", "pseudo --score-thr 1.5", [*ps, "--method", "cc", "--score-thr", "1.5", "--out", "q04",
                                                        *P]),
        Case("Q05", "pseudo", "pseudo --min-area -1", [*ps, "--method", "cc", "--min-area", "-1", "--out", "q05", *P]),
        Case("Q06", "pseudo", "pseudo --chunk 0", [*ps, "--method", "cc", "--chunk", "0", "--out", "q06", *P]),
        Case("Q07", "pseudo", "pseudo --score-thr nan", [*ps, "--method", "cc", "--score-thr", "nan", "--out", "q07",
                                                        *P]),
        Case("Q09", "out", "pseudo --method cc into the --out of a refused --method sam run (no weights)",
             [*ps, "--method", "cc", "--out", "q09", *P], "ok", both(fresh("q09"), _sam_refused("q09"))),
        Case("Q08", "pseudo", "pseudo --method sam sam.points_per_side=0", [*ps, "--method", "sam", "--sam-weights",
                                                                          "no.pt", "sam.points_per_side=0", "--out",
                                                                          "q08", *P]),
        Case("O01", "out", "evaluate --out a symlink to a file", ["evaluate", "--data", "ds/good.yaml", "--method",
                                                                 "cc", "--semantic", "gt", "--out", "o01_link"],
             "error", _link_to_file("o01_link", "o01_target.txt"), _target_kept("o01_target.txt")),
        Case("O02", "out", "predict --overwrite into a folder with a read-only results.json",
             ["predict", "--weights", "w.safetensors", "--input", "ds/good.yaml", "--out", "o02", "--overwrite", *P],
             "either", both(fresh("o02"), lambda w: shutil.copytree(w / "pred0", w / "o02"),
                            lambda w: (w / "o02" / "results.json").chmod(0o444))),
        Case("O03", "out", "data show --out a symlink to a file", ["data", "show", "ds/good.yaml", "--out",
                                                                  "o03_link"], "error",
             _link_to_file("o03_link", "o03_target.txt"), _target_kept("o03_target.txt")),
        Case("O04", "out", "pseudo --out inside the dataset's mask folder", ["pseudo", "--data", "o04ds/good.yaml",
                                                                            "--method", "cc", "--out",
                                                                            "o04ds/masks/out", *P], "either",
             both(copy_of("ds", "o04ds"), remember("o04ds/masks")), unchanged("o04ds/masks")),
    ]  # fmt: skip


def cli_cases() -> list[Case]:
    return [*report_cases(), *export_cases(), *sweep_cases(), *info_demo_cases(), *pseudo_out_cases()]
