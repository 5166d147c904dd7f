"""Options shared by several commands, defined and checked once: the process and thread counts (``--workers`` of
``evaluate`` and ``pseudo``, ``predict --workers / --mep-workers / --threads``)."""

from __future__ import annotations

import argparse

from baiseg.config_rules import MAX_THREADS
from baiseg.errors import BaisegError


def add_workers_option(p: argparse.ArgumentParser, what: str, default: int = 1) -> None:
    """``--workers N``: processes running ``what`` (the scheduler segmenter's ``finish``; 0 = one thread of the main
    process). Check it with :func:`check_count`."""
    p.add_argument("--workers", type=int, default=default,
                   help=f"processes running {what} (0 = one thread of the main process; default {default})")


def check_count(value: int, flag: str) -> None:
    """Refuse a negative number of processes or threads, or one above ``MAX_THREADS`` (a pool would fork that many
    processes; torch aborts the process for such thread counts).

    Raises:
        BaisegError: one line naming the option.
    """
    if value < 0:
        raise BaisegError(f"{flag} {value} must be >= 0")
    if value > MAX_THREADS:
        raise BaisegError(f"{flag} {value} must be <= {MAX_THREADS}")
