"""Inputs and outputs of ``baiseg predict``: reading images or a dataset (``_Inputs.read``, run by the scheduler's
reader processes), checking and preparing the output folder. The command is in ``predict.py``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from baiseg import outdir
from baiseg.data.io import IMAGE_EXTS
from baiseg.errors import BaisegError, DataError
from baiseg.fileio import clean_stale_temps
from baiseg.inference.protocol import Item

OUTPUT_FILES = ("results.json", "skipped.json", "mep.yaml", "predict.json")
OUTPUT_DIRS = ("instances", "boundary", "overlays")
MIN_FREE_BYTES = 64 * 2**20  # refuse to start with less free space than this in --out


def _shipped_dataset(name: str) -> bool:
    """True for a bare name of a dataset YAML under baiseg/configs/datasets/ (e.g. ``pennfudan_val``)."""
    from baiseg.config import find_named_yaml
    from baiseg.data.spec import DATASETS_DIR

    return not Path(name).exists() and find_named_yaml(name, DATASETS_DIR)[0] is not None


class _Inputs:
    """Image files or a baiseg dataset: ``read(i)`` gives an ``Item`` (errors in it, never raised)."""

    def __init__(self, source: str, split: str | None, semantic_dir: str | None, num_classes: int) -> None:
        self.semantic_dir = Path(semantic_dir) if semantic_dir else None
        if self.semantic_dir is not None and not self.semantic_dir.is_dir():
            raise DataError(f"--semantic-dir '{semantic_dir}' is not a folder of <image id>.png files")
        self.num_classes = num_classes
        path = Path(source)
        self.dataset = None
        self.files: list[Path] = []
        if path.suffix.lower() in (".yaml", ".yml") or source == "synthetic" or _shipped_dataset(source):
            from baiseg.data import build_dataset

            self.dataset = build_dataset(source, split=split, load_instances=False)
        elif path.is_dir():
            self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())
            if not self.files:
                raise DataError(f"folder '{path}' holds no image ({', '.join(sorted(IMAGE_EXTS))})")
            from baiseg.instances import id_collisions

            clashes = id_collisions([p.stem for p in self.files], [str(p) for p in self.files])
            if clashes:
                more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
                raise DataError(clashes[0] + more)
        elif path.is_file():
            self.files = [path]
        else:
            raise DataError(
                f"--input '{source}' is neither an image, a folder, a dataset YAML nor a shipped dataset name"
            )

    def __len__(self) -> int:
        return len(self.dataset) if self.dataset is not None else len(self.files)

    def name(self, i: int) -> str:
        if self.dataset is None:
            return str(self.files[i])
        items = getattr(self.dataset, "items", None)  # a dataset's image file, so skipped.json names what to fix
        if isinstance(items, list) and i < len(items) and isinstance(items[i], dict) and "image" in items[i]:
            return str(items[i]["image"])
        return f"{self.dataset!r}[{i}]"

    def read(self, i: int) -> Item:
        """Input ``i`` as an ``Item`` (``baiseg.inference.protocol``): the decoded image and its external semantic
        map; an unreadable image sets ``error`` (skippable); ``extras["path"]`` names the input.

        Raises:
            DataError: a user error that stops the run (e.g. a bad semantic PNG), one line.
        """
        from baiseg.data.io import read_image, read_semantic_map

        path = self.name(i)
        item = Item(index=i, image_id=self.files[i].stem if self.dataset is None else str(i), extras={"path": path})
        try:
            if self.dataset is not None:
                s = self.dataset[i]
                item.image_id, item.image = str(s["image_id"]), s["image"]
                item.extras["path"] = str(s.get("path", path))
            else:
                item.image = read_image(self.files[i])
        except Exception as e:  # any decoding failure: one line naming the file, never a worker traceback
            item.error = f"cannot read '{item.extras['path']}': {_one_line(e)}"
            item.image = None
            return item
        try:
            if self.semantic_dir is not None:
                item.semantic = read_semantic_map(self.semantic_dir, item.image_id, item.image.shape[:2],
                                                  self.num_classes)
        except Exception as e:
            raise DataError(_one_line(e)) from None
        return item


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    text = msg[0] if msg else ""
    return text if isinstance(e, BaisegError) else f"{type(e).__name__}: {text}"


# --------------------------------------------------------------------------------------------------------- outputs
def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse an ``--out`` that is a file, holds an earlier predict's outputs (unless ``overwrite``), is not
    writable or has almost no free space. Read-only: nothing is created."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out '{out}' is a file: give a folder")
    old = [n for n in OUTPUT_FILES + OUTPUT_DIRS if (out / n).exists()] if out.is_dir() else []
    if old and not overwrite:
        raise DataError(f"--out '{out}' already holds the results of a predict run ({', '.join(old)}): "
                        "give a new folder or add --overwrite")  # fmt: skip
    if old and overwrite and not _stamped_by_predict(out):  # --overwrite deletes: only what a predict run wrote
        raise DataError(f"--out '{out}' holds {', '.join(old)} but no record that 'baiseg predict' wrote them "
                        f"({outdir.STAMP_NAME}): --overwrite removes only a predict run's outputs; give a new "
                        "folder")  # fmt: skip
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"--out '{out}' is not writable ('{parent}' does not let us create files)")
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        raise DataError(f"--out '{out}': only {free / 2**20:.0f} MiB free on its disk (at least "
                        f"{MIN_FREE_BYTES / 2**20:.0f} MiB needed): free space or write elsewhere")  # fmt: skip


def _stamped_by_predict(out: Path) -> bool:
    """Whether ``out``'s stamp (``baiseg.outdir``) records a ``baiseg predict`` run."""
    import json

    try:
        return json.loads((out / outdir.STAMP_NAME).read_text()).get("command") == "predict"
    except (OSError, ValueError, AttributeError):
        return False


def prepare_out_dir(out: Path, overwrite: bool, overlays: bool) -> None:
    """Create the output folders; with ``overwrite`` remove an earlier run's outputs; clean stale temp files."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for n in OUTPUT_FILES:
                (out / n).unlink(missing_ok=True)
            for n in OUTPUT_DIRS:
                if (out / n).is_dir():
                    shutil.rmtree(out / n)
        for sub in OUTPUT_DIRS[:2] + (("overlays",) if overlays else ()):
            (out / sub).mkdir(exist_ok=True)
        probe = out / f".write_probe.{os.getpid()}.probe.tmp"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as e:
        raise DataError(f"--out '{out}' cannot be written: {e.strerror or e}") from None
    clean_stale_temps(out, recursive=True)
