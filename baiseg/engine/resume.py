"""The gate of ``baiseg train --resume``: a resumed run is checked exactly like a new one, and more.

- the overrides given with ``--resume`` are validated like a new run's (``config.validate``) and recorded: the run's
  ``config.yaml`` is rewritten with the resumed config, and ``run.json`` lists each resume with its overrides;
- ``config.yaml`` edited by hand since the checkpoint is refused (the edit would be silently ignored): give the change
  as an override instead;
- a ``checkpoint.pt`` whose training identity (the model, the training data and classes) differs from the run's
  ``config.yaml`` is refused (a checkpoint copied from another run), as are overrides that change that identity;
- a lock on the run folder (``.lock``, ``fcntl.flock``) keeps two processes from training into one run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from baiseg.config import Config, config_from_dict, dump_yaml, to_dict
from baiseg.errors import BaisegError
from baiseg.fileio import write_json_atomic, write_text_atomic
from baiseg.outdir import FolderLock

#: Config sections and keys that make a checkpoint's weights meaningless when they change.
IDENTITY = ("model", "data.train")


def identity(cfg: Config) -> dict[str, Any]:
    """The part of a config that the weights in a checkpoint depend on."""
    d = to_dict(cfg)
    return {"model": d["model"], "data.train": d["data"]["train"]}


#: The files of a run folder that a resumed training writes (``run_dir.py``, ``record_resume``, the checkpoints).
RUN_FILES = ("config.yaml", "run.json", "metrics.csv", "checkpoint.pt", "last.safetensors", "best.safetensors")


def check_resumable(run_dir: Path, stored: Config, resumed: Config) -> None:
    """Raise unless ``run_dir/config.yaml`` matches the checkpoint's config and ``resumed`` keeps its identity.

    Args:
        stored: the config in the checkpoint; resumed: that config with the ``--resume`` overrides.
    """
    from baiseg.yamlio import load_yaml_file

    for name in RUN_FILES:  # what a resume rewrites or appends to: a folder there is a traceback after the loading
        if (run_dir / name).is_dir():
            raise BaisegError(f"--resume: '{run_dir / name}' is a folder, not the run's file: move it away")
    path = run_dir / "config.yaml"
    if path.is_file():
        on_disk = config_from_dict(load_yaml_file(path, f"'{path}'") or {})
        a, b = identity(on_disk), identity(stored)
        if a != b:
            keys = [k for k in a if a[k] != b[k]]
            raise BaisegError(f"--resume: '{run_dir / 'checkpoint.pt'}' was not written by this run (its "
                              f"{', '.join(keys)} differ from '{path}'): resume the run the checkpoint belongs to")
        if dump_yaml(on_disk) != dump_yaml(stored) and dump_yaml(on_disk) != dump_yaml(_last_resumed(run_dir, stored)):
            changed = _diff(to_dict(on_disk), to_dict(stored))
            raise BaisegError(f"--resume: '{path}' was edited since the last checkpoint ({', '.join(changed[:4])}); "
                              "an edit there is not read: restore it and give the change as key=value after --resume")
    if identity(resumed) != identity(stored):
        keys = _diff(identity(resumed), identity(stored))
        raise BaisegError(f"--resume: the override(s) of {', '.join(keys[:4])} change the model or its training data, "
                          "which the checkpoint's weights depend on: start a new run instead")  # fmt: skip


def _last_resumed(run_dir: Path, stored: Config) -> Config:
    """``stored`` with the overrides of the last resume recorded in ``run.json`` (a resume that wrote config.yaml and
    stopped before its first checkpoint leaves config.yaml one resume ahead of checkpoint.pt)."""
    from baiseg.config import _apply, parse_overrides

    try:
        resumes = json.loads((run_dir / "run.json").read_text()).get("resumes", [])
        overrides = list(resumes[-1]["overrides"]) if resumes else []
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return stored
    cfg = config_from_dict(to_dict(stored))
    if overrides:
        _apply(cfg, parse_overrides(overrides), "", "run.json")
    return cfg


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}")
    return out


def record_resume(run_dir: Path, cfg: Config, overrides: list[str], iteration: int) -> None:
    """Rewrite ``config.yaml`` with the resumed config and add the resume to ``run.json``."""
    write_text_atomic(run_dir / "config.yaml", dump_yaml(cfg))
    info_path = run_dir / "run.json"
    try:
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    except (OSError, ValueError):
        info = {}
    info.setdefault("resumes", []).append({"iteration": iteration, "overrides": list(overrides)})
    write_json_atomic(info_path, info, indent=1)


class RunLock(FolderLock):
    """An exclusive lock on a run folder for as long as a training writes into it (``with RunLock(dir): ...``): the
    output-folder gate's lock (``baiseg.outdir.FolderLock``, file ``.lock``), naming the training that holds it."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir, "baiseg train", "run folder '{folder}' is in use by another training process "
                         "({holder}; lock '{lock}'): wait for it to end, or stop it first")
