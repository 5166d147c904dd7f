"""The sweep's table: per-seed values summarised as mean and spread, and the Markdown of ``sweep.json``
(``sweep.md``), written by ``baiseg.experiments.sweep.Sweep.write_table``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """``{"mean", "spread" (half the range), "runs"}`` of per-seed values (None where any is undefined)."""
    vals = list(values)
    if not vals or any(v is None for v in vals):
        return {"mean": None, "spread": None, "runs": vals}
    return {"mean": round(float(np.mean(vals)), 2), "spread": round((max(vals) - min(vals)) / 2, 2), "runs": vals}



def _images(rows: list[dict[str, Any]], baselines: list[dict[str, Any]]) -> int | None:
    counts = {run["images"] for row in rows for run in row["runs"]} | {b["images"] for b in baselines}
    return counts.pop() if len(counts) == 1 else None



def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"



def _cell(s: dict[str, Any]) -> str:
    if s["mean"] is None:
        return "n/a" if s["runs"] else "not yet measured"
    return f"{s['mean']:.1f}" if len(s["runs"]) == 1 else f"{s['mean']:.1f} ± {s['spread']:.1f}"



def render_markdown(table: dict[str, Any]) -> str:
    """The sweep as one markdown table (mean ± half the range over seeds where several)."""
    lines = []
    if table.get("description"):
        lines += [table["description"].strip(), ""]
    lines += [
        f"Config `{table['config']}` {' '.join(table['overrides'])}; train `{table['data_train']}`, evaluated on "
        f"`{table['data_val']}` ({table['eval_images'] if table['eval_images'] is not None else '?'} images, "
        f"`{table['weights']}`); {table['iters']} iterations x batch {table['batch_size']}, crop "
        f"{table['crop_size']}; seeds {', '.join(map(str, table['seeds']))}. VOC mAP^r in percent; mean ± half the "
        f"range over seeds. Params and GMACs: whole network (incl. the training-only projection head) and IABM, at "
        f"{table['complexity_size']}x{table['complexity_size']}. Train time: wall seconds per run.",
        "",
        "| row | seeds | mAP50 GT sem. | mAP75 GT sem. | mAP50 model sem. | mAP75 model sem. | params (M) | GMACs "
        "| IABM params (M) | IABM GMACs | train time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b in table["baselines"]:
        lines.append(f"| {b['method']} (reference, GT semantics) | - | {_f(b['gt']['mAP50'])} | "
                     f"{_f(b['gt']['mAP75'])} | - | - | - | - | - | - | - |")  # fmt: skip
    for r in table["rows"]:
        s = r["summary"]
        params = "-" if r["params"] is None else f"{r['params'] / 1e6:.3f}"
        macs = "-" if r["macs"] is None else f"{r['macs'] / 1e9:.2f}"
        iabm = "-" if r["iabm_macs"] is None else f"{r['iabm_macs'] / 1e9:.2f}"
        iabm_p = "-" if r["iabm_params"] is None else f"{r['iabm_params'] / 1e6:.3f}"
        wall = _cell(s["train_wall_s"]) if r["runs"] else "not yet measured"
        if r["trained_as"] != r["name"]:
            wall = f"(weights of '{r['trained_as']}')"
        lines.append(f"| {r['name']} | {r['seeds_done']}/{len(table['seeds'])} | {_cell(s['gt_mAP50'])} | "
                     f"{_cell(s['gt_mAP75'])} | {_cell(s['model_mAP50'])} | {_cell(s['model_mAP75'])} | {params} | "
                     f"{macs} | {iabm_p} | {iabm} | {wall} |")  # fmt: skip
    if not table["complete"]:
        lines += ["", "The sweep is not complete: rerun the same command to continue it."]
    return "\n".join(lines) + "\n"
