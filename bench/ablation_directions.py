"""Each ablation step against the paper: our difference with its seed spread, the paper's, and a verdict.

    .venv/bin/python bench/ablation_directions.py docs/results/ablations/table3.json
    .venv/bin/python bench/ablation_directions.py docs/results/ablations/table7.json

Reads a sweep table (``baiseg sweep``'s ``sweep.json``) and prints one markdown table: for every step (Table 3:
each row against the row before it, the rows being cumulative; Table 7: each temperature against T = 0.2; Tables
4-5: each point against R = 4, dim 32) and for mAP50 / mAP75 with ground-truth semantics (the paper's setting):
our difference (mean over seeds) +- the sum of the two rows' half-ranges over seeds, the paper's difference, and

- ``agrees`` / ``disagrees``: the difference exceeds that sum and has the paper's sign / the other sign;
- ``within seed spread``: it does not exceed it (the step is not established by our runs);
- ``one seed``: a row has a single seed, so there is no spread to judge by.

The paper's numbers (VOC 2012 val, HRNet-W48, mAP^r in percent) are facts copied from its Tables 3, 4, 5 and 7.
``docs/ABLATIONS.md`` shows the output verbatim (tests/test_docs_tables.py checks it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# row name -> (paper mAP50, paper mAP75); None where the paper has no such row or value
PAPER: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "table3": {"none": (43.4, 28.1), "+CFM": (45.3, 31.3), "+DMA": (47.0, 32.1), "+PPC": (48.1, 31.7),
               "+refinement": (48.4, 32.3)},
    "table7": {"T=0.1": (47.4, None), "T=0.2": (48.4, None), "T=0.5": (47.6, None)},
    "tables45": {"R=1 dim=32": (44.5, None), "R=2 dim=32": (46.4, None), "R=4 dim=32": (47.2, None),
                 "R=4 dim=16": (46.9, None), "R=4 dim=64": (46.7, None)},
}  # fmt: skip
# Tables 4-5: the paper's points are R = 1, 2, 4 at dim 128 and dims 32 ... 256 at R = 4. Our widths are the paper's
# divided by 4 (our base dim 32 stands for its 128), so dim 16 / 64 are compared with the paper's dim 64 / 256.
REFERENCE = {"table7": "T=0.2", "tables45": "R=4 dim=32"}  # every row against this one; Table 3: the row before


def _kind(table: dict[str, Any]) -> str:
    names = {r["name"] for r in table["rows"]}
    for kind, rows in PAPER.items():
        if names <= set(rows):
            return kind
    raise SystemExit(f"rows {sorted(names)} are not those of a paper table ({', '.join(PAPER)})")


def steps(table: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per (step, metric) with our difference, its spread, the paper's difference and the verdict."""
    kind = _kind(table)
    rows = {r["name"]: r for r in table["rows"]}
    order = [r["name"] for r in table["rows"]]
    pairs = [(order[i - 1], order[i]) for i in range(1, len(order))] if kind == "table3" else [
        (REFERENCE[kind], n) for n in order if n != REFERENCE[kind]]  # fmt: skip
    out = []
    for base, row in pairs:
        for j, metric in enumerate(("mAP50", "mAP75")):
            a, b = rows[base]["summary"][f"gt_{metric}"], rows[row]["summary"][f"gt_{metric}"]
            pa, pb = PAPER[kind][base][j], PAPER[kind][row][j]
            paper = None if pa is None or pb is None else round(pb - pa, 1)
            if a["mean"] is None or b["mean"] is None:
                continue
            diff = round(b["mean"] - a["mean"], 1) or 0.0  # no "-0.0"
            spread = round(a["spread"] + b["spread"], 1)
            if min(len(a["runs"]), len(b["runs"])) < 2:
                verdict = "one seed"
            elif abs(diff) <= spread:
                verdict = "within seed spread"
            elif paper is None or paper == 0:
                verdict = "no paper value" if paper is None else "paper: no change"
            else:
                verdict = "agrees" if (diff > 0) == (paper > 0) else "disagrees"
            out.append({"from": base, "to": row, "metric": metric, "ours": diff, "spread": spread,
                        "seeds": min(len(a["runs"]), len(b["runs"])), "paper": paper, "verdict": verdict})  # fmt: skip
    return out


def markdown(table: dict[str, Any]) -> str:
    """The steps as a markdown table (the lines docs/ABLATIONS.md shows)."""
    lines = ["| step | metric (GT semantics) | ours | paper | verdict |", "|---|---|---|---|---|"]
    for s in steps(table):
        ours = f"{s['ours']:+.1f}" + (f" ± {s['spread']:.1f}" if s["seeds"] >= 2 else " (one seed)")
        paper = "-" if s["paper"] is None else f"{s['paper']:+.1f}"
        lines.append(f"| {s['from']} -> {s['to']} | {s['metric']} | {ours} | {paper} | {s['verdict']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("table", help="a sweep.json (e.g. docs/results/ablations/table3.json)")
    args = ap.parse_args()
    print(markdown(json.loads(Path(args.table).read_text())))


if __name__ == "__main__":
    main()
