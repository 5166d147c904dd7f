/* Per-label statistics of a label map: boxes (mep.label_boxes), border sums and open borders (merge.py) and the
 * distance-peak seeds (mep._distance_seeds_in_box). Each gives exactly what its NumPy fallback gives. */
#include <stdlib.h>

#include "kernels.h"

void mep_label_boxes(const int32_t *l, ptrdiff_t n, int64_t *b, ptrdiff_t h, ptrdiff_t w) {
    for (ptrdiff_t y = 0; y < h; y++) {
        const int32_t *row = l + y * w;
        for (ptrdiff_t x = 0; x < w; x++) {
            int32_t v = row[x];
            if (v <= 0 || v > n) continue;
            int64_t *r = b + 4 * (ptrdiff_t)v;
            if (y < r[0]) r[0] = y;
            r[1] = y; /* rows come in order: the last one seen is the largest */
            if (x < r[2]) r[2] = x;
            if (x > r[3]) r[3] = x;
        }
    }
}

/* For every 4-neighbour pixel pair of two different labels a < b, both in 1..n, of the same class: sums[a, b] +=
 * max(B_p, B_q) in float64 and counts[a, b] += 1, horizontal pairs first, then vertical ones, each in row-major
 * order (the order in which NumPy's bincount adds them, so the sums are bit-identical). */
void mep_border_sums(const int32_t *l, const float *b, const uint8_t *sem, ptrdiff_t n, double *sums,
                     int64_t *counts, ptrdiff_t h, ptrdiff_t w) {
    const ptrdiff_t N1 = n + 1;
    for (int dir = 0; dir < 2; dir++) {
        const ptrdiff_t step = dir == 0 ? 1 : w, rows = dir == 0 ? h : h - 1, cols = dir == 0 ? w - 1 : w;
        for (ptrdiff_t y = 0; y < rows; y++)
            for (ptrdiff_t x = 0; x < cols; x++) {
                ptrdiff_t i = y * w + x, j = i + step;
                int32_t la = l[i], lb = l[j];
                if (la == lb || la <= 0 || lb <= 0 || la > n || lb > n || sem[i] != sem[j]) continue;
                ptrdiff_t k = la < lb ? la * N1 + lb : lb * N1 + la;
                float v = b[i] > b[j] ? b[i] : b[j];
                sums[k] += (double)v;
                counts[k] += 1;
            }
    }
}

/* Per label, its 4-neighbour pairs whose other pixel is unlabelled or of another class, plus its pixels on each image
 * edge (first row, last row, first column, last column: a corner counts twice). */
void mep_open_border(const int32_t *l, const uint8_t *s, ptrdiff_t n, int64_t *c, ptrdiff_t h, ptrdiff_t w) {
#define COUNT(v)                                                                                                       \
    do {                                                                                                               \
        if ((v) > 0 && (v) <= n) c[(v)]++;                                                                             \
    } while (0)
    for (int dir = 0; dir < 2; dir++) {
        const ptrdiff_t step = dir == 0 ? 1 : w, rows = dir == 0 ? h : h - 1, cols = dir == 0 ? w - 1 : w;
        for (ptrdiff_t y = 0; y < rows; y++)
            for (ptrdiff_t x = 0; x < cols; x++) {
                ptrdiff_t i = y * w + x, j = i + step;
                int diff = s[i] != s[j];
                if (diff || l[j] == 0) COUNT(l[i]);
                if (diff || l[i] == 0) COUNT(l[j]);
            }
    }
    for (ptrdiff_t x = 0; x < w; x++) {
        COUNT(l[x]);
        COUNT(l[(h - 1) * w + x]);
    }
    for (ptrdiff_t y = 0; y < h; y++) {
        COUNT(l[y * w]);
        COUNT(l[y * w + w - 1]);
    }
#undef COUNT
}

int mep_peak_seeds(const float *d, const int32_t *comp, ptrdiff_t k, double frac, uint8_t *seeds, ptrdiff_t n) {
    float *peak = (float *)calloc((size_t)k, sizeof(float));
    if (!peak) return -1;
    for (ptrdiff_t i = 0; i < n; i++) {
        int32_t l = comp[i];
        if (l <= 0) continue;
        if (l >= k) {
            free(peak);
            return -2;
        }
        if (d[i] > peak[l]) peak[l] = d[i];
    }
    const float f = (float)frac; /* a Python float times a float32 array stays float32 in NumPy */
    for (ptrdiff_t i = 0; i < n; i++) seeds[i] = (uint8_t)(comp[i] > 0 && d[i] > f * peak[comp[i]]);
    free(peak);
    return 0;
}
