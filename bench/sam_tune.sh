#!/usr/bin/env bash
# MobileSAM + semantics, its settings chosen on each TRAIN split as BAISeg's are (docs/GENERALISATION.md): one SAM run
# per grid density on the first N train images (SAM costs 10-150 s per image on this CPU), every filter / ranking
# variant evaluated on the same proposals. Usage: bash bench/sam_tune.sh DOMAIN N [DENSITIES]
set -euo pipefail
d=$1; n=$2; dens=${3:-16 32}
mkdir -p docs/results/sam/tuning
for p in $dens; do
  out=docs/results/sam/tuning/${d}_train_p${p}.json
  [ -f "$out" ] && continue
  .venv/bin/python bench/eval_sam.py --data "${d}_train" --weights-sam .cache/mobilesam/mobile_sam.pt --limit "$n" \
      --score area,sam points_per_side="$p" min_area_px=0,16,64 stability_score_thresh=0.85,0.92 \
      pred_iou_thresh=0.8,0.88 --out "$out"
done
