"""Leave-one-domain-out selection of the instance step's default (train splits only; docs/GENERALISATION.md).

Takes one ``bench/sweep.py`` JSON per domain for BAISeg (the same grid on every domain's train split, GT semantics)
and, per domain, the baselines' sweeps (``cc``, ``dtws``: their best setting on that domain's own train split) and
optionally MobileSAM's (``bench/eval_sam.py`` JSONs: the best variant on that train split). For each held-out domain
D it picks the setting with the best score on the other domains and reports it on D beside D's own best setting
(the oracle), the joint choice over all domains and the strongest baseline tuned on D. Score of a setting on a
domain: mAP50 on all images + mAP50 on the images with touching instances.

    .venv/bin/python bench/select_lodo.py \\
        --baiseg docs/results/tuning/gen/{pennfudan,coco128_panoptic,dsb2018}_train_baiseg.json \\
        --baselines 'docs/results/tuning/gen/{domain}_train_{method}.json' \\
        --sam 'docs/results/sam/tuning/{domain}_train_p*.json' \\
        --json docs/results/tuning/gen/lodo.json --md docs/results/tuning/gen/lodo.md
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path
from typing import Any

if not __package__:  # run by its path: import the package ``bench`` (the repository root on sys.path only for that)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import bench  # noqa: F401
    del sys.path[0]


def _key(setting: dict[str, Any]) -> str:
    return json.dumps(setting, sort_keys=True)


def score(row: dict[str, Any]) -> float:
    """mAP50 (all) + mAP50 (touching) in percent points."""
    return (row["all"]["mAP50"] or 0.0) + (row["touching"]["mAP50"] or 0.0)


def _domain(data: str) -> str:
    return Path(str(data)).stem.removesuffix("_train")


def load_sweeps(paths: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """domain -> setting key -> row, for the BAiSeg sweeps (one per domain)."""
    out = {}
    for p in paths:
        d = json.loads(Path(p).read_text())
        out[_domain(d["data"])] = {_key(r["setting"]): r for r in d["rows"]}
    return out


def best_baselines(domain: str, pattern: str | None, sam_pattern: str | None) -> list[dict[str, Any]]:
    """The best row (by ``score``) of each baseline on this domain's train split."""
    rows = []
    for method in ("cc", "dtws"):
        if pattern is None:
            continue
        for p in glob.glob(pattern.format(domain=domain, method=method)):
            d = json.loads(Path(p).read_text())
            best = max(d["rows"], key=score)
            rows.append({"method": method, "setting": best["setting"], "all": best["all"],
                         "touching": best["touching"], "source": p})  # fmt: skip
    if sam_pattern:
        cands = []
        for p in sorted(glob.glob(sam_pattern.format(domain=domain))):
            d = json.loads(Path(p).read_text())
            for v in d["variants"]:
                setting = {"points_per_side": d["config"]["points_per_side"], **v["overrides"]}
                cands.append({"method": "sam", "setting": setting, "all": v["all"]["voc"],
                              "touching": v["touching"]["voc"], "source": p})  # fmt: skip
        if cands:
            rows.append(max(cands, key=score))
    return rows


def select(sweeps: dict[str, dict[str, dict[str, Any]]], domains: list[str]) -> str:
    """The setting key with the best summed score over ``domains`` (settings present in every sweep)."""
    common = set.intersection(*(set(sweeps[d]) for d in sweeps))
    return max(sorted(common), key=lambda k: sum(score(sweeps[d][k]) for d in domains))


def lodo(sweeps, baselines_pattern, sam_pattern) -> dict[str, Any]:
    domains = sorted(sweeps)
    joint = select(sweeps, domains)
    out: dict[str, Any] = {"domains": domains, "joint": json.loads(joint), "held_out": []}
    for d in domains:
        chosen = select(sweeps, [o for o in domains if o != d])
        oracle = max(sweeps[d], key=lambda k: score(sweeps[d][k]))
        rows = {"lodo": sweeps[d][chosen], "oracle": sweeps[d][oracle], "joint": sweeps[d][joint]}
        base = best_baselines(d, baselines_pattern, sam_pattern)
        best_base = max(base, key=score) if base else None
        out["held_out"].append({
            "domain": d, "chosen_on_others": json.loads(chosen), "oracle_setting": json.loads(oracle),
            "rows": {k: {"all": v["all"], "touching": v["touching"]} for k, v in rows.items()},
            "baselines": base, "best_baseline": best_base["method"] if best_base else None,
            "lodo_minus_best_baseline": round(score(rows["lodo"]) - score(best_base), 2) if best_base else None,
        })  # fmt: skip
    return out


def markdown(res: dict[str, Any]) -> str:
    def cell(r: dict[str, Any]) -> str:
        return (f"{r['all']['mAP50']:.1f} / {r['all']['mAP75']:.1f} \\| "
                f"{r['touching']['mAP50']:.1f} / {r['touching']['mAP75']:.1f}")  # fmt: skip

    lines = ["| held-out train split | chosen on the other two | joint (all three) | oracle (its own best) | "
             "cc | dtws | MobileSAM |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for h in res["held_out"]:
        base = {b["method"]: cell(b) for b in h["baselines"]}
        lines.append(f"| {h['domain']} | {cell(h['rows']['lodo'])} | {cell(h['rows']['joint'])} | "
                     f"{cell(h['rows']['oracle'])} | {base.get('cc', '-')} | {base.get('dtws', '-')} | "
                     f"{base.get('sam', '-')} |")  # fmt: skip
    lines.append("")
    lines.append("Cells: mAP50 / mAP75 on all images \\| on images with touching instances (GT semantics, train "
                 "split).")
    for h in res["held_out"]:
        lines.append(f"- without {h['domain']}: chose `{json.dumps(h['chosen_on_others'], sort_keys=True)}`")
    lines.append(f"- joint choice (the default): `{json.dumps(res['joint'], sort_keys=True)}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from baiseg.fileio import write_text_atomic
    from bench import provenance

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baiseg", nargs="+", required=True, help="bench/sweep.py JSONs, one per domain, same grid")
    ap.add_argument("--baselines", default=None, help="pattern with {domain} and {method} of cc / dtws sweeps")
    ap.add_argument("--sam", default=None, help="glob pattern with {domain} of bench/eval_sam.py JSONs")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    args = ap.parse_args(argv)
    prov = provenance.start(argv)
    sweeps = load_sweeps(args.baiseg)
    if len(sweeps) < 2:
        raise SystemExit("leave-one-domain-out needs sweeps of at least two domains")
    res = lodo(sweeps, args.baselines, args.sam)
    md = markdown(res)
    print(md)
    if args.json:
        provenance.write_json(args.json, {**res, "command": " ".join(["bench/select_lodo.py",
                                                                       *(argv or sys.argv[1:])])}, prov)  # fmt: skip
    if args.md:
        write_text_atomic(args.md, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
