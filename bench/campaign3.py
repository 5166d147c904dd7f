"""The third bad-input campaign (issue 21): 100+ bad inputs and faults, run as a new user would, through the CLI.

    python bench/campaign3.py [--work /tmp/campaign3] [--only O01,Y02] [--out docs/results/hardening/campaign3.json]

Builds small fixtures in ``--work`` (a 4-image ``instance_png`` dataset, two synthetic dataset YAMLs, a COCO copy,
tiny random cpu_lite0 weights, hand-made ONNX graphs, a predict run's ``results.json``), then runs every case of
``bench/campaign3_cases.py`` / ``campaign3_cases_b.py`` (``OMP_NUM_THREADS=1``) and classifies it:

- ``clean``: exit 2 (or 1 where ``data check`` lists problems) with one ``baiseg ...: error:`` line, as expected;
- ``ok``: exit 0 and the case's output check passed;
- ``silent``: exit 0 although the input should have been refused, or an output check found wrong or lost data;
- ``traceback``: a Python traceback on stderr or a death by signal; ``unclear``: an error that is not one line;
- ``hang``: no answer within the case's time limit.

Each case runs ``baiseg.cli.main`` in a process forked after the imports (``baiseg``); the kill and concurrency
cases start real ``python -m baiseg`` processes.

Writes the table as JSON (``--out``) and prints the counts. Not a test: the fixes it led to have tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from bench import provenance  # noqa: E402
from bench.toy_onnx import toy_onnx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HOLDER = ("import sys, time\nfrom baiseg import outdir\noutdir.claim(sys.argv[1], sys.argv[2])\n"
          "print('ready', flush=True)\ntime.sleep(600)\n")


@dataclass
class Case:
    """One bad input or fault.

    Attributes:
        id, kind, what: name, class of fault, description.
        argv: the ``baiseg`` arguments (run in the work folder).
        expect: ``error`` (exit 2), ``problem`` (exit 1, listed), ``ok`` (exit 0) or ``either`` (0 or a clean error).
        setup: prepares the work folder before the run (gets the work folder).
        check: after the run: a description of wrong or lost output, or None (gets the work folder and the exit code).
        hold: ``(folder, command)`` held locked by another process during the run.
        run: replaces the plain run (concurrency and kill cases): returns ``(rc, stderr)``.
    """

    id: str
    kind: str
    what: str
    argv: list[str] = field(default_factory=list)
    expect: str = "error"
    setup: Callable[[Path], None] | None = None
    check: Callable[[Path, int], str | None] | None = None
    hold: tuple[str, str] | None = None
    run: Callable[[Path], tuple[int, str]] | None = None
    timeout: int = 180
    env: dict[str, str] = field(default_factory=dict)


def baiseg(work: Path, argv: list[str], timeout: int = 180, env: dict[str, str] | None = None,
           background: bool = False) -> subprocess.CompletedProcess | subprocess.Popen:  # fmt: skip
    """``baiseg argv`` in ``work`` with one thread: a new ``python -m baiseg`` process when ``background``, else
    ``baiseg.cli.main(argv)`` in a child forked from this process once baiseg is imported (the same entry point and
    a fresh process per case; only the 20 s of imports on a loaded machine are shared). Returns the exit status and
    stderr as a CompletedProcess (``TimeoutExpired`` after ``timeout`` s)."""
    e = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", **(env or {})}
    if background:
        cmd = [sys.executable, "-m", "baiseg", *argv]
        return subprocess.Popen(cmd, cwd=work, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rc, text = fork_run(lambda err_fd: _child(work, argv, e, err_fd), timeout, argv)
    return subprocess.CompletedProcess(argv, rc, "", text)


def fork_run(child: Callable[[int], None], timeout: float, what: list[str]) -> tuple[int, str]:
    """``child(err_fd)`` in a process forked from this one (it must end with ``os._exit``; its stderr goes to
    ``err_fd``); returns ``(exit status, stderr)``, or raises ``TimeoutExpired`` (naming ``what``) after killing it
    when it runs past ``timeout`` s. Campaigns 3 to 5 run every case through it."""
    import tempfile

    with tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            child(err.fileno())
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                err.seek(0)
                raise subprocess.TimeoutExpired(what, timeout, stderr=err.read())
            time.sleep(0.05)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), err.read().decode(errors="replace")


def _child(work: Path, argv: list[str], env: dict[str, str], err_fd: int) -> None:
    rc = 1
    try:
        os.dup2(err_fd, 2)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.chdir(work)
        os.environ.clear()
        os.environ.update(env)
        from baiseg.cli import main as cli_main

        rc = cli_main(list(argv))
    except SystemExit as x:
        rc = x.code if isinstance(x.code, int) else 2
    except BaseException:
        import traceback

        traceback.print_exc()
        rc = 1
    finally:
        sys.stderr.flush()
        os._exit(rc)


def preload() -> None:
    """Import what the commands import, once, before the children are forked (no torch thread is started)."""
    import importlib

    for m in ("torch", "timm", "baiseg.cli", "baiseg.predictor", "baiseg.data", "baiseg.evaluation.run",
              "baiseg.engine.trainer", "baiseg.experiments.sweep", "baiseg.pseudo", "baiseg.postprocess", "onnxruntime",
              "onnx", "pycocotools.mask", "cv2", "tifffile"):  # fmt: skip
        try:
            importlib.import_module(m)
        except ImportError:
            pass


# --------------------------------------------------------------------------------------------------------- fixtures
def _scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    img = np.full((64, 80, 3), 30, np.uint8)
    ids = np.zeros((64, 80), np.uint8)
    for k, (y, x) in enumerate([(8, 8), (8, 44)], 1):
        img[y : y + 28, x : x + 28] = rng.integers(120, 250, 3)
        ids[y : y + 28, x : x + 28] = k
    return img, ids


def build_fixtures(work: Path) -> None:
    """The shared inputs of every case (idempotent)."""
    from PIL import Image

    if (work / ".built").is_file():
        return
    ds = work / "ds"
    for sub in ("images", "masks"):
        (ds / sub).mkdir(parents=True, exist_ok=True)
    for i in range(4):
        img, ids = _scene(i)
        Image.fromarray(img).save(ds / "images" / f"a{i}.png")
        Image.fromarray(ids).save(ds / "masks" / f"a{i}.png")
    (ds / "good.yaml").write_text("format: instance_png\nimages: images\nmasks: masks\nclasses: [c1]\n")
    for name, seed in (("syn_a", 1), ("syn_b", 2)):
        text = f"format: synthetic\nnum_images: 3\nsize: 64\nnum_classes: 2\nseed: {seed}\n"
        (work / f"{name}.yaml").write_text(text)
    _coco(work, ds)
    _weights(work)
    toy_onnx(work / "good.onnx", 3)
    many = work / "many"
    many.mkdir(exist_ok=True)
    for i in range(40):
        Image.fromarray(_scene(i)[0]).save(many / f"m{i:02d}.png")
    r = baiseg(work, ["predict", "--weights", "w.safetensors", "--input", "ds/good.yaml", "--out", "pred0",
                      "--no-progress"], background=True)  # fmt: skip
    assert r.wait() == 0, r.stderr.read()
    (work / ".built").write_text("")


def _coco(work: Path, ds: Path) -> None:
    import shutil

    (work / "coco" / "img").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i in range(4):
        shutil.copy(ds / "images" / f"a{i}.png", work / "coco" / "img" / f"a{i}.png")
        images.append({"id": i + 1, "file_name": f"a{i}.png", "width": 80, "height": 64})
        ids = _scene(i)[1]
        for k in (1, 2):
            m = ids == k
            ys, xs = np.nonzero(m)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "area": int(m.sum()),
                         "bbox": [int(xs.min()), int(ys.min()), int(np.ptp(xs) + 1), int(np.ptp(ys) + 1)],
                         "segmentation": [[float(xs.min()), float(ys.min()), float(xs.max()), float(ys.min()),
                                           float(xs.max()), float(ys.max()), float(xs.min()), float(ys.max())]]})
    coco = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "c1"}]}
    (work / "coco" / "ann.json").write_text(json.dumps(coco))  # an input, not a result
    (work / "coco" / "d.yaml").write_text("format: coco\nimages: img\nannotations: ann.json\n")


def _weights(work: Path) -> None:
    import torch

    from baiseg.config import load_config, resolve_preset
    from baiseg.models import build_model
    from baiseg.weights_io import save_weights

    cfg = load_config(resolve_preset("cpu_lite0"), ["model.pretrained=false", "model.num_classes=3",
                                                   "model.iabm_dim=8", "model.sem_dim=16"])  # fmt: skip
    torch.manual_seed(0)
    save_weights(work / "w.safetensors", build_model(cfg.model).eval(), cfg, ["c1", "c2"], [1, 2])


# ----------------------------------------------------------------------------------------------------------- runner
def classify(case: Case, rc: int | None, err: str, wrong: str | None) -> tuple[str, str]:
    """(verdict, remark) of one run."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    if rc is None:
        return "hang", f"no answer in {case.timeout} s"
    if "Traceback (most recent call last)" in err or rc < 0 or rc > 2:
        return "traceback", last[:200]
    if wrong:
        return "silent", wrong
    if rc == 0:
        if case.expect in ("error", "problem"):
            return "silent", "exit 0: the bad input was accepted"
        return "ok", ""
    clean = ": error:" in last or (rc == 1 and case.argv[:2] == ["data", "check"])  # listed problems: exit 1
    if not clean:
        return "unclear", last[:200]
    if case.expect == "ok":
        return "refused", last[:200]
    if case.expect == "problem" and rc != 1:
        return "clean", f"(exit {rc}, not listed as a problem) " + last[:180]
    return "clean", last[:200]


def run_case(case: Case, work: Path) -> dict:
    """Set up, run (with a lock holder when asked), check and classify one case."""
    holder = None
    if case.setup is not None:
        case.setup(work)
    if case.hold is not None:
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(work / case.hold[0]), case.hold[1]], cwd=work,
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        holder.stdout.readline()
    t0 = time.perf_counter()
    try:
        if case.run is not None:
            rc, err = case.run(work)
        else:
            r = baiseg(work, case.argv, case.timeout, case.env)
            rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired as e:
        rc, err = None, (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
    wrong = case.check(work, rc) if case.check is not None and rc is not None else None
    verdict, remark = classify(case, rc, err, wrong)
    return {"id": case.id, "kind": case.kind, "what": case.what, "command": "baiseg " + " ".join(case.argv),
            "expect": case.expect, "exit": rc, "verdict": verdict, "remark": remark,
            "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip


def markdown(runs: list[dict]) -> str:
    """The campaign table (one column per run: verdict, exit status, remark of the last run)."""
    by_id = [{r["id"]: r for r in run["rows"]} for run in runs]
    head = "| case | kind | input / fault | command | " + " | ".join(f"run {i + 1}" for i in range(len(runs)))
    lines = [head + " |", "|" + "---|" * (4 + len(runs))]
    for row in runs[-1]["rows"]:
        cells = []
        for rows in by_id:
            r = rows.get(row["id"])
            cells.append(f"{r['verdict']} (exit {r['exit']})" if r else "-")
        remark = row["remark"].replace("|", "/")[:110]
        lines.append(f"| {row['id']} | {row['kind']} | {row['what']} | `{row['command'][:90]}` | "
                     + " | ".join(cells[:-1] + [cells[-1] + (f": {remark}" if remark else "")]) + " |")
    return "\n".join(lines)


def run_campaign(args: argparse.Namespace, fixtures: Callable[[Path], None], all_cases: Callable[[], list],
                 prov: dict) -> int:
    """Build the fixtures in ``args.work`` (in a forked child), run every case (or ``args.only``) in a process forked
    after the imports, and write ``args.out`` (all cases) or merge the rerun rows into ``args.merge_into`` (cases
    it lacks are added); campaigns 3 and 4 share it."""
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    pid = os.fork()  # the fixtures' torch calls start thread pools: not in the process the cases are forked from
    if pid == 0:
        try:
            fixtures(work)
        except BaseException:
            import traceback

            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0, "building the fixtures failed"
    preload()
    cases = all_cases()
    assert len({c.id for c in cases}) == len(cases), "duplicate case ids"
    only = {s for s in args.only.split(",") if s}
    rows = []
    for case in cases:
        if only and case.id not in only:
            continue
        row = run_case(case, work)
        rows.append(row)
        print(f"{row['id']:5s} {row['verdict']:9s} exit {row['exit']}  {row['what'][:60]}  | {row['remark'][:110]}",
              flush=True)  # fmt: skip
    counts = Counter(r["verdict"] for r in rows)
    print(dict(counts))
    if not only:
        provenance.write_json(args.out, {"cases": len(rows), "counts": dict(counts), "rows": rows}, prov)
    elif args.merge_into:
        old = json.loads(Path(args.merge_into).read_text())
        new = {r["id"]: {**r, "rerun": True} for r in rows}
        merged = [new.get(r["id"], r) for r in old["rows"]]
        merged += [r for r in new.values() if r["id"] not in {o["id"] for o in old["rows"]}]  # cases added since
        old.update(cases=len(merged), counts=dict(Counter(r["verdict"] for r in merged)), rows=merged)
        old["rerun_ids"] = sorted(set(old.get("rerun_ids", [])) | set(new))
        provenance.write_json(args.merge_into, old, prov)  # the provenance of the last rerun
    return 0


def main() -> int:
    from bench.campaign3_cases_b import all_cases

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/campaign3")
    ap.add_argument("--only", default="", help="comma-separated case ids")
    ap.add_argument("--out", default=str(REPO / "docs/results/hardening/campaign3.json"))
    ap.add_argument("--markdown", nargs="+", metavar="JSON", help="print the table of these runs (before, after)")
    ap.add_argument("--merge-into", metavar="JSON", help="with --only: replace these cases' rows in JSON (marked "
                    "'rerun') and recount")
    args = ap.parse_args()
    prov = provenance.start()
    if args.markdown:
        print(markdown([json.loads(Path(j).read_text()) for j in args.markdown]))
        return 0
    return run_campaign(args, build_fixtures, all_cases, prov)


if __name__ == "__main__":
    sys.exit(main())
