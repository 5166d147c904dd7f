"""Where a bench figure comes from: the ``provenance`` record that every bench JSON carries, and the one writer.

    prov = provenance.start()            # at the start of the measurement
    ...
    provenance.write_json(out, report, prov)

``write_json`` writes the report atomically (``baiseg.fileio``: the old file or the whole new one, never a truncated
one) with ``report["provenance"]`` =

- ``command``: the exact command line of the process (``sys.orig_argv``, shell-quoted), ``cwd``, and ``argv`` when
  the bench's ``main`` was called with arguments other than the process's;
- ``git``: ``commit`` (HEAD, None outside a git checkout), ``dirty`` (tracked files changed or files not yet added),
  ``changed`` (how many such paths) and the first ``paths`` of them;
- ``machine``: CPU model, logical cores, cores this process may use, RAM in GiB, GPUs (name, GiB; [] when none),
  OS, Python and the versions of torch / numpy / opencv / onnxruntime / baiseg (None when not installed), the torch
  and OpenMP thread counts at the end;
- ``load_start`` / ``load_end``: the 1, 5 and 15-minute load averages (what else ran shows there);
- ``started`` / ``finished`` (UTC, ISO 8601) and ``elapsed_s``.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: import name -> distributions that provide it, first found wins
PACKAGES = {"torch": ("torch",), "numpy": ("numpy",), "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
            "baiseg": ("baiseg",),
            "opencv": ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless",
                       "opencv-contrib-python")}  # fmt: skip
MAX_PATHS = 30


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # not on every OS
        return None


class Provenance:
    """The start of one measurement: command, git state, machine, load and time; :meth:`finish` completes it.

    Args:
        argv: the arguments the bench's ``main`` was called with (None: the process's own).
    """

    def __init__(self, argv: Sequence[str] | None = None) -> None:
        self._t0 = time.monotonic()
        orig = list(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
        self.record: dict[str, Any] = {"command": shlex.join(orig), "cwd": os.getcwd()}
        if argv is not None and list(argv) != sys.argv[1:]:
            self.record["argv"] = [str(a) for a in argv]
        self.record.update(git=git_state(), started=_now(), load_start=_load())

    def finish(self) -> dict[str, Any]:
        """The complete record (a new dict): the start fields, the machine, the load and the time at the end."""
        return {**self.record, "machine": machine(), "load_end": _load(), "finished": _now(),
                "elapsed_s": round(time.monotonic() - self._t0, 1)}  # fmt: skip


def start(argv: Sequence[str] | None = None) -> Provenance:
    """Begin the provenance record of a measurement (call it before the measurement starts)."""
    return Provenance(argv)


def write_json(path: str | os.PathLike, report: dict[str, Any], prov: Provenance | None = None,
               indent: int | None = 1) -> Path:  # fmt: skip
    """Write ``report`` with its ``provenance`` record as JSON, atomically; say where.

    Args:
        path: output file (its folder is created).
        report: the bench's figures (JSON-serialisable; not modified).
        prov: from :func:`start` at the start of the measurement (None: a record started now, so its load and
            elapsed time cover only the writing).
        indent: JSON indentation.

    Returns:
        ``path`` as a Path.
    """
    from baiseg.fileio import write_json_atomic

    record = (prov or Provenance()).finish()
    out = write_json_atomic(path, {**report, "provenance": record}, indent=indent)
    print(f"-> {path}")
    return out


def git_state(repo: str | os.PathLike = REPO) -> dict[str, Any]:
    """``{"commit", "dirty", "changed", "paths"}`` of the checkout at ``repo`` (commit None without git)."""

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout if res.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None, "changed": None, "paths": []}
    status = git("status", "--porcelain=v1", "--untracked-files=all") or ""
    paths = [line[3:] for line in status.splitlines() if line.strip()]
    return {"commit": commit.strip(), "dirty": bool(paths), "changed": len(paths), "paths": paths[:MAX_PATHS]}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def _gpus() -> list[dict[str, Any]]:
    """CUDA devices: through torch when the bench imported it, else ``nvidia-smi`` when there is one."""
    torch = sys.modules.get("torch")
    if torch is not None:
        if not torch.cuda.is_available():
            return []
        return [{"name": torch.cuda.get_device_name(i),
                 "memory_gib": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1)}
                for i in range(torch.cuda.device_count())]  # fmt: skip
    try:
        res = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [line.rsplit(",", 1) for line in res.stdout.splitlines() if "," in line] if res.returncode == 0 else []
    return [{"name": name.strip(), "memory_gib": round(float(mib) / 1024, 1)} for name, mib in rows]


def _version(name: str) -> str | None:
    for dist in PACKAGES[name]:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    module = sys.modules.get("cv2" if name == "opencv" else name)
    return getattr(module, "__version__", None)


def machine() -> dict[str, Any]:
    """The machine and software the figures were measured on (see the module docstring)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch = sys.modules.get("torch")
    return {"cpu": _cpu_model(), "arch": platform.machine(), "cores": os.cpu_count(), "usable_cores": usable,
            "ram_gib": _ram_gib(), "gpus": _gpus(), "os": platform.platform(),
            "python": platform.python_version(), "versions": {name: _version(name) for name in PACKAGES},
            "torch_threads": torch.get_num_threads() if torch is not None else None,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}  # fmt: skip


def machine_line(m: dict[str, Any] | None = None) -> str:
    """One line for printed tables: ``CPU model, N cores (M usable), R GiB RAM, GPU or no GPU``."""
    m = m or machine()
    gpu = ", ".join(g["name"] for g in m["gpus"]) or "no GPU"
    return f"{m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['ram_gib']} GiB RAM, {gpu}"
