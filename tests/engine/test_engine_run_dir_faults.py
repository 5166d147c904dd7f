"""Run folders: a bad metrics.csv row on resume is one line; a run that fails before its first step leaves no
empty folder (issue 10 §1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from baiseg.cli import main
from baiseg.engine import run_dir as run_dirs
from baiseg.engine.run_dir import METRIC_FIELDS, MetricsCSV, create_run_dir, remove_unstarted
from baiseg.errors import BaisegError


def write_metrics(path: Path, rows: list[str]) -> None:
    path.write_text(",".join(METRIC_FIELDS) + "\n" + "".join(r + "\n" for r in rows))


def test_bad_metrics_row_on_resume_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    write_metrics(path, ["1,0.1,2.0", "garbage,0.1,2.0", "3,0.1,1.0"])
    with pytest.raises(BaisegError) as e:
        MetricsCSV(path, resume_from=2)
    msg = str(e.value)
    assert "\n" not in msg and "line 3" in msg and "'garbage' is not an integer" in msg


def test_metrics_without_iteration_column(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(BaisegError, match="no 'iteration' column"):
        MetricsCSV(path, resume_from=2)


def test_resume_keeps_rows_up_to_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    write_metrics(path, ["1,0.1,2.0", "2,0.1,1.5", "3,0.1,1.0"])
    rows = MetricsCSV(path, resume_from=2).read()
    assert [r["iteration"] for r in rows] == ["1", "2"]


def test_failed_start_removes_the_run_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    import baiseg.engine.trainer as trainer

    made: list[Path] = []

    def failing_train(cfg, name=None, progress=True, **kw):
        run = create_run_dir(cfg.train.out_dir, name)
        (run / "config.yaml").write_text("x: 1\n")
        MetricsCSV(run / "metrics.csv")
        made.append(run)
        raise BaisegError("boom before the first step")

    monkeypatch.setattr(trainer, "train", failing_train)
    assert main(["train", "cpu_lite0", f"train.out_dir={tmp_path}"]) == 2
    assert "boom before the first step" in capsys.readouterr().err
    assert made and not made[0].exists()


def test_only_unstarted_folders_of_this_process_are_removed(tmp_path: Path) -> None:
    started = create_run_dir(tmp_path, "r")
    (started / "checkpoint.pt").write_bytes(b"x")
    assert not remove_unstarted(started) and started.exists()
    logged = create_run_dir(tmp_path, "r")
    write_metrics(logged / "metrics.csv", ["1,0.1,2.0"])
    assert not remove_unstarted(logged) and logged.exists()
    foreign = tmp_path / "r-099"
    foreign.mkdir()
    assert not remove_unstarted(foreign) and foreign.exists()
    empty = create_run_dir(tmp_path, "r")
    assert remove_unstarted(empty) and not empty.exists() and empty not in run_dirs.CREATED
