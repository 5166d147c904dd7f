/* The MEP's C kernels (plain C, no Python): see module.c for the Python functions that call them and
 * baiseg/postprocess/mep.py, merge.py for their NumPy/OpenCV fallbacks, which give the same results.
 * Every array is C-contiguous, H x W in raster order; sizes are ptrdiff_t. Functions returning int give 0 on success
 * and -1 when out of memory. */
#ifndef BAISEG_MEP_KERNELS_H
#define BAISEG_MEP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* mep.flood: level-wise geodesic flood of one region (todo = may be labelled), thresholds ascending, labels in place
 * (0 = unlabelled, > 0 labels, no negative values). */
int mep_flood_levels(const float *ev, int32_t *labels, const uint8_t *todo, const double *thr, ptrdiff_t nthr,
                     ptrdiff_t h, ptrdiff_t w);

/* mep.flood_per_class: every class region flooded on its own, in the box [y0, y1) x [x0, x1) holding every class
 * pixel; cls = class index (0 none, 1..nclasses ascending ids), markers <= 0 = none, top >= the largest marker in the
 * box; out zeros on entry. */
int mep_flood_classes(const float *ev, const int32_t *markers, const uint8_t *cls, ptrdiff_t nclasses,
                      ptrdiff_t levels, int32_t *out, ptrdiff_t w, ptrdiff_t y0, ptrdiff_t y1, ptrdiff_t x0,
                      ptrdiff_t x1, int32_t top);

/* Exact Euclidean distance to the nearest zero pixel of region (see edt.c). */
int mep_edt(const uint8_t *region, float *dist, ptrdiff_t h, ptrdiff_t w);

/* mep.label_boxes: boxes (n + 1) x 4 inclusive y0, y1, x0, x1, prefilled (INT64_MAX, -1, INT64_MAX, -1); labels
 * outside 1..n are skipped. */
void mep_label_boxes(const int32_t *labels, ptrdiff_t n, int64_t *boxes, ptrdiff_t h, ptrdiff_t w);

/* merge.border_strengths on a dense (n + 1) x (n + 1) table, zero on entry; labels outside 0..n are skipped. */
void mep_border_sums(const int32_t *labels, const float *b, const uint8_t *sem, ptrdiff_t n, double *sums,
                     int64_t *counts, ptrdiff_t h, ptrdiff_t w);

/* merge.open_border: count (n + 1), zero on entry; labels outside 0..n are skipped. */
void mep_open_border(const int32_t *labels, const uint8_t *sem, ptrdiff_t n, int64_t *count, ptrdiff_t h,
                     ptrdiff_t w);

/* mep._distance_seeds_in_box: seeds = dist > (float)frac * the peak of the pixel's component (1..k-1). Returns -1
 * when out of memory, -2 when a component id is >= k. */
int mep_peak_seeds(const float *dist, const int32_t *comp, ptrdiff_t k, double frac, uint8_t *seeds, ptrdiff_t n);

/* Predictor's semantic arg-max: labels[i] = the first k of the largest p[k * n + i] over k < c (c <= 256); the
 * values must be finite (the callers check). */
void mep_argmax_channels(const float *p, ptrdiff_t c, ptrdiff_t n, uint8_t *labels);

#endif
