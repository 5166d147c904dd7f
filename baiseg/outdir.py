"""The output-folder gate: every command that writes a folder passes it before any work starts.

Two steps, so that a command can refuse a bad ``--out`` at once and still create nothing before its inputs are read:

- ``check_path(path)`` (read only): refuses a path with a component over 255 bytes or a total over 4095 bytes (the
  ``ENAMETOOLONG`` of Linux), a folder that is an existing file (or a file that is an existing folder), a path whose
  nearest existing parent is a file, and a place that does not let us create files;
- ``claim(path, command, identity)``: creates the folder, takes its lock (``.lock``, ``fcntl.flock``: held for the
  rest of the command, released by the CLI or when the process ends, so a dead process's lock is taken over without
  a word) and compares ``identity`` with what the folder records of the run that produced it (``.baiseg_out.json``):
  a folder written by another command, or by the same command on other inputs, is refused instead of being mixed.

The lock is re-entrant within one process (a command that calls another on the same folder holds it once).
``engine.resume.RunLock`` locks a training's run folder with the same ``FolderLock``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
from pathlib import Path
from typing import Any

from baiseg.errors import BaisegError

NAME_MAX = 255  # bytes in one path component (Linux, macOS)
PATH_MAX = 4095  # bytes in a whole path
LOCK_NAME = ".lock"
STAMP_NAME = ".baiseg_out.json"


def check_path(path: str | os.PathLike, flag: str = "--out", *, folder: bool = True) -> Path:
    """Refuse an output path that cannot be written (one line naming ``flag``); nothing is created.

    Args:
        path: the folder (``folder=True``) or file to be written; it may not exist yet.
        flag: how the message names the option (``--out``, ``train.out_dir``).
        folder: the command writes a folder at ``path`` (else a file).

    Returns:
        ``path`` as a Path.
    """
    if str(path).strip() == "":
        raise BaisegError(f"{flag} is empty: give a {'folder' if folder else 'file'} path")
    p = Path(path)
    raw = os.fsencode(os.path.abspath(p))
    if len(raw) > PATH_MAX:
        raise BaisegError(f"{flag} '{_short(p)}' is {len(raw)} bytes long (at most {PATH_MAX}): give a shorter path")
    for part in p.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise BaisegError(f"{flag}: the name '{_short(part)}' is {len(os.fsencode(part))} bytes long (at most "
                              f"{NAME_MAX} per folder or file name): give a shorter name")  # fmt: skip
    if "\0" in str(p):
        raise BaisegError(f"{flag} '{_short(p)}' holds a NUL character: give a valid path")
    if folder and p.exists() and not p.is_dir():
        raise BaisegError(f"{flag} '{p}' is a file: give a folder")
    if not folder and p.is_dir():
        raise BaisegError(f"{flag} '{p}' is a folder: give a file name")
    parent = p if folder else p.parent
    parent = Path(os.path.abspath(parent))
    while not parent.exists() and not parent.is_symlink():
        parent = parent.parent
    if not parent.is_dir():
        raise BaisegError(f"{flag} '{p}' cannot be created: '{parent}' is a file (or a broken link), not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BaisegError(f"{flag} '{p}' is not writable ('{parent}' does not let us create files)")
    if os.statvfs(parent).f_flag & os.ST_RDONLY:
        raise BaisegError(f"{flag} '{p}' is not writable ('{parent}' is on a read-only file system)")
    return p


def _short(x: object, n: int = 60) -> str:
    s = str(x)
    return s if len(s) <= n else s[: n // 2] + "..." + s[-n // 2 :]


class FolderLock:
    """An exclusive ``flock`` on ``folder/.lock`` that names its holder (pid and command) for the refusal message.

    ``with FolderLock(dir, "baiseg predict"): ...`` or ``acquire()`` / ``release()``. A lock file left by a dead
    process is taken over (the kernel drops a dead process's flock). ``message`` formats the refusal with
    ``{folder}``, ``{lock}`` and ``{holder}``.
    """

    MESSAGE = ("'{folder}' is in use by another baiseg process ({holder}; lock '{lock}'): wait for it to end, or "
               "give another folder")  # fmt: skip

    def __init__(self, folder: str | os.PathLike, command: str, message: str | None = None) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.command = command
        self.message = message or self.MESSAGE
        self.fd: int | None = None

    def acquire(self) -> FolderLock:
        """Take the lock or raise BaisegError naming its holder."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise BaisegError(f"'{self.folder}' cannot be written (lock file '{self.path}': "
                              f"{e.strerror or e})") from None  # fmt: skip
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise BaisegError(self.message.format(folder=self.folder, lock=self.path,
                                                      holder=holder(self.folder))) from None  # fmt: skip
            print(f"baiseg: warning: '{self.folder}' cannot be locked ({e.strerror or e}): another process could "
                  "write into it at the same time", file=sys.stderr)  # fmt: skip
            return self
        self.fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.command}\n".encode())
        return self

    def release(self) -> None:
        """Drop the lock (the file stays: removing it could let two processes lock two different files)."""
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(folder: str | os.PathLike) -> str:
    """``pid N: <command>`` of the process that wrote ``folder/.lock`` ("unknown process" when unreadable)."""
    try:
        pid, _, command = (Path(folder) / LOCK_NAME).read_text().strip().partition(" ")
        return f"pid {int(pid)}: {command or 'baiseg'}"
    except (OSError, ValueError):
        return "unknown process"


def is_locked(folder: str | os.PathLike) -> bool:
    """Whether another process holds ``folder``'s lock (read only: no file is created)."""
    path = Path(folder) / LOCK_NAME
    if _HELD.get(_key(folder)) is not None or not path.is_file():
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False


def refuse_if_locked(folder: str | os.PathLike, flag: str = "--out") -> None:
    """Raise BaisegError when another process is writing into ``folder`` (read only; see ``is_locked``)."""
    if is_locked(folder):
        raise BaisegError(f"{flag} " + FolderLock.MESSAGE.format(folder=folder, lock=Path(folder) / LOCK_NAME,
                                                                 holder=holder(folder)))  # fmt: skip


#: The folders this process holds: resolved path -> lock (``claim`` is re-entrant).
_HELD: dict[str, FolderLock] = {}


def _key(folder: str | os.PathLike) -> str:
    return os.path.realpath(folder)


def claim(path: str | os.PathLike, command: str, identity: dict[str, Any] | None = None,
          flag: str = "--out", *, beside: bool = False) -> Path:  # fmt: skip
    """Pass the gate: check ``path``, create it, lock it for this process and check what produced it.

    Args:
        path: the output folder.
        command: the command writing it (``predict``, ``pseudo`` ...), recorded in the lock and the stamp.
        identity: what defines this run's outputs (JSON values: data, method, weights ...); a folder whose stamp
            records another identity (or another command) is refused. None: only the command is compared.
        flag: how messages name the option.
        beside: the command only adds files that no other command writes (``evaluate --predictions``: metrics.json
            beside a predict run's results.json): a folder of another command is accepted and keeps its stamp.

    Returns:
        ``path`` as a Path (created, locked until ``release_all`` or the end of the process).
    """
    p = check_path(path, flag)
    key = _key(p)
    if key in _HELD:
        _check_stamp(p, command, identity, flag, beside)
        return p
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BaisegError(f"{flag} '{p}' cannot be created: {e.strerror or e}") from None
    lock = FolderLock(p, f"baiseg {command}", f"{flag} " + FolderLock.MESSAGE).acquire()
    try:
        _check_stamp(p, command, identity, flag, beside)
    except BaseException:
        lock.release()
        raise
    _HELD[key] = lock
    return p


def _check_stamp(p: Path, command: str, identity: dict[str, Any] | None, flag: str, beside: bool) -> None:
    from baiseg.fileio import write_json_atomic

    stamp = p / STAMP_NAME
    new = {"command": command, "identity": json.loads(json.dumps(identity, default=str))}
    try:
        old = json.loads(stamp.read_text()) if stamp.is_file() else None
    except (OSError, ValueError):
        old = None  # unreadable: written anew below
    if beside and isinstance(old, dict) and old.get("command") != command:
        return
    if isinstance(old, dict) and old.get("command") not in (None, command):
        raise BaisegError(f"{flag} '{p}' holds the outputs of 'baiseg {old['command']}', not of 'baiseg {command}': "
                          "give another folder")  # fmt: skip
    if isinstance(old, dict) and identity is not None and old.get("identity") not in (None, new["identity"]):
        was = old["identity"] if isinstance(old["identity"], dict) else {}
        diff = [f"{k}: {was.get(k)!r} then, {v!r} now" for k, v in new["identity"].items() if was.get(k) != v]
        raise BaisegError(f"{flag} '{p}' holds another run of 'baiseg {command}' ({'; '.join(diff[:3])}): give "
                          "another --out, or delete the folder to start again")  # fmt: skip
    if old != new and (identity is not None or old is None):
        write_json_atomic(stamp, new, indent=1)


def release(path: str | os.PathLike) -> None:
    """Release the lock ``claim`` took on ``path`` (nothing when this process does not hold it)."""
    lock = _HELD.pop(_key(path), None)
    if lock is not None:
        lock.release()


def release_all() -> None:
    """Release every folder this process claimed (the CLI calls this when a command ends)."""
    for key in list(_HELD):
        _HELD.pop(key).release()
