"""The one parser of device names: ``train.device``, every ``--device`` option, ``Predictor(device=)``.

Accepted: ``auto`` (CUDA when a GPU is visible, else the CPU), ``cpu``, ``cuda`` and ``cuda:N``. Anything else
(``gpu``, ``cuda0``, ``CUDA``) is refused with the list, instead of silently training on the CPU or failing deep in
torch. ``resolve_device`` also refuses CUDA where none is visible.
"""

from __future__ import annotations

import re

from baiseg.errors import BaisegError

_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def parse_device(value: object, what: str = "device", error: type[Exception] = BaisegError) -> str:
    """The device name, checked (module docstring); ``what`` names the option in the message."""
    text = str(value).strip() if value is not None else ""
    if not _DEVICE.match(text):
        raise error(f"{what}={value!r} is not a device: use auto, cpu, cuda or cuda:N (N = the GPU index)")
    return text


def resolve_device(value: object, what: str = "device", error: type[Exception] = BaisegError) -> str:
    """``parse_device``, then ``auto`` -> ``cuda`` or ``cpu``; CUDA without a visible GPU is refused."""
    name = parse_device(value, what, error)
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise error(f"{what}={name} but no CUDA device is visible: use cpu or auto")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise error(f"{what}={name} but only {torch.cuda.device_count()} CUDA device(s) are visible")
    return name


def device_arg(value: str) -> str:
    """argparse ``type=`` of every ``--device`` option: a bad name is a usage error (exit 2) before any work."""
    import argparse

    try:
        return parse_device(value, "--device")
    except BaisegError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
