"""The static page: ``index.html``, the viewer's own script and style (``baiseg/report/assets``), and the data as
small scripts (``window.REPORT = {...}``; ``REPORT_IMAGE(n, {...})``), which a page opened from ``file://`` may load
(a ``fetch`` of a local JSON file is refused by browsers). Nothing is fetched from the network.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from baiseg.report.staging import write_file

ASSETS = Path(__file__).with_name("assets")
ASSET_FILES = ("charts.js", "report.js", "report.css")


def _js_json(obj: Any) -> str:
    """JSON that is safe inside a ``<script>`` file (no ``</`` sequence, no NaN)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_plain).replace("</", "<\\/")


def _plain(x: Any) -> Any:
    if isinstance(x, set):
        return sorted(x)
    if hasattr(x, "item"):  # NumPy scalar
        return x.item()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


def write_image_data(out: Path, name: str, detail: dict[str, Any]) -> None:
    """``data/img/<name>.js``: one image's instances, loaded when the image is opened."""
    write_file(out / "data" / "img" / f"{name}.js", f"REPORT_IMAGE({json.dumps(name)},{_js_json(detail)});\n")


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="assets/report.css">
</head>
<body>
<header><h1>{title}</h1><nav id="nav"></nav></header>
<main id="app"><noscript>This report needs JavaScript (it runs locally; nothing is downloaded).</noscript></main>
<script src="data/summary.js"></script>
<script src="assets/charts.js"></script>
<script src="assets/report.js"></script>
</body>
</html>
"""


def write_page(out: Path, summary: dict[str, Any]) -> Path:
    """Write ``data/summary.js``, the assets and ``index.html`` into the staging folder ``out``.

    Args:
        out: the report folder.
        summary: the page's data; ``kind`` is ``"images"`` or ``"run"``, ``title`` a string.

    Returns:
        The path of ``index.html``.
    """
    write_file(out / "data" / "summary.js", f"window.REPORT = {_js_json(summary)};\n")
    for f in ASSET_FILES:
        write_file(out / "assets" / f, (ASSETS / f).read_bytes())
    write_file(out / "index.html", PAGE.format(title=html.escape(str(summary.get("title", "report")))))
    return out / "index.html"
