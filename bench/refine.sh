#!/usr/bin/env bash
# The refinement table of docs/RESULTS.md ("Refinement"): pseudo labels on the TRAIN split (BAISeg with GT
# semantics, and the cc / dtws baselines), the same Mask R-CNN (maskrcnn_lite0) trained on each and on the true
# instances (fully supervised), each evaluated on the val split. Resumable: rerun the same command after a kill or a
# session end (finished steps are skipped, a half-finished training resumes from its checkpoint.pt).
#
#   bash bench/refine.sh pennfudan runs/pennfudan_lite0_s0-001/last.safetensors
#   bash bench/refine.sh coco128_panoptic runs/coco128_panoptic_lite0_s0-001/last.safetensors
#
# Trainings run with data.val=null (no selection on val): the reported weights are last.safetensors.
# EXTRA="k=v ..." is passed to every training, new or resumed (e.g. EXTRA="train.threads=1 data.num_workers=1" beside
# another job). MEP="mep.k=v ..." is passed to `pseudo` and to BAISeg's own evaluations (default: none, i.e. the MEP stored with the
# weights). For weights trained before the tuned defaults of docs/RESULTS.md §3, give those defaults explicitly:
#   MEP="mep.boundary_thr=0.9 mep.min_marker_px=1 mep.min_area_px=0" bash bench/refine.sh coco128_panoptic W
# DTWS="mep.k=v ..." / CC="mep.k=v ..." give the baselines their best setting on this train split (docs/GENERALISATION.md),
# e.g. on DSB, where images hold up to 375 nuclei (so Mask R-CNN keeps up to 500 detections) and the train split has
# 45 images (250 iterations of 2 images = 11 epochs, against 8 on Penn-Fudan's 120 with 500):
#   DTWS="mep.dtws_peak_frac=0.6" EXTRA="train.iters=250 model.rcnn.detections=500 model.rcnn.rpn_test_top_n=1000" \
#     bash bench/refine.sh dsb2018 runs/dsb2018_g_s0-001/last.safetensors
# PSEUDO_METHODS / RCNN_METHODS choose the steps (default: baiseg dtws cc / baiseg dtws full cc); "sam" is MobileSAM +
# GT semantics (`baiseg pseudo --method sam`, settings SAM="sam.k=v ..." chosen on the train split; SAM_WEIGHTS);
# OWN=0 skips BAISeg's own val evaluations (the rows the table compares with). The MobileSAM† row on Penn-Fudan:
#   PSEUDO_METHODS=sam RCNN_METHODS=sam OWN=0 bash bench/refine.sh pennfudan -
set -euo pipefail
cd "$(dirname "$0")/.."
DS=${1:?dataset prefix: pennfudan, coco128_panoptic or dsb2018}
W=${2:?BAISeg weights trained on ${DS}_train}
SEED=${SEED:-0}
EXTRA=${EXTRA:-}
MEP=${MEP:-}
DTWS=${DTWS:-}
CC=${CC:-}
SAM=${SAM:-}
SAM_WEIGHTS=${SAM_WEIGHTS:-.cache/mobilesam/mobile_sam.pt}
PSEUDO_METHODS=${PSEUDO_METHODS:-baiseg dtws cc}
RCNN_METHODS=${RCNN_METHODS:-baiseg dtws full cc}
OWN=${OWN:-1}
B=${BAISEG:-.venv/bin/baiseg}
OUT=runs/refine
mkdir -p "$OUT" docs/results/refine

for m in $PSEUDO_METHODS; do  # pseudo labels (GT semantics) and their quality against the train instances
  P=$OUT/pseudo_${DS}_$m
  args=(--data "${DS}_train" --method $m --semantic gt --out "$P" --no-progress)
  [ $m = baiseg ] && args+=(--weights "$W" $MEP)
  [ $m = dtws ] && args+=($DTWS)
  [ $m = cc ] && args+=($CC)
  [ $m = sam ] && args+=(--sam-weights "$SAM_WEIGHTS" $SAM)
  [ -f "$P/pseudo.json" ] || $B pseudo "${args[@]}"
  [ -f "$P/quality/metrics.json" ] || $B evaluate --data "${DS}_train" --predictions "$P/results.json" --out "$P/quality"
done

train() {  # name, data.train
  local name=$1 data=$2 dir=$OUT/$1-001
  if [ -f "$dir/checkpoint.pt" ]; then
    $B train --resume "$dir" --no-progress $EXTRA
  else
    rm -rf "$dir"
    $B train maskrcnn_lite0 --no-progress train.name="$1" train.out_dir=$OUT train.seed="$SEED" \
      data.train="$data" data.val=null $EXTRA
  fi
}
for m in $RCNN_METHODS; do
  name=rcnn_${DS}_${m}_s$SEED
  data=$OUT/pseudo_${DS}_$m/pseudo.yaml
  [ $m = full ] && data=${DS}_train
  [ -f "$OUT/$name-001/eval/metrics.json" ] && continue
  train "$name" "$data"
  $B evaluate --data "${DS}_val" --weights "$OUT/$name-001/last.safetensors" --subset touching \
    --out "$OUT/$name-001/eval_touching"
  $B evaluate --data "${DS}_val" --weights "$OUT/$name-001/last.safetensors" --out "$OUT/$name-001/eval"
done

# BAISeg itself on val (the rows the refinement is compared with): model semantics and GT semantics
for s in $([ "$OWN" = 1 ] && echo model gt); do
  for sub in all touching; do
    E=$OUT/baiseg_${DS}_s${SEED}_$s
    [ $sub = touching ] && E=${E}_touching
    [ -f "$E/metrics.json" ] || $B evaluate --data "${DS}_val" --weights "$W" --semantic $s --subset $sub --out "$E" $MEP
  done
done

# COCO subset: the same 80-class models on the VOC-20 view of val (classes matched by name, Predictor.for_classes)
if [ "$DS" = coco128_panoptic ]; then
  for m in $RCNN_METHODS; do
    R=$OUT/rcnn_${DS}_${m}_s$SEED-001
    [ -f "$R/last.safetensors" ] || continue
    [ -f "$R/eval_voc/metrics.json" ] || $B evaluate --data coco128_voc_val --weights "$R/last.safetensors" --out "$R/eval_voc"
    [ -f "$R/eval_voc_touching/metrics.json" ] || $B evaluate --data coco128_voc_val --weights "$R/last.safetensors" \
      --subset touching --out "$R/eval_voc_touching"
  done
  for s in $([ "$OWN" = 1 ] && echo model gt); do
    for sub in all touching; do
      E=$OUT/baiseg_${DS}_s${SEED}_${s}_voc
      [ $sub = touching ] && E=${E}_touching
      [ -f "$E/metrics.json" ] || $B evaluate --data coco128_voc_val --weights "$W" --semantic $s --subset $sub \
        --out "$E" $MEP
    done
  done
fi
