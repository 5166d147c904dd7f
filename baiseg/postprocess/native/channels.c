/* Per-pixel reductions over the channels of a C x N map (channel-major, as a C x H x W array): the arg-max of the
 * semantic probabilities (Predictor: semantic_input), which NumPy's argmax(axis=0) walks with a stride of N floats
 * per step. Here the channels are walked one row at a time over blocks of pixels that stay in the cache. */
#include "kernels.h"

void mep_argmax_channels(const float *p, ptrdiff_t c, ptrdiff_t n, uint8_t *labels) {
    enum { BLOCK = 2048 };
    float best[BLOCK];
    for (ptrdiff_t s = 0; s < n; s += BLOCK) {
        const ptrdiff_t m = n - s < BLOCK ? n - s : BLOCK;
        const float *row = p + s;
        uint8_t *lab = labels + s;
        for (ptrdiff_t i = 0; i < m; i++) {
            best[i] = row[i];
            lab[i] = 0;
        }
        for (ptrdiff_t k = 1; k < c; k++) {
            row = p + k * n + s;
            for (ptrdiff_t i = 0; i < m; i++) {
                if (row[i] > best[i]) { /* strictly greater: the first of equal maxima wins, as in NumPy */
                    best[i] = row[i];
                    lab[i] = (uint8_t)k;
                }
            }
        }
    }
}
