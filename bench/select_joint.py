"""Choose one MEP setting for all datasets from several ``bench/sweep.py`` JSONs over the same grid (train splits).

Each setting is scored by the sum over the sweeps of mAP50 on all images plus mAP50 on the images with touching
instances; a rule that holds on every dataset is preferred to per-dataset settings (docs/MEP.md).

    .venv/bin/python bench/select_joint.py docs/results/tuning/pennfudan_train_baiseg.json \\
        docs/results/tuning/coco128_panoptic_train_baiseg.json
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweeps", nargs="+", help="JSON files written by bench/sweep.py --out")
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args(argv)
    tables = [json.loads(open(p).read()) for p in args.sweeps]
    keyed = [{json.dumps(r["setting"], sort_keys=True): r for r in t["rows"]} for t in tables]
    common = set(keyed[0]).intersection(*keyed[1:])
    if not common:
        raise SystemExit("the sweeps share no setting: run them over the same grid")

    def score(key: str) -> float:
        return sum((k[key]["all"]["mAP50"] or 0) + (k[key]["touching"]["mAP50"] or 0) for k in keyed)

    ranked = sorted(common, key=score, reverse=True)
    names = [t["data"] for t in tables]
    print(f"score = sum over {', '.join(names)} of mAP50 (all) + mAP50 (touching); per sweep: all | touching mAP50")
    for key in ranked[: args.top]:
        per = "  ".join(f"{k[key]['all']['mAP50']:.1f}|{k[key]['touching']['mAP50']:.1f}" for k in keyed)
        print(f"{score(key):7.2f}  {per}  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
