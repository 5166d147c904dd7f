#!/usr/bin/env bash
# What each change of the instance step bought (docs/RESULTS.md §3): cumulative MEP settings, from the issue-6
# pipeline (config.PAPER_MEP) to the current defaults, on a TRAIN split with a trained model's maps, GT semantics.
# Usage: bash bench/ladder.sh DATA WEIGHTS OUT_PREFIX
set -euo pipefail
data=$1; weights=$2; out=$3
paper="boundary_thr=0.8 marker_source=boundary min_marker_px=16 flood_per_class=false min_area_px=64 merge_thr=0 merge_enclosed=false merge_neck_ratio=0 score_rule=evidence"
steps=(
  "$paper"
  "$paper score_rule=area min_area_px=0 min_marker_px=1"
  "$paper score_rule=area min_area_px=0 min_marker_px=1 flood_per_class=true"
  "$paper score_rule=area min_area_px=0 min_marker_px=1 flood_per_class=true marker_source=distance boundary_thr=0.9"
  "$paper score_rule=area min_area_px=0 min_marker_px=1 flood_per_class=true marker_source=distance boundary_thr=0.9 merge_thr=0.5"
  ""
)
for i in "${!steps[@]}"; do
  # shellcheck disable=SC2086
  .venv/bin/python bench/sweep.py --data "$data" --weights "$weights" --method baiseg --fixed ${steps[$i]} \
      --out "${out}_step$i.json" | tail -n 1
done
