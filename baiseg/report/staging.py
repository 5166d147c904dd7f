"""A report appears whole or not at all, without an fsync per file.

A report holds a few files per image (thousands for a large set); an atomic write of each (``baiseg.fileio``: fsync
of the file and its folder) costs tens of milliseconds on a busy disk, most of the build time. So the report is
written with plain writes into a staging folder beside ``--out`` (``.<name>.<pid>.staging``), flushed once
(``os.sync``), and renamed into place; an earlier report there is moved aside first and removed after. A crash leaves
the earlier report or the new one (plus, at worst, a staging folder that the next build removes).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from baiseg.report.collect import ReportError

MARKERS = ("index.html", "data")  # what makes a folder an earlier report that may be replaced


def write_file(path: Path, data: bytes | str) -> None:
    """Write ``data`` (str as UTF-8) to ``path`` inside the staging folder (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def staging_dir(out: Path) -> Path:
    """A fresh, empty staging folder for ``out`` (stale ones of dead builds removed).

    Raises:
        ReportError: ``out`` exists and is not an earlier report (its files would be lost).
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir()) and not all((out / m).exists() for m in MARKERS)):
        raise ReportError(f"--out '{out}' exists and is not a report (no index.html + data/): give a new or empty "
                          "folder, or an earlier report to replace")  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    for old in out.parent.glob(f".{out.name}.*.staging"):
        pid = old.name.split(".")[-2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    stage = out.parent / f".{out.name}.{os.getpid()}.staging"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    return stage


def publish(stage: Path, out: Path) -> Path:
    """Flush the staged report and rename it to ``out`` (replacing an earlier report); returns ``out``."""
    os.sync()
    old = out.parent / f".{out.name}.{os.getpid()}.old"
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
