/* The MEP's C kernels: the level-wise geodesic flood of baiseg.postprocess.mep.flood and mep.flood_per_class, the
 * label boxes of mep.label_boxes, the border statistics of merge.border_strengths / merge.open_border, and the
 * distance-peak seeds of mep.region_distance_seeds.
 *
 * The same result as the Python/OpenCV implementation, pixel for pixel: for each threshold t in ascending order,
 * labels grow into the open pixels (to do, elevation <= t) one 8-connected step at a time, every newly reached pixel
 * taking the largest label among its labelled neighbours; a level ends when a step labels nothing. Instead of
 * dilating the whole map per step, it keeps lists of pixels (see grow()): every to-do pixel is looked at about
 * twice in all, instead of once per step and level.
 *
 * flood_levels(elevation, labels, todo, thresholds, height, width) -> None
 *   elevation  float32 H*W (C-contiguous buffer)
 *   labels     int32 H*W, written in place; 0 = unlabelled, > 0 = labels (no negative values)
 *   todo       uint8 H*W, 1 = may be labelled (unlabelled and allowed)
 *   thresholds float64, ascending
 * flood_classes(elevation, markers, classes, nclasses, levels, out, height, width, (y0, y1, x0, x1), top) -> None
 *   markers    int32 H*W (<= 0 = none); classes uint8 H*W class index (0 = none, 1..nclasses); out int32 H*W zeros,
 *   written: each class region flooded on its own with its own levels (see run_classes()); the box holds every
 *   class pixel, top >= the largest marker in it.
 * Every buffer must be C-contiguous; the GIL is released while flooding.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#define CLOSED UINT16_MAX /* level of a pixel that never opens: labelled, not to do, or the padding frame */

/* A label map with a 1-pixel frame (closed, unlabelled), so the 8 neighbours of a pixel are at fixed offsets. */
typedef struct {
    Py_ssize_t h, w, W, N, nthr;
    uint16_t *level; /* (h+2) x (w+2): the level at which a to-do pixel opens, CLOSED for the others */
    int32_t *lab;    /* (h+2) x (w+2) labels, 0 = unlabelled */
    uint8_t *cls;    /* (h+2) x (w+2) class index (growth stays inside a class), or NULL (one region) */
    Py_ssize_t *todo; /* the to-do pixels (level < nthr), in raster order, filled by the caller; ntodo of them */
    Py_ssize_t ntodo;
} Grid;

static int grid_alloc(Grid *g, Py_ssize_t h, Py_ssize_t w, Py_ssize_t nthr, int with_classes) {
    g->h = h, g->w = w, g->W = w + 2, g->N = (h + 2) * (w + 2), g->nthr = nthr;
    g->level = (uint16_t *)malloc((size_t)g->N * sizeof(uint16_t));
    g->lab = (int32_t *)calloc((size_t)g->N, sizeof(int32_t));
    g->cls = with_classes ? (uint8_t *)calloc((size_t)g->N, 1) : NULL;
    g->todo = (Py_ssize_t *)malloc((size_t)g->N * sizeof(Py_ssize_t));
    g->ntodo = 0;
    if (!g->level || !g->lab || !g->todo || (with_classes && !g->cls)) return -1;
    for (Py_ssize_t q = 0; q < g->N; q++) g->level[q] = CLOSED;
    return 0;
}

static void grid_free(Grid *g) {
    free(g->level);
    free(g->lab);
    free(g->cls);
    free(g->todo);
}

/* The first threshold that e is at or below; nthr when above all (NaN never opens, like e <= t in NumPy). */
static inline uint16_t level_of(double e, const double *thr, Py_ssize_t nthr) {
    Py_ssize_t k = 0;
    while (k < nthr && !(e <= thr[k])) k++;
    return (uint16_t)k;
}

/* numpy.linspace(lo, hi, levels + 1)[1:] (or [hi] when hi <= lo), with NumPy's float64 arithmetic. */
static Py_ssize_t thresholds(double lo, double hi, Py_ssize_t levels, double *thr) {
    if (!(hi > lo) || levels < 1) {
        thr[0] = hi;
        return 1;
    }
    double delta = hi - lo, step = delta / (double)levels;
    for (Py_ssize_t i = 1; i <= levels; i++)
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
    const Py_ssize_t W = g->W, N = g->N, nthr = g->nthr;
    const Py_ssize_t off[8] = {-W - 1, -W, -W + 1, -1, 1, W - 1, W, W + 1};
    uint16_t *level = g->level;
    int32_t *lab = g->lab;
    const uint8_t *cls = g->cls;
    Py_ssize_t *count = NULL, *start = NULL, *bucket = NULL, *front = NULL, *reached = NULL;
    int32_t *pend = NULL;
    int rc = -1;
    count = (Py_ssize_t *)calloc((size_t)nthr + 1, sizeof(Py_ssize_t));
    start = (Py_ssize_t *)calloc((size_t)nthr + 2, sizeof(Py_ssize_t));
    if (!count || !start) goto done;
    const Py_ssize_t ntodo = g->ntodo;
    for (Py_ssize_t a = 0; a < ntodo; a++) count[level[g->todo[a]]]++;
    if (ntodo == 0) {
        rc = 0;
        goto done;
    }
    for (Py_ssize_t k = 0; k < nthr; k++) start[k + 1] = start[k] + count[k];
    bucket = (Py_ssize_t *)malloc((size_t)ntodo * sizeof(Py_ssize_t));
    front = (Py_ssize_t *)malloc((size_t)ntodo * sizeof(Py_ssize_t));
    reached = (Py_ssize_t *)malloc((size_t)ntodo * sizeof(Py_ssize_t));
    pend = (int32_t *)calloc((size_t)N, sizeof(int32_t));
    if (!bucket || !front || !reached || !pend) goto done;
    memset(count, 0, (size_t)(nthr + 1) * sizeof(Py_ssize_t));
    for (Py_ssize_t a = 0; a < ntodo; a++) {
        Py_ssize_t q = g->todo[a];
        bucket[start[level[q]] + count[level[q]]++] = q;
    }
    for (Py_ssize_t k = 0; k < nthr; k++) {
        /* first step: the pixels opened at this level that touch a label (labels as before the step) */
        Py_ssize_t nfront = 0;
        for (Py_ssize_t a = start[k]; a < start[k + 1]; a++) {
            Py_ssize_t q = bucket[a];
            int32_t m = 0;
            for (int d = 0; d < 8; d++) {
                Py_ssize_t p = q + off[d];
                if (lab[p] > m && (!cls || cls[p] == cls[q])) m = lab[p];
            }
            if (m > 0) {
                pend[q] = m;
                front[nfront++] = q;
            }
        }
        for (Py_ssize_t a = 0; a < nfront; a++) {
            lab[front[a]] = pend[front[a]];
            pend[front[a]] = 0;
            level[front[a]] = CLOSED;
        }
        /* later steps: the open unlabelled neighbours of the pixels labelled by the step before */
        while (nfront > 0) {
            Py_ssize_t nreached = 0;
            for (Py_ssize_t a = 0; a < nfront; a++) {
                Py_ssize_t p = front[a];
                int32_t l = lab[p];
                for (int d = 0; d < 8; d++) {
                    Py_ssize_t q = p + off[d];
                    if (level[q] > k) continue;                 /* not open at this level, or labelled */
                    if (cls && cls[q] != cls[p]) continue;      /* another class */
                    if (pend[q] == 0) reached[nreached++] = q;
                    if (l > pend[q]) pend[q] = l;
                }
            }
            for (Py_ssize_t a = 0; a < nreached; a++) {
                Py_ssize_t q = reached[a];
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
static void grid_copy_out(const Grid *g, int32_t *out, Py_ssize_t y0, Py_ssize_t x0, Py_ssize_t w) {
    for (Py_ssize_t y = 0; y < g->h; y++)
        memcpy(out + (y0 + y) * w + x0, g->lab + (y + 1) * g->W + 1, (size_t)g->w * sizeof(int32_t));
}

/* flood_levels: one region, given thresholds. Works in the box of the to-do pixels grown by one pixel (the labels
 * next to them). */
static int run_levels(const float *ev, int32_t *labels, const uint8_t *todo, const double *thr, Py_ssize_t nthr,
                      Py_ssize_t h, Py_ssize_t w) {
    Grid g;
    int rc = -1;
    Py_ssize_t y0 = h, y1 = -1, x0 = w, x1 = -1;
    memset(&g, 0, sizeof(g));
    for (Py_ssize_t y = 0; y < h; y++)
        for (Py_ssize_t x = 0; x < w; x++)
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
    for (Py_ssize_t y = y0; y < y1; y++) {
        Py_ssize_t r = (y - y0 + 1) * g.W + 1 - x0, i = y * w;
        memcpy(g.lab + r + x0, labels + i + x0, (size_t)(x1 - x0) * sizeof(int32_t));
        for (Py_ssize_t x = x0; x < x1; x++)
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

/* flood_classes: every class region on its own (mep.flood_per_class), all in one pass, in the box [y0, y1) x [x0, x1)
 * that holds every class pixel (growth never leaves a class, so nothing outside matters; the caller gives it).
 * cls: class index per pixel (0 = not a thing class, 1..nclasses in ascending class id); markers <= 0 = none.
 * Labels are renumbered per class in marker order, class after class (relabel + running offset), thresholds come
 * from each class's own unlabelled pixels. out: zeros on entry. Returns 0, -1 when out of memory. */
static int run_classes(const float *ev, const int32_t *markers, const uint8_t *cls_in, Py_ssize_t nclasses,
                       Py_ssize_t levels, int32_t *out, Py_ssize_t w, Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t x0,
                       Py_ssize_t x1, int32_t top) {
    Grid g;
    int rc = -1;
    int32_t *lut = NULL;
    double *lo = NULL, *hi = NULL, *thr = NULL;
    Py_ssize_t *nthr = NULL, C = nclasses + 1, L = levels < 1 ? 1 : levels;
    const size_t T = (size_t)top + 1;
    memset(&g, 0, sizeof(g));
    if (y1 <= y0 || x1 <= x0 || top <= 0) return 0; /* no class pixel or no marker: nothing is labelled */
    lut = (int32_t *)calloc((size_t)C * T, sizeof(int32_t));
    lo = (double *)malloc((size_t)C * sizeof(double));
    hi = (double *)malloc((size_t)C * sizeof(double));
    thr = (double *)malloc((size_t)C * (size_t)L * sizeof(double));
    nthr = (Py_ssize_t *)calloc((size_t)C, sizeof(Py_ssize_t));
    if (!lut || !lo || !hi || !thr || !nthr) goto done;
    /* which (class, marker) pairs occur, and the elevation range of each class's unlabelled pixels */
    for (Py_ssize_t c = 0; c < C; c++) lo[c] = INFINITY, hi[c] = -INFINITY;
    for (Py_ssize_t y = y0; y < y1; y++)
        for (Py_ssize_t i = y * w + x0; i < y * w + x1; i++) {
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
    Py_ssize_t most = 1;
    for (Py_ssize_t c = 1; c < C; c++) {
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
    for (Py_ssize_t y = y0; y < y1; y++) {
        Py_ssize_t r = (y - y0 + 1) * g.W + 1 - x0, i = y * w;
        memcpy(g.cls + r + x0, cls_in + i + x0, (size_t)(x1 - x0));
        for (Py_ssize_t x = x0; x < x1; x++) {
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

static int get_buffer(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t itemsize, Py_ssize_t n,
                      const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (view->itemsize != itemsize || (n >= 0 && view->len != n * itemsize)) {
        PyErr_Format(PyExc_ValueError, "flood_levels: '%s' has item size %zd and %zd bytes; expected %zd-byte items%s",
                     name, view->itemsize, view->len, itemsize, n >= 0 ? " for every pixel" : "");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *flood_levels(PyObject *self, PyObject *args) {
    PyObject *ev_o, *lab_o, *todo_o, *thr_o;
    Py_ssize_t h, w;
    Py_buffer ev, lab, todo, thr;
    int rc;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnn", &ev_o, &lab_o, &todo_o, &thr_o, &h, &w)) return NULL;
    if (h < 0 || w < 0) return PyErr_Format(PyExc_ValueError, "flood_levels: negative height or width");
    if (get_buffer(ev_o, &ev, 0, 4, h * w, "elevation") < 0) return NULL;
    if (get_buffer(lab_o, &lab, 1, 4, h * w, "labels") < 0) goto fail_ev;
    if (get_buffer(todo_o, &todo, 0, 1, h * w, "todo") < 0) goto fail_lab;
    if (get_buffer(thr_o, &thr, 0, 8, -1, "thresholds") < 0) goto fail_todo;
    if (thr.len / 8 >= UINT16_MAX) {
        PyErr_SetString(PyExc_ValueError, "flood_levels: at most 65534 thresholds");
        goto fail_thr;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = run_levels((const float *)ev.buf, (int32_t *)lab.buf, (const uint8_t *)todo.buf, (const double *)thr.buf,
                    thr.len / 8, h, w);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        goto fail_thr;
    }
    PyBuffer_Release(&thr);
    PyBuffer_Release(&todo);
    PyBuffer_Release(&lab);
    PyBuffer_Release(&ev);
    Py_RETURN_NONE;
fail_thr:
    PyBuffer_Release(&thr);
fail_todo:
    PyBuffer_Release(&todo);
fail_lab:
    PyBuffer_Release(&lab);
fail_ev:
    PyBuffer_Release(&ev);
    return NULL;
}

static PyObject *flood_classes(PyObject *self, PyObject *args) {
    PyObject *ev_o, *mk_o, *cls_o, *out_o;
    Py_ssize_t nclasses, levels, h, w, y0, y1, x0, x1, top;
    Py_buffer ev, mk, cls, out;
    int rc = -1;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOnnOnn(nnnn)n", &ev_o, &mk_o, &cls_o, &nclasses, &levels, &out_o, &h, &w, &y0, &y1,
                          &x0, &x1, &top))
        return NULL;
    if (h < 0 || w < 0) return PyErr_Format(PyExc_ValueError, "flood_classes: negative height or width");
    if (nclasses < 0 || nclasses > 254) return PyErr_Format(PyExc_ValueError, "flood_classes: 0..254 classes");
    if (levels < 1 || levels >= UINT16_MAX) return PyErr_Format(PyExc_ValueError, "flood_classes: 1..65534 levels");
    if (y0 < 0 || x0 < 0 || y1 > h || x1 > w || top < 0 || top >= INT32_MAX)
        return PyErr_Format(PyExc_ValueError, "flood_classes: box outside the image or bad largest marker");
    if (get_buffer(ev_o, &ev, 0, 4, h * w, "elevation") < 0) return NULL;
    if (get_buffer(mk_o, &mk, 0, 4, h * w, "markers") < 0) goto fail_ev;
    if (get_buffer(cls_o, &cls, 0, 1, h * w, "classes") < 0) goto fail_mk;
    if (get_buffer(out_o, &out, 1, 4, h * w, "out") < 0) goto fail_cls;
    Py_BEGIN_ALLOW_THREADS
    rc = run_classes((const float *)ev.buf, (const int32_t *)mk.buf, (const uint8_t *)cls.buf, nclasses, levels,
                     (int32_t *)out.buf, w, y0, y1, x0, x1, (int32_t)top);
    Py_END_ALLOW_THREADS
    if (rc < 0) PyErr_NoMemory();
    PyBuffer_Release(&out);
fail_cls:
    PyBuffer_Release(&cls);
fail_mk:
    PyBuffer_Release(&mk);
fail_ev:
    PyBuffer_Release(&ev);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

/* label_boxes(labels, n, boxes, height, width): boxes int64 (n + 1) x 4 of inclusive y0, y1, x0, x1 per label,
 * prefilled by the caller (y0 = x0 = INT64_MAX, y1 = x1 = -1); labels outside 1..n are ignored. */
static PyObject *label_boxes(PyObject *self, PyObject *args) {
    PyObject *lab_o, *box_o;
    Py_ssize_t n, h, w;
    Py_buffer lab, box;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnOnn", &lab_o, &n, &box_o, &h, &w)) return NULL;
    if (h < 0 || w < 0 || n < 0) return PyErr_Format(PyExc_ValueError, "label_boxes: negative size or count");
    if (get_buffer(lab_o, &lab, 0, 4, h * w, "labels") < 0) return NULL;
    if (get_buffer(box_o, &box, 1, 8, (n + 1) * 4, "boxes") < 0) {
        PyBuffer_Release(&lab);
        return NULL;
    }
    const int32_t *l = (const int32_t *)lab.buf;
    int64_t *b = (int64_t *)box.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t y = 0; y < h; y++) {
        const int32_t *row = l + y * w;
        for (Py_ssize_t x = 0; x < w; x++) {
            int32_t v = row[x];
            if (v <= 0 || v > n) continue;
            int64_t *r = b + 4 * (Py_ssize_t)v;
            if (y < r[0]) r[0] = y;
            r[1] = y; /* rows come in order: the last one seen is the largest */
            if (x < r[2]) r[2] = x;
            if (x > r[3]) r[3] = x;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&box);
    PyBuffer_Release(&lab);
    Py_RETURN_NONE;
}

/* border_sums(labels, boundary, semantic, n, sums, counts, height, width): merge.border_strengths on a dense
 * (n + 1) x (n + 1) table. For every 4-neighbour pixel pair of two different labels a < b, both > 0, of the same class:
 * sums[a, b] += max(B_p, B_q) in float64 and counts[a, b] += 1, horizontal pairs first, then vertical ones, each in
 * row-major order (the order in which NumPy's bincount adds them, so the sums are bit-identical). Labels must be in
 * 0..n; sums and counts must be zero on entry. */
static void border_sums_run(const int32_t *l, const float *b, const uint8_t *sem, Py_ssize_t n, double *sums,
                            int64_t *counts, Py_ssize_t h, Py_ssize_t w) {
    const Py_ssize_t N1 = n + 1;
    for (int dir = 0; dir < 2; dir++) {
        const Py_ssize_t step = dir == 0 ? 1 : w, rows = dir == 0 ? h : h - 1, cols = dir == 0 ? w - 1 : w;
        for (Py_ssize_t y = 0; y < rows; y++)
            for (Py_ssize_t x = 0; x < cols; x++) {
                Py_ssize_t i = y * w + x, j = i + step;
                int32_t la = l[i], lb = l[j];
                if (la == lb || la <= 0 || lb <= 0 || sem[i] != sem[j]) continue;
                Py_ssize_t k = la < lb ? la * N1 + lb : lb * N1 + la;
                float v = b[i] > b[j] ? b[i] : b[j];
                sums[k] += (double)v;
                counts[k] += 1;
            }
    }
}

static PyObject *border_sums(PyObject *self, PyObject *args) {
    PyObject *lab_o, *b_o, *sem_o, *sum_o, *cnt_o;
    Py_ssize_t n, h, w;
    Py_buffer lab, b, sem, sum, cnt;
    PyObject *ret = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOnOOnn", &lab_o, &b_o, &sem_o, &n, &sum_o, &cnt_o, &h, &w)) return NULL;
    if (h < 1 || w < 1 || n < 0) return PyErr_Format(PyExc_ValueError, "border_sums: empty map or negative count");
    if (get_buffer(lab_o, &lab, 0, 4, h * w, "labels") < 0) return NULL;
    if (get_buffer(b_o, &b, 0, 4, h * w, "boundary") < 0) goto f_lab;
    if (get_buffer(sem_o, &sem, 0, 1, h * w, "semantic") < 0) goto f_b;
    if (get_buffer(sum_o, &sum, 1, 8, (n + 1) * (n + 1), "sums") < 0) goto f_sem;
    if (get_buffer(cnt_o, &cnt, 1, 8, (n + 1) * (n + 1), "counts") < 0) goto f_sum;
    Py_BEGIN_ALLOW_THREADS
    border_sums_run((const int32_t *)lab.buf, (const float *)b.buf, (const uint8_t *)sem.buf, n, (double *)sum.buf,
                    (int64_t *)cnt.buf, h, w);
    Py_END_ALLOW_THREADS
    ret = Py_None;
    Py_INCREF(ret);
    PyBuffer_Release(&cnt);
f_sum:
    PyBuffer_Release(&sum);
f_sem:
    PyBuffer_Release(&sem);
f_b:
    PyBuffer_Release(&b);
f_lab:
    PyBuffer_Release(&lab);
    return ret;
}

/* open_border(labels, semantic, n, count, height, width): merge.open_border. count int64 (n + 1,), zero on entry:
 * per label, its 4-neighbour pairs whose other pixel is unlabelled or of another class, plus its pixels on each image
 * edge (first row, last row, first column, last column: a corner counts twice). Labels must be in 0..n. */
static PyObject *open_border(PyObject *self, PyObject *args) {
    PyObject *lab_o, *sem_o, *cnt_o;
    Py_ssize_t n, h, w;
    Py_buffer lab, sem, cnt;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOnOnn", &lab_o, &sem_o, &n, &cnt_o, &h, &w)) return NULL;
    if (h < 1 || w < 1 || n < 0) return PyErr_Format(PyExc_ValueError, "open_border: empty map or negative count");
    if (get_buffer(lab_o, &lab, 0, 4, h * w, "labels") < 0) return NULL;
    if (get_buffer(sem_o, &sem, 0, 1, h * w, "semantic") < 0) {
        PyBuffer_Release(&lab);
        return NULL;
    }
    if (get_buffer(cnt_o, &cnt, 1, 8, n + 1, "count") < 0) {
        PyBuffer_Release(&sem);
        PyBuffer_Release(&lab);
        return NULL;
    }
    const int32_t *l = (const int32_t *)lab.buf;
    const uint8_t *s = (const uint8_t *)sem.buf;
    int64_t *c = (int64_t *)cnt.buf;
    Py_BEGIN_ALLOW_THREADS
    for (int dir = 0; dir < 2; dir++) {
        const Py_ssize_t step = dir == 0 ? 1 : w, rows = dir == 0 ? h : h - 1, cols = dir == 0 ? w - 1 : w;
        for (Py_ssize_t y = 0; y < rows; y++)
            for (Py_ssize_t x = 0; x < cols; x++) {
                Py_ssize_t i = y * w + x, j = i + step;
                int diff = s[i] != s[j];
                if (l[i] > 0 && (diff || l[j] == 0)) c[l[i]]++;
                if (l[j] > 0 && (diff || l[i] == 0)) c[l[j]]++;
            }
    }
    for (Py_ssize_t x = 0; x < w; x++) {
        if (l[x] > 0) c[l[x]]++;
        if (l[(h - 1) * w + x] > 0) c[l[(h - 1) * w + x]]++;
    }
    for (Py_ssize_t y = 0; y < h; y++) {
        if (l[y * w] > 0) c[l[y * w]]++;
        if (l[y * w + w - 1] > 0) c[l[y * w + w - 1]]++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&cnt);
    PyBuffer_Release(&sem);
    PyBuffer_Release(&lab);
    Py_RETURN_NONE;
}

/* peak_seeds(dist, comp, k, frac, seeds, n): the dtws seeds of mep._distance_seeds_in_box. For components 1..k-1 of
 * comp (int32, 0 = outside), peak = the maximum of dist (float32, >= 0) over the component; seeds (uint8 0/1) =
 * dist > (float)frac * peak of its component, in float32 arithmetic as NumPy does it. n pixels. */
static PyObject *peak_seeds(PyObject *self, PyObject *args) {
    PyObject *d_o, *c_o, *s_o;
    Py_ssize_t k, n;
    double frac;
    Py_buffer d, c, sd;
    float *peak;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOndOn", &d_o, &c_o, &k, &frac, &s_o, &n)) return NULL;
    if (k < 1 || n < 0) return PyErr_Format(PyExc_ValueError, "peak_seeds: k >= 1 and n >= 0");
    if (get_buffer(d_o, &d, 0, 4, n, "dist") < 0) return NULL;
    if (get_buffer(c_o, &c, 0, 4, n, "comp") < 0) {
        PyBuffer_Release(&d);
        return NULL;
    }
    if (get_buffer(s_o, &sd, 1, 1, n, "seeds") < 0) {
        PyBuffer_Release(&c);
        PyBuffer_Release(&d);
        return NULL;
    }
    peak = (float *)calloc((size_t)k, sizeof(float));
    if (!peak) {
        PyBuffer_Release(&sd);
        PyBuffer_Release(&c);
        PyBuffer_Release(&d);
        return PyErr_NoMemory();
    }
    const float *dv = (const float *)d.buf;
    const int32_t *cv = (const int32_t *)c.buf;
    uint8_t *out = (uint8_t *)sd.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t l = cv[i];
        if (l <= 0) continue;
        if (l >= k) {
            bad = 1;
            break;
        }
        if (dv[i] > peak[l]) peak[l] = dv[i];
    }
    if (!bad) {
        const float f = (float)frac;
        for (Py_ssize_t i = 0; i < n; i++) {
            int32_t l = cv[i];
            out[i] = (uint8_t)(l > 0 && dv[i] > f * peak[l]);
        }
    }
    Py_END_ALLOW_THREADS
    free(peak);
    PyBuffer_Release(&sd);
    PyBuffer_Release(&c);
    PyBuffer_Release(&d);
    if (bad) return PyErr_Format(PyExc_ValueError, "peak_seeds: a component id is >= k");
    Py_RETURN_NONE;
}

/* edt(region, dist, height, width): exact Euclidean distance of every pixel to the nearest zero pixel of region
 * (uint8; only pixels inside the array count), float32 = sqrtf of the exact integer squared distance (so it is
 * deterministic; OpenCV's DIST_MASK_PRECISE may differ from it, and from itself between calls, in the last bit).
 * Pixels with no zero pixel in the array get the float below 2^64, as OpenCV does. Felzenszwalb & Huttenlocher's two passes:
 * distances along columns, then the lower envelope of parabolas along rows. Returns 0, -1 out of memory. */
static int edt_run(const uint8_t *r, float *out, Py_ssize_t h, Py_ssize_t w) {
    const int32_t INF = INT32_MAX / 2;
    int32_t *g = (int32_t *)malloc((size_t)(h * w) * sizeof(int32_t));
    Py_ssize_t *v = (Py_ssize_t *)malloc((size_t)(w + 1) * sizeof(Py_ssize_t));
    int64_t *f = (int64_t *)malloc((size_t)w * sizeof(int64_t));
    int64_t *zn = (int64_t *)malloc((size_t)(w + 1) * sizeof(int64_t)), *zd = (int64_t *)malloc((size_t)(w + 1) * 8);
    if (!g || !v || !f || !zn || !zd) {
        free(g), free(v), free(f), free(zn), free(zd);
        return -1;
    }
    /* column distances (in rows) to the nearest zero, row by row so that the loops run along memory */
    for (Py_ssize_t x = 0; x < w; x++) g[x] = r[x] ? INF : 0;
    for (Py_ssize_t y = 1; y < h; y++) {
        const uint8_t *ry = r + y * w;
        int32_t *gy = g + y * w, *gp = gy - w;
        for (Py_ssize_t x = 0; x < w; x++) gy[x] = ry[x] ? (gp[x] >= INF ? INF : gp[x] + 1) : 0;
    }
    for (Py_ssize_t y = h - 2; y >= 0; y--) {
        int32_t *gy = g + y * w, *gn = gy + w;
        for (Py_ssize_t x = 0; x < w; x++) gy[x] = gn[x] + 1 < gy[x] ? gn[x] + 1 : gy[x];
    }
    /* rows: D(x) = min over q of (x - q)^2 + f(q), f = squared column distance (finite ones only). The breakpoints z
     * of the lower envelope are kept as exact fractions zn / zd (zd > 0), so every comparison is an integer one. */
    for (Py_ssize_t y = 0; y < h; y++) {
        const int32_t *gy = g + y * w;
        float *o = out + y * w;
        Py_ssize_t k = -1;
        for (Py_ssize_t q = 0; q < w; q++) {
            if (gy[q] >= INF) continue;
            f[q] = (int64_t)gy[q] * gy[q];
            int64_t fq = f[q] + (int64_t)q * q, num = 0, den = 1;
            while (k >= 0) {
                Py_ssize_t p = v[k];
                num = fq - (f[p] + (int64_t)p * p), den = 2 * (int64_t)(q - p);
                if (k == 0 || num * zd[k] > zn[k] * den) break; /* s = num / den > z[k] (z[0] = -inf) */
                k--;
            }
            k++;
            v[k] = q, zn[k] = num, zd[k] = den;
        }
        if (k < 0) {
            for (Py_ssize_t x = 0; x < w; x++) o[x] = nextafterf(18446744073709551616.0f, 0.0f);
            continue;
        }
        Py_ssize_t j = 0;
        for (Py_ssize_t x = 0; x < w; x++) {
            while (j < k && zn[j + 1] < (int64_t)x * zd[j + 1]) j++; /* z[j + 1] < x */
            int64_t dx = x - v[j], d2 = dx * dx + f[v[j]];
            o[x] = sqrtf((float)d2);
        }
    }
    free(g), free(v), free(f), free(zn), free(zd);
    return 0;
}

static PyObject *edt(PyObject *self, PyObject *args) {
    PyObject *r_o, *d_o;
    Py_ssize_t h, w;
    Py_buffer r, d;
    int rc;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOnn", &r_o, &d_o, &h, &w)) return NULL;
    if (h < 0 || w < 0) return PyErr_Format(PyExc_ValueError, "edt: negative height or width");
    if (get_buffer(r_o, &r, 0, 1, h * w, "region") < 0) return NULL;
    if (get_buffer(d_o, &d, 1, 4, h * w, "dist") < 0) {
        PyBuffer_Release(&r);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = h > 0 && w > 0 ? edt_run((const uint8_t *)r.buf, (float *)d.buf, h, w) : 0;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&d);
    PyBuffer_Release(&r);
    if (rc < 0) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"flood_levels", flood_levels, METH_VARARGS,
     "flood_levels(elevation, labels, todo, thresholds, height, width): level-wise geodesic flood, in place."},
    {"flood_classes", flood_classes, METH_VARARGS,
     "flood_classes(elevation, markers, classes, nclasses, levels, out, height, width, box, top): "
     "mep.flood_per_class."},
    {"label_boxes", label_boxes, METH_VARARGS, "label_boxes(labels, n, boxes, height, width): mep.label_boxes."},
    {"border_sums", border_sums, METH_VARARGS,
     "border_sums(labels, boundary, semantic, n, sums, counts, height, width): merge.border_strengths."},
    {"open_border", open_border, METH_VARARGS, "open_border(labels, semantic, n, count, height, width)."},
    {"edt", edt, METH_VARARGS, "edt(region, dist, height, width): exact Euclidean distance transform, float32."},
    {"peak_seeds", peak_seeds, METH_VARARGS, "peak_seeds(dist, comp, k, frac, seeds, n): the dtws seeds."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", "The MEP's C kernels (see mep.flood).", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
