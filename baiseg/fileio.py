"""Atomic file output: every file the project writes appears whole or not at all.

``atomic_write`` writes to a temporary file in the destination folder, fsyncs it and renames it over the target, so a
crash or a kill at any moment leaves either the previous file or the complete new one, never a truncated one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)``, fsync, then rename over ``path`` (its folder is created when missing).

    Args:
        path: final file path.
        write: writes the complete file at the temporary path it is given.

    Returns:
        ``path`` as a Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


TMP_SUFFIX = ".tmp"
#: Our temporary files: ``.<final name>.<writer pid>.<random>.tmp`` (mkstemp) or ``.<name>.<pid>.<tag>.tmp``.
_TMP_RE = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+\.tmp$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale_temps(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Remove the temporary files that a killed atomic write left behind in ``folder``.

    Only files of our own naming (``.<name>.<pid>.<tag>.tmp``) whose writer process is gone are removed; a write in
    progress in a live process is left alone.

    Args:
        folder: where to look (nothing happens when it does not exist).
        recursive: also look in sub-folders.

    Returns:
        The removed paths.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    removed = []
    for p in root.rglob(".*" + TMP_SUFFIX) if recursive else root.glob(".*" + TMP_SUFFIX):
        m = _TMP_RE.match(p.name)
        if m is None or not p.is_file() or _alive(int(m.group(1))):
            continue
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically (UTF-8)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write a binary file atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = None) -> Path:
    """Write ``obj`` as JSON atomically (NaN/inf are refused: JSON has no such values)."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, allow_nan=False))


PNG_COMPRESSION = 1  # zlib level: lossless at any level; 1 is the fastest that still compresses (docs/SPEED.md)


def write_png_atomic(path: str | os.PathLike, array: np.ndarray, compression: int = PNG_COMPRESSION) -> Path:
    """Write a uint8 H x W (x 3, RGB) or uint16 H x W array as a PNG atomically.

    Args:
        compression: zlib level 0-9; the pixels are the same at every level, higher levels give smaller files and
            take longer (OpenCV's encoder; docs/SPEED.md has the timings).
    """
    import cv2

    arr = np.asarray(array)
    if not (arr.dtype == np.uint8 and arr.ndim in (2, 3) and (arr.ndim == 2 or arr.shape[2] == 3)
            or arr.dtype == np.uint16 and arr.ndim == 2):  # fmt: skip
        raise ValueError(f"write_png_atomic: give uint8 H x W (x 3) or uint16 H x W, not {arr.dtype} {arr.shape}")
    if arr.ndim == 3:
        arr = arr[..., ::-1]  # OpenCV encodes BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr), [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise OSError(f"PNG encoding of a {arr.dtype} {arr.shape} array failed")
    return write_bytes_atomic(path, buf.tobytes())


class DuplicateKeyError(ValueError):
    """A JSON object names one key twice (``json.loads`` would keep the last value without a word)."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise DuplicateKeyError(f"the key '{key}' appears twice in one object (the second would silently replace "
                                "the first)")  # fmt: skip
    return obj


def loads_json_strict(text: str) -> Any:
    """``json.loads`` that refuses an object naming a key twice (``DuplicateKeyError``, a ValueError): the one JSON
    reader of the user's JSON inputs (COCO annotation files, results files)."""
    return json.loads(text, object_pairs_hook=_unique_pairs)
