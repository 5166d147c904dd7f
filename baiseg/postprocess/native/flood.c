/* The level-wise geodesic flood of baiseg.postprocess.mep.flood and mep.flood_per_class.
 *
 * The same result as the Python/OpenCV implementation, pixel for pixel: for each threshold t in ascending order,
 * labels grow into the open pixels (to do, elevation <= t) one 8-connected step at a time, every newly reached pixel
 * taking the largest label among its labelled neighbours; a level ends when a step labels nothing. Instead of
 * dilating the whole map per step, it keeps lists of pixels (see grow()): every to-do pixel is looked at about
 * twice in all, instead of once per step and level. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#define CLOSED UINT16_MAX /* level of a pixel that never opens: labelled, not to do, or the padding frame */

/* A label map with a 1-pixel frame (closed, unlabelled), so the 8 neighbours of a pixel are at fixed offsets. */
typedef struct {
    ptrdiff_t h, w, W, N, nthr;
    uint16_t *level; /* (h+2) x (w+2): the level at which a to-do pixel opens, CLOSED for the others */
    int32_t *lab;    /* (h+2) x (w+2) labels, 0 = unlabelled */
    uint8_t *cls;    /* (h+2) x (w+2) class index (growth stays inside a class), or NULL (one region) */
    ptrdiff_t *todo; /* the to-do pixels (level < nthr), in raster order, filled by the caller; ntodo of them */
    ptrdiff_t ntodo;
} Grid;

static int grid_alloc(Grid *g, ptrdiff_t h, ptrdiff_t w, ptrdiff_t nthr, int with_classes) {
    g->h = h, g->w = w, g->W = w + 2, g->N = (h + 2) * (w + 2), g->nthr = nthr;
    g->level = (uint16_t *)malloc((size_t)g->N * sizeof(uint16_t));
    g->lab = (int32_t *)calloc((size_t)g->N, sizeof(int32_t));
    g->cls = with_classes ? (uint8_t *)calloc((size_t)g->N, 1) : NULL;
    g->todo = (ptrdiff_t *)malloc((size_t)g->N * sizeof(ptrdiff_t));
    g->ntodo = 0;
    if (!g->level || !g->lab || !g->todo || (with_classes && !g->cls)) return -1;
    for (ptrdiff_t q = 0; q < g->N; q++) g->level[q] = CLOSED;
    return 0;
}

static void grid_free(Grid *g) {
    free(g->level);
    free(g->lab);
    free(g->cls);
    free(g->todo);
}

/* The first threshold that e is at or below; nthr when above all (NaN never opens, like e <= t in NumPy). */
static inline uint16_t level_of(double e, const double *thr, ptrdiff_t nthr) {
    ptrdiff_t k = 0;
    while (k < nthr && !(e <= thr[k])) k++;
    return (uint16_t)k;
}

/* numpy.linspace(lo, hi, levels + 1)[1:] (or [hi] when hi <= lo), with NumPy's float64 arithmetic. */
static ptrdiff_t thresholds(double lo, double hi, ptrdiff_t levels, double *thr) {
    if (!(hi > lo) || levels < 1) {
        thr[0] = hi;
        return 1;
    }
    double delta = hi - lo, step = delta / (double)levels;
    for (ptrdiff_t i = 1; i <= levels; i++)
        thr[i - 1] = step == 0.0 ? ((double)i / (double)levels) * delta + lo : (double)i * step + lo;
    thr[levels - 1] = hi;
    return levels;
}

/* Level-wise growth on a filled grid. Returns 0, or -1 when out of memory.
 *
 * The first step of a level only looks at that level's newly opened pixels: an open pixel left unlabelled at the end
 * of a level has no labelled neighbour (the level would have gone on), so only newly opened pixels can touch a label
 * when a level starts; every later step only reaches neighbours of the pixels labelled by the step before. */
static int grow(Grid *g) {
    const ptrdiff_t W = g->W, N = g->N, nthr = g->nthr;
    const ptrdiff_t off[8] = {-W - 1, -W, -W + 1, -1, 1, W - 1, W, W + 1};
    uint16_t *level = g->level;
    int32_t *lab = g->lab;
    const uint8_t *cls = g->cls;
    ptrdiff_t *count = NULL, *start = NULL, *bucket = NULL, *front = NULL, *reached = NULL;
    int32_t *pend = NULL;
    int rc = -1;
    count = (ptrdiff_t *)calloc((size_t)nthr + 1, sizeof(ptrdiff_t));
    start = (ptrdiff_t *)calloc((size_t)nthr + 2, sizeof(ptrdiff_t));
    if (!count || !start) goto done;
    const ptrdiff_t ntodo = g->ntodo;
    for (ptrdiff_t a = 0; a < ntodo; a++) count[level[g->todo[a]]]++;
    if (ntodo == 0) {
        rc = 0;
        goto done;
    }
    for (ptrdiff_t k = 0; k < nthr; k++) start[k + 1] = start[k] + count[k];
    bucket = (ptrdiff_t *)malloc((size_t)ntodo * sizeof(ptrdiff_t));
    front = (ptrdiff_t *)malloc((size_t)ntodo * sizeof(ptrdiff_t));
    reached = (ptrdiff_t *)malloc((size_t)ntodo * sizeof(ptrdiff_t));
    pend = (int32_t *)calloc((size_t)N, sizeof(int32_t));
    if (!bucket || !front || !reached || !pend) goto done;
    memset(count, 0, (size_t)(nthr + 1) * sizeof(ptrdiff_t));
    for (ptrdiff_t a = 0; a < ntodo; a++) {
        ptrdiff_t q = g->todo[a];
        bucket[start[level[q]] + count[level[q]]++] = q;
    }
    for (ptrdiff_t k = 0; k < nthr; k++) {
        /* first step: the pixels opened at this level that touch a label (labels as before the step) */
        ptrdiff_t nfront = 0;
        for (ptrdiff_t a = start[k]; a < start[k + 1]; a++) {
            ptrdiff_t q = bucket[a];
            int32_t m = 0;
            for (int d = 0; d < 8; d++) {
                ptrdiff_t p = q + off[d];
                if (lab[p] > m && (!cls || cls[p] == cls[q])) m = lab[p];
            }
            if (m > 0) {
                pend[q] = m;
                front[nfront++] = q;
            }
        }
        for (ptrdiff_t a = 0; a < nfront; a++) {
            lab[front[a]] = pend[front[a]];
            pend[front[a]] = 0;
            level[front[a]] = CLOSED;
        }
        /* later steps: the open unlabelled neighbours of the pixels labelled by the step before */
        while (nfront > 0) {
            ptrdiff_t nreached = 0;
            for (ptrdiff_t a = 0; a < nfront; a++) {
                ptrdiff_t p = front[a];
                int32_t l = lab[p];
                for (int d = 0; d < 8; d++) {
                    ptrdiff_t q = p + off[d];
                    if (level[q] > k) continue;                 /* not open at this level, or labelled */
                    if (cls && cls[q] != cls[p]) continue;      /* another class */
                    if (pend[q] == 0) reached[nreached++] = q;
                    if (l > pend[q]) pend[q] = l;
                }
            }
            for (ptrdiff_t a = 0; a < nreached; a++) {
                ptrdiff_t q = reached[a];
                lab[q] = pend[q];
                pend[q] = 0;
                level[q] = CLOSED;
                front[a] = q;
            }
            nfront = nreached;
        }
    }
    rc = 0;
done:
    free(count);
    free(start);
    free(bucket);
    free(front);
    free(reached);
    free(pend);
    return rc;
}

/* Copy the grid's labels back into the box [y0, y0 + g->h) x [x0, x0 + g->w) of an image of width w. */
static void grid_copy_out(const Grid *g, int32_t *out, ptrdiff_t y0, ptrdiff_t x0, ptrdiff_t w) {
    for (ptrdiff_t y = 0; y < g->h; y++)
        memcpy(out + (y0 + y) * w + x0, g->lab + (y + 1) * g->W + 1, (size_t)g->w * sizeof(int32_t));
}

/* mep.flood: one region, given thresholds. Works in the box of the to-do pixels grown by one pixel (the labels
 * next to them). */
int mep_flood_levels(const float *ev, int32_t *labels, const uint8_t *todo, const double *thr, ptrdiff_t nthr,
                      ptrdiff_t h, ptrdiff_t w) {
    Grid g;
    int rc = -1;
    ptrdiff_t y0 = h, y1 = -1, x0 = w, x1 = -1;
    memset(&g, 0, sizeof(g));
    for (ptrdiff_t y = 0; y < h; y++)
        for (ptrdiff_t x = 0; x < w; x++)
            if (todo[y * w + x] && labels[y * w + x] == 0) {
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
            }
    if (y1 < 0) return 0;
    y0 = y0 > 0 ? y0 - 1 : 0, x0 = x0 > 0 ? x0 - 1 : 0;
    y1 = y1 + 1 < h ? y1 + 2 : h, x1 = x1 + 1 < w ? x1 + 2 : w;
    if (grid_alloc(&g, y1 - y0, x1 - x0, nthr, 0) < 0) goto done;
    for (ptrdiff_t y = y0; y < y1; y++) {
        ptrdiff_t r = (y - y0 + 1) * g.W + 1 - x0, i = y * w;
        memcpy(g.lab + r + x0, labels + i + x0, (size_t)(x1 - x0) * sizeof(int32_t));
        for (ptrdiff_t x = x0; x < x1; x++)
            if (todo[i + x] && labels[i + x] == 0) {
                uint16_t k = level_of((double)ev[i + x], thr, nthr);
                g.level[r + x] = k;
                if (k < nthr) g.todo[g.ntodo++] = r + x;
            }
    }
    if (grow(&g) < 0) goto done;
    grid_copy_out(&g, labels, y0, x0, w);
    rc = 0;
done:
    grid_free(&g);
    return rc;
}

/* mep.flood_per_class: every class region on its own, all in one pass, in the box [y0, y1) x [x0, x1)
 * that holds every class pixel (growth never leaves a class, so nothing outside matters; the caller gives it).
 * cls: class index per pixel (0 = not a thing class, 1..nclasses in ascending class id); markers <= 0 = none.
 * Labels are renumbered per class in marker order, class after class (relabel + running offset), thresholds come
 * from each class's own unlabelled pixels. out: zeros on entry. Returns 0, -1 when out of memory. */
int mep_flood_classes(const float *ev, const int32_t *markers, const uint8_t *cls_in, ptrdiff_t nclasses,
                       ptrdiff_t levels, int32_t *out, ptrdiff_t w, ptrdiff_t y0, ptrdiff_t y1, ptrdiff_t x0,
                       ptrdiff_t x1, int32_t top) {
    Grid g;
    int rc = -1;
    int32_t *lut = NULL;
    double *lo = NULL, *hi = NULL, *thr = NULL;
    ptrdiff_t *nthr = NULL, C = nclasses + 1, L = levels < 1 ? 1 : levels;
    const size_t T = (size_t)top + 1;
    memset(&g, 0, sizeof(g));
    if (y1 <= y0 || x1 <= x0 || top <= 0) return 0; /* no class pixel or no marker: nothing is labelled */
    lut = (int32_t *)calloc((size_t)C * T, sizeof(int32_t));
    lo = (double *)malloc((size_t)C * sizeof(double));
    hi = (double *)malloc((size_t)C * sizeof(double));
    thr = (double *)malloc((size_t)C * (size_t)L * sizeof(double));
    nthr = (ptrdiff_t *)calloc((size_t)C, sizeof(ptrdiff_t));
    if (!lut || !lo || !hi || !thr || !nthr) goto done;
    /* which (class, marker) pairs occur, and the elevation range of each class's unlabelled pixels */
    for (ptrdiff_t c = 0; c < C; c++) lo[c] = INFINITY, hi[c] = -INFINITY;
    for (ptrdiff_t y = y0; y < y1; y++)
        for (ptrdiff_t i = y * w + x0; i < y * w + x1; i++) {
            uint8_t c = cls_in[i];
            if (!c) continue;
            int32_t m = markers[i];
            if (m > 0) {
                lut[(size_t)c * T + (size_t)m] = 1;
            } else {
                double e = (double)ev[i];
                lo[c] = e < lo[c] ? e : lo[c];
                hi[c] = e > hi[c] ? e : hi[c];
            }
        }
    int32_t next = 0;
    ptrdiff_t most = 1;
    for (ptrdiff_t c = 1; c < C; c++) {
        int32_t *row = lut + (size_t)c * T;
        for (int32_t m = 1; m <= top; m++)
            if (row[m]) row[m] = ++next;
        if (lo[c] <= hi[c]) nthr[c] = thresholds(lo[c], hi[c], L, thr + c * L);
        if (nthr[c] > most) most = nthr[c];
    }
    if (next == 0) { /* no marker inside a class */
        rc = 0;
        goto done;
    }
    if (grid_alloc(&g, y1 - y0, x1 - x0, most, 1) < 0) goto done;
    for (ptrdiff_t y = y0; y < y1; y++) {
        ptrdiff_t r = (y - y0 + 1) * g.W + 1 - x0, i = y * w;
        memcpy(g.cls + r + x0, cls_in + i + x0, (size_t)(x1 - x0));
        for (ptrdiff_t x = x0; x < x1; x++) {
            uint8_t c = cls_in[i + x];
            if (!c) continue;
            int32_t m = markers[i + x];
            if (m > 0) {
                g.lab[r + x] = lut[(size_t)c * T + (size_t)m];
            } else if (nthr[c] > 0) {
                uint16_t k = level_of((double)ev[i + x], thr + c * L, nthr[c]);
                if (k < nthr[c]) { /* above its class's last level (NaN): never opens */
                    g.level[r + x] = k;
                    g.todo[g.ntodo++] = r + x;
                }
            }
        }
    }
    if (grow(&g) < 0) goto done;
    grid_copy_out(&g, out, y0, x0, w);
    rc = 0;
done:
    grid_free(&g);
    free(lut);
    free(lo);
    free(hi);
    free(thr);
    free(nthr);
    return rc;
}

