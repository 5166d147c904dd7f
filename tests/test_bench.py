"""bench/ is a package whose every JSON carries a provenance record (bench/provenance.py): the record's fields, the
atomic writer, the git state, and real benches run by their path and as modules (``python -m bench.NAME``)."""

from __future__ import annotations

import ast
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the package `bench` lives at the repository root
from bench import provenance  # noqa: E402

del sys.path[0]

GEN = REPO / "docs" / "results" / "tuning" / "gen"
# the command of docs/results/tuning/gen/lodo.json (paths relative to the repository root: the JSON records them)
LODO_ARGS = ["--baiseg", *(f"docs/results/tuning/gen/{d}_train_baiseg.json" for d in
                           ("pennfudan", "coco128_panoptic", "dsb2018")),
             "--baselines", "docs/results/tuning/gen/{domain}_train_{method}.json",
             "--sam", "docs/results/sam/tuning/{domain}_train_p*.json"]  # fmt: skip


def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def _check_record(rec: dict, command_part: str) -> None:
    assert command_part in rec["command"]
    commit = rec["git"]["commit"]  # HEAD when the record was made (others may commit since): an ancestor of HEAD now
    if (REPO / ".git").exists() and shutil.which("git"):
        assert len(commit) == 40
        assert subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=REPO).returncode == 0
    else:  # a copy of the sources without git: the record says so
        assert commit is None
    assert isinstance(rec["git"]["dirty"], bool) and rec["git"]["changed"] >= len(rec["git"]["paths"])
    m = rec["machine"]
    assert m["cores"] == os.cpu_count() and 1 <= m["usable_cores"] <= m["cores"]
    assert m["cpu"] and m["ram_gib"] > 0 and isinstance(m["gpus"], list)
    assert m["versions"]["numpy"] and m["versions"]["baiseg"]
    assert m["python"] == ".".join(map(str, sys.version_info[:3]))
    for key in ("load_start", "load_end"):
        assert len(rec[key]) == 3 and all(v >= 0 for v in rec[key])
    assert rec["started"] <= rec["finished"] and rec["elapsed_s"] >= 0
    assert rec["started"].endswith("+00:00")  # UTC


def test_record_of_this_process() -> None:
    prov = provenance.start(["--x", "1"])
    rec = prov.finish()
    assert rec["command"] == shlex.join(sys.orig_argv) and rec["cwd"] == os.getcwd()
    assert rec["argv"] == ["--x", "1"]  # main() called with arguments other than the process's
    _check_record(rec, "")
    assert "argv" not in provenance.start(sys.argv[1:]).finish()
    line = provenance.machine_line(rec["machine"])
    assert rec["machine"]["cpu"] in line and ("no GPU" in line) == (not rec["machine"]["gpus"])


def test_write_json_is_atomic_and_adds_provenance(tmp_path: Path, capsys) -> None:
    out = tmp_path / "new" / "speed.json"
    report = {"ms": 1.5, "rows": [1, 2]}
    provenance.write_json(out, report, provenance.start())
    got = json.loads(out.read_text())
    assert got["ms"] == 1.5 and got["rows"] == [1, 2] and "provenance" in got
    assert "provenance" not in report  # the caller's dict is left alone
    assert f"-> {out}" in capsys.readouterr().out
    _check_record(got["provenance"], "")
    before = out.read_text()
    with pytest.raises(ValueError):  # NaN is not JSON: nothing is written, the old file stays whole
        provenance.write_json(out, {"ms": float("nan")})
    assert out.read_text() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["speed.json"]  # no temporary file left


def test_git_state(tmp_path: Path) -> None:
    assert provenance.git_state(tmp_path) == {"commit": None, "dirty": None, "changed": None, "paths": []}
    if shutil.which("git") is None:
        pytest.skip("no git")
    _git("init", "-q", cwd=tmp_path)
    (tmp_path / "a.txt").write_text("1")
    _git("add", "a.txt", cwd=tmp_path)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a", cwd=tmp_path)
    clean = provenance.git_state(tmp_path)
    assert clean["commit"] == _git("rev-parse", "HEAD", cwd=tmp_path) and clean["dirty"] is False
    (tmp_path / "a.txt").write_text("2")
    (tmp_path / "b.txt").write_text("new")
    dirty = provenance.git_state(tmp_path)
    assert dirty["dirty"] is True and dirty["changed"] == 2 and sorted(dirty["paths"]) == ["a.txt", "b.txt"]


@pytest.mark.parametrize("how", ["path", "module"])
def test_a_bench_writes_its_json_with_provenance(tmp_path: Path, how: str) -> None:
    """bench/select_lodo.py (reads committed sweep JSONs, seconds) run as `python bench/x.py` and `python -m bench.x`:
    the same figures as the committed lodo.json, plus the provenance of this run."""
    out = tmp_path / "lodo.json"
    head = [sys.executable, "bench/select_lodo.py"] if how == "path" else [sys.executable, "-m", "bench.select_lodo"]
    res = subprocess.run([*head, *LODO_ARGS, "--json", str(out), "--md", str(tmp_path / "lodo.md")], cwd=REPO,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    got, committed = json.loads(out.read_text()), json.loads((GEN / "lodo.json").read_text())
    for key in ("domains", "joint", "held_out"):
        assert got[key] == committed[key], key
    assert (tmp_path / "lodo.md").read_text() == (GEN / "lodo.md").read_text()
    _check_record(got["provenance"], "bench/select_lodo.py" if how == "path" else "-m bench.select_lodo")
    assert got["provenance"]["cwd"] == str(REPO) and "argv" not in got["provenance"]


@pytest.mark.slow
def test_mep_speed_bench_tiny(tmp_path: Path) -> None:
    """bench/bench_mep.py on 1 + 1 images at 64x48, one repeat: its JSON has the figures and the provenance."""
    if not (REPO.parent / "shared" / "data" / "PennFudanPed").is_dir() and "BAISEG_SHARED_DATA" not in os.environ:
        pytest.skip("no benchmark data")
    out = tmp_path / "mep.json"
    res = subprocess.run([sys.executable, "bench/bench_mep.py", "--images", "1", "--repeats", "1", "--sizes", "64x48",
                          "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(out.read_text())
    assert got["images"] == 2 and got["sizes"]["64x48"]["ours_median_ms"] > 0
    _check_record(got["provenance"], "bench/bench_mep.py --images 1")
    assert got["provenance"]["machine"]["torch_threads"] == 1


#: marks a line (or the line before it) that writes a JSON input of the bench, not its output
INPUT = "# an input, not a result"


def _json_writers(text: str) -> list[str]:
    """Calls in ``text`` that write JSON some other way than bench.provenance.write_json."""
    lines, found = text.splitlines(), []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            owner = getattr(f.value, "id", "") if isinstance(f, ast.Attribute) else ""
            if INPUT in lines[node.lineno - 1] or INPUT in lines[node.lineno - 2]:  # on the line or the one before
                continue
            if name == "write_json_atomic" or (name == "dump" and owner == "json"):
                found.append(f"{name} at line {node.lineno}")
            elif name in ("write_text", "write_text_atomic") and "json.dumps" in ast.unparse(node):
                found.append(f"{name}(json.dumps(...)) at line {node.lineno}")
    return found


def test_every_bench_writes_json_through_provenance_and_imports_the_package() -> None:
    skip = {"__init__.py", "provenance.py"}
    scripts = sorted(p for p in (REPO / "bench").glob("*.py") if p.name not in skip)
    assert len(scripts) > 10
    for path in scripts:
        text = path.read_text()
        assert not _json_writers(text), (path.name, _json_writers(text))
        for hack in ("from common import", "resolve().parent))", 'REPO / "bench"))'):  # the old sys.path way
            assert hack not in text, (path.name, hack)


def test_bench_is_a_package_that_imports_nothing() -> None:
    init = REPO / "bench" / "__init__.py"
    tree = ast.parse(init.read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_sweep_line_prints_undefined_touching_scores_as_na():
    """A sweep whose selected images hold no touching instances has None scores there (was a TypeError)."""
    from bench.sweep import _line

    row = {"all": {"mAP50": 97.2, "mAP75": 86.0}, "touching": {"mAP50": None, "mAP75": None}}
    assert _line(row) == " 97.20  86.00 |    n/a    n/a"
