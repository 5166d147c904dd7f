#!/usr/bin/env bash
# Choose the instance step's default on the three TRAIN splits, leave-one-domain-out (docs/GENERALISATION.md).
# Usage: bash bench/generalise.sh PF_WEIGHTS COCO_WEIGHTS DSB_WEIGHTS [OUT_DIR]
# Runs, per domain (in parallel, one process each): the BAISeg grid below (GT semantics, network maps cached under
# .cache/maps/), the cc and dtws grids; then bench/select_lodo.py over them. Resumable: a JSON already written is kept.
set -euo pipefail
pf=$1; coco=$2; dsb=$3; out=${4:-docs/results/tuning/gen}
mkdir -p "$out"
grid="adapt_ref=0,0.97 marker_band=0,0.5 marker_band_max_px=16,24"
fixed="marker_band_min_free=0.3"
run() {  # domain weights
  local d=$1 w=$2
  [ -f "$out/${d}_train_cc.json" ] || .venv/bin/python bench/sweep.py --data "${d}_train" --method cc \
      --grid cc_min_area_px=0,16,64 --out "$out/${d}_train_cc.json" > /dev/null
  [ -f "$out/${d}_train_dtws.json" ] || .venv/bin/python bench/sweep.py --data "${d}_train" --method dtws \
      --grid dtws_peak_frac=0.3,0.4,0.5,0.6,0.7 dtws_min_area_px=0,16,64 --out "$out/${d}_train_dtws.json" > /dev/null
  # shellcheck disable=SC2086
  [ -f "$out/${d}_train_baiseg.json" ] || .venv/bin/python bench/sweep.py --data "${d}_train" --weights "$w" \
      --method baiseg --fixed $fixed --grid $grid --out "$out/${d}_train_baiseg.json" > "$out/${d}_train_baiseg.log"
}
run pennfudan "$pf" & run coco128_panoptic "$coco" & run dsb2018 "$dsb" &
wait
.venv/bin/python bench/select_lodo.py --baiseg "$out"/{pennfudan,coco128_panoptic,dsb2018}_train_baiseg.json \
    --baselines "$out/{domain}_train_{method}.json" --sam 'docs/results/sam/tuning/{domain}_train_p*.json' \
    --json "$out/lodo.json" --md "$out/lodo.md"
