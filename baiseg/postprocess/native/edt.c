/* Exact Euclidean distance transform (mep.exact_distance). */
#include <math.h>
#include <stdlib.h>

#include "kernels.h"

/* Exact Euclidean distance of every pixel to the nearest zero pixel of region (uint8; only pixels inside the array
 * count), float32 = sqrtf of the exact integer squared distance (so it is deterministic; OpenCV's DIST_MASK_PRECISE
 * may differ from it, and from itself between calls, in the last bit). Pixels with no zero pixel in the array get the
 * float below 2^64, as OpenCV does. Felzenszwalb & Huttenlocher's two passes: distances along columns, then the lower
 * envelope of parabolas along rows. Returns 0, -1 out of memory. */
int mep_edt(const uint8_t *r, float *out, ptrdiff_t h, ptrdiff_t w) {
    const int32_t INF = INT32_MAX / 2;
    int32_t *g = (int32_t *)malloc((size_t)(h * w) * sizeof(int32_t));
    ptrdiff_t *v = (ptrdiff_t *)malloc((size_t)(w + 1) * sizeof(ptrdiff_t));
    int64_t *f = (int64_t *)malloc((size_t)w * sizeof(int64_t));
    int64_t *zn = (int64_t *)malloc((size_t)(w + 1) * sizeof(int64_t)), *zd = (int64_t *)malloc((size_t)(w + 1) * 8);
    if (!g || !v || !f || !zn || !zd) {
        free(g), free(v), free(f), free(zn), free(zd);
        return -1;
    }
    /* column distances (in rows) to the nearest zero, row by row so that the loops run along memory */
    for (ptrdiff_t x = 0; x < w; x++) g[x] = r[x] ? INF : 0;
    for (ptrdiff_t y = 1; y < h; y++) {
        const uint8_t *ry = r + y * w;
        int32_t *gy = g + y * w, *gp = gy - w;
        for (ptrdiff_t x = 0; x < w; x++) gy[x] = ry[x] ? (gp[x] >= INF ? INF : gp[x] + 1) : 0;
    }
    for (ptrdiff_t y = h - 2; y >= 0; y--) {
        int32_t *gy = g + y * w, *gn = gy + w;
        for (ptrdiff_t x = 0; x < w; x++) gy[x] = gn[x] + 1 < gy[x] ? gn[x] + 1 : gy[x];
    }
    /* rows: D(x) = min over q of (x - q)^2 + f(q), f = squared column distance (finite ones only). The breakpoints z
     * of the lower envelope are kept as exact fractions zn / zd (zd > 0), so every comparison is an integer one. */
    for (ptrdiff_t y = 0; y < h; y++) {
        const int32_t *gy = g + y * w;
        float *o = out + y * w;
        ptrdiff_t k = -1;
        for (ptrdiff_t q = 0; q < w; q++) {
            if (gy[q] >= INF) continue;
            f[q] = (int64_t)gy[q] * gy[q];
            int64_t fq = f[q] + (int64_t)q * q, num = 0, den = 1;
            while (k >= 0) {
                ptrdiff_t p = v[k];
                num = fq - (f[p] + (int64_t)p * p), den = 2 * (int64_t)(q - p);
                if (k == 0 || num * zd[k] > zn[k] * den) break; /* s = num / den > z[k] (z[0] = -inf) */
                k--;
            }
            k++;
            v[k] = q, zn[k] = num, zd[k] = den;
        }
        if (k < 0) {
            for (ptrdiff_t x = 0; x < w; x++) o[x] = nextafterf(18446744073709551616.0f, 0.0f);
            continue;
        }
        ptrdiff_t j = 0;
        for (ptrdiff_t x = 0; x < w; x++) {
            while (j < k && zn[j + 1] < (int64_t)x * zd[j + 1]) j++; /* z[j + 1] < x */
            int64_t dx = x - v[j], d2 = dx * dx + f[v[j]];
            o[x] = sqrtf((float)d2);
        }
    }
    free(g), free(v), free(f), free(zn), free(zd);
    return 0;
}

