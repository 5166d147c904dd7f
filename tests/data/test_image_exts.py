"""One list of image extensions (``baiseg.data.io.IMAGE_EXTS``) for every reader of image folders."""

from __future__ import annotations

import ast
from pathlib import Path

from baiseg.data import folders, io, pngs, voc

PACKAGE = Path(io.__file__).resolve().parents[1]


def test_every_reader_uses_the_one_list():
    from baiseg.commands import predict_io

    assert voc.IMAGE_EXTS is io.IMAGE_EXTS and pngs.IMAGE_EXTS is io.IMAGE_EXTS
    assert folders.IMAGE_EXTS is io.IMAGE_EXTS and predict_io.IMAGE_EXTS is io.IMAGE_EXTS
    owners = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            value = getattr(node, "value", None) if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if value is not None and all(e in ast.unparse(value) for e in ("'.jpg'", "'.png'")):  # a list of them
                owners.append(path.relative_to(PACKAGE).as_posix())
    assert owners == ["data/io.py"]


def test_find_image_takes_every_extension_in_order(tmp_path: Path):
    (tmp_path / "a.PGM").write_bytes(b"")  # the VOC reader had its own, shorter list: no .ppm / .pgm
    assert voc.find_image(tmp_path, "a") == tmp_path / "a.PGM"
    (tmp_path / "b.png").write_bytes(b"")
    (tmp_path / "b.jpg").write_bytes(b"")
    assert voc.find_image(tmp_path, "b") == tmp_path / "b.jpg"
    assert voc.find_image(tmp_path, "c") is None
