#!/usr/bin/env bash
# The optional BAISeg + SAM stage (baiseg.sam.refine, docs/GENERALISATION.md "BAISeg + SAM"): its acceptance IoU is
# chosen on the train splits (the first 40 images of each, GT semantics, as MobileSAM's own settings were), then the
# stage is evaluated on val beside BAISeg alone. Resumable (finished evaluations are skipped).
#   bash bench/sam_refine.sh tune pennfudan runs/pennfudan_g_s0-001/last.safetensors
#   bash bench/sam_refine.sh val pennfudan runs/pennfudan_g_s0-001/last.safetensors 0.5
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:?tune or val}
DS=${2:?dataset prefix: pennfudan, coco128_panoptic or dsb2018}
W=${3:?BAISeg weights trained on ${DS}_train}
B=${BAISEG:-.venv/bin/baiseg}
OUT=runs/samref/$(basename "$(dirname "$W")")
ev() {  # out, extra args...
  local out=$1; shift
  [ -f "$out/metrics.json" ] || $B evaluate --weights "$W" --semantic gt --out "$out" "$@"
}
if [ "$WHAT" = tune ]; then
  ev "$OUT/train40_none" --data "${DS}_train" --limit 40
  for iou in 0.3 0.5 0.7; do ev "$OUT/train40_r$iou" --data "${DS}_train" --limit 40 --sam-refine $iou; done
else
  IOU=${4:?acceptance IoU chosen on train}
  for sub in all touching; do
    ev "$OUT/val_none_$sub" --data "${DS}_val" --subset $sub
    ev "$OUT/val_r${IOU}_$sub" --data "${DS}_val" --subset $sub --sam-refine "$IOU"
  done
fi
