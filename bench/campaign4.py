"""The fourth bad-input campaign (issue 21): 100+ new bad inputs and faults, none of them in docs/HARDENING.md or in
campaign 3, chosen as a hostile new user would, through every command and the Python API.

    python bench/campaign4.py [--work /tmp/campaign4] [--only A01,Y02] [--out docs/results/hardening/campaign4.json]

Reuses campaign 3's fixtures, runner and verdicts (``bench/campaign3.py``: a fresh process forked after the imports
per case, ``clean`` / ``ok`` / ``silent`` / ``traceback`` / ``unclear`` / ``refused`` / ``hang``) and adds:

- API cases: a Python function run in a forked child (``baiseg.Predictor``, the evaluators, ``build_dataset``,
  ``load_config``, the C kernels). A ``BaisegError`` is a clean refusal (printed as ``baiseg api: error: ...``, exit
  2); any other exception is a traceback (the C kernels' ``ValueError`` naming the argument counts as clean for the
  kernel cases, their documented contract); a returned string describes a wrong result (``silent``);
- a small trained run (2 iterations, for the ``--resume`` cases) and weights and ONNX files with edited metadata.

The cases are in ``bench/campaign4_cases.py`` (ids, YAML and config values), ``_b`` (devices, paths, output folders,
images and the API's arrays), ``_c`` (evaluators, results and COCO JSON, weights metadata, C kernels) and ``_d``
(resume, concurrency). Writes the table as JSON (``--out``) and prints the counts. Not a test: the fixes it led to
have tests (tests/test_bad_inputs_campaign4.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]
from bench import provenance  # noqa: E402
from bench.campaign3 import Case, baiseg, build_fixtures, fork_run, markdown, run_campaign  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RUN = "runs/r0-001"  # the trained fixture run (2 iterations, a checkpoint at each)


def api(cid: str, kind: str, what: str, fn: Callable[[Path], str | None], expect: str = "error",
        native: bool = False, timeout: int = 120) -> Case:  # fmt: skip
    """A case that calls the Python API: ``fn(work)`` in a forked child; it returns None (the result is right) or a
    description of what is wrong (``silent``); a BaisegError (or, with ``native``, a ValueError / TypeError of the C
    kernels) is a clean refusal."""

    def run(work: Path) -> tuple[int, str]:
        return fork_call(work, fn, cid, native, timeout)

    def check(work: Path, rc: int) -> str | None:
        p = work / f".api_{cid}"
        return (p.read_text() or None) if rc == 0 and p.is_file() else None

    return Case(cid, kind, what, ["api", fn.__name__ if fn.__name__ != "<lambda>" else what], expect, run=run,
                check=check, timeout=timeout)  # fmt: skip


def fork_call(work: Path, fn: Callable[[Path], str | None], cid: str, native: bool, timeout: int) -> tuple[int, str]:
    """``fn(work)`` in a child forked from this process (stderr captured); returns ``(exit status, stderr)``."""
    (work / f".api_{cid}").unlink(missing_ok=True)
    return fork_run(lambda err_fd: _api_child(work, fn, cid, native, err_fd), timeout, ["api", cid])


def _api_child(work: Path, fn: Callable[[Path], str | None], cid: str, native: bool, err_fd: int) -> None:
    rc = 1
    try:
        os.dup2(err_fd, 2)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.chdir(work)
        os.environ.update({"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"})
        import warnings

        warnings.simplefilter("ignore")
        from baiseg.errors import BaisegError

        try:
            wrong = fn(work)
            (work / f".api_{cid}").write_text(wrong or "")
            rc = 0
        except BaisegError as e:
            print(f"baiseg api: error: {e}", file=sys.stderr)
            rc = 2
        except (ValueError, TypeError, OverflowError, BufferError) as e:
            if not native:
                raise
            print(f"baiseg api: error: {type(e).__name__}: {e}", file=sys.stderr)
            rc = 2
    except BaseException:
        import traceback

        traceback.print_exc()
        rc = 1
    finally:
        sys.stderr.flush()
        os._exit(rc)


def build_fixtures4(work: Path) -> None:
    """Campaign 3's fixtures plus a trained 2-iteration run ``runs/r0-001`` (idempotent)."""
    build_fixtures(work)
    if (work / RUN / "checkpoint.pt").is_file():
        return
    r = baiseg(work, ["train", "cpu_lite0", "data.train=syn_a.yaml", "data.val=syn_b.yaml", "train.iters=2",
                      "model.pretrained=false", "model.num_classes=3", "train.out_dir=runs", "train.name=r0",
                      "train.ckpt_every=1", "train.val_every=1000", "train.val_images=0", "train.batch_size=2",
                      "data.crop_size=64", "--no-progress"], timeout=900, background=True)  # fmt: skip
    assert r.wait(timeout=900) == 0, r.stderr.read()


def kinds_table(runs: list[dict]) -> str:
    """Per kind of fault: the cases and, for each run, the ones that were not clean or ok (``id verdict``)."""
    kinds: dict[str, int] = Counter(r["kind"] for r in runs[-1]["rows"])
    head = "| kind of fault | cases | " + " | ".join(f"run {i + 1} not clean/ok" for i in range(len(runs))) + " |"
    lines = [head, "|" + "---|" * (2 + len(runs))]
    for kind, n in kinds.items():
        cells = [", ".join(f"{r['id']} {r['verdict']}" for r in run["rows"] if r["kind"] == kind
                           and r["verdict"] not in ("clean", "ok")) or "none" for run in runs]  # fmt: skip
        lines.append(f"| {kind} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def campaign_main(number: int, fixtures: Callable[[Path], None], all_cases: Callable[[], list]) -> int:
    """The command line of campaigns 4 and 5: run the cases (``run_campaign``), or print the case table
    (``--markdown``) or the per-kind table (``--kinds``) of runs already written."""
    ap = argparse.ArgumentParser(description=f"bad-input campaign {number} (docs/HARDENING.md)")
    ap.add_argument("--work", default=f"/tmp/campaign{number}")
    ap.add_argument("--only", default="", help="comma-separated case ids")
    ap.add_argument("--out", default=str(REPO / f"docs/results/hardening/campaign{number}.json"))
    ap.add_argument("--markdown", nargs="+", metavar="JSON", help="print the table of these runs (before, after)")
    ap.add_argument("--kinds", nargs="+", metavar="JSON", help="print the per-kind table of these runs")
    ap.add_argument("--merge-into", metavar="JSON", help="with --only: replace these cases' rows in JSON (marked "
                    "'rerun'; cases it lacks are added) and recount")
    args = ap.parse_args()
    prov = provenance.start()
    if args.markdown or args.kinds:
        runs = [json.loads(Path(j).read_text()) for j in args.markdown or args.kinds]
        print(markdown(runs) if args.markdown else kinds_table(runs))
        return 0
    return run_campaign(args, fixtures, all_cases, prov)


def main() -> int:
    from bench.campaign4_cases_d import all_cases

    return campaign_main(4, build_fixtures4, all_cases)


if __name__ == "__main__":
    sys.exit(main())
