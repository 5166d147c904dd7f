/* Level-wise geodesic flood of the MEP (baiseg.postprocess.mep.flood), in C.
 *
 * The same result as the Python/OpenCV implementation, pixel for pixel: for each threshold t in ascending order,
 * labels grow into the open pixels (to do, elevation <= t) one 8-connected step at a time, every newly reached pixel
 * taking the largest label among its labelled neighbours; a level ends when a step labels nothing. Instead of
 * dilating the whole map per step, it keeps lists of pixels (see run()): every to-do pixel is looked at about twice
 * in all, instead of once per step and level.
 *
 * flood_levels(elevation, labels, todo, thresholds, height, width) -> None
 *   elevation  float32 H*W (C-contiguous buffer)
 *   labels     int32 H*W, written in place; 0 = unlabelled, > 0 = labels (no negative values)
 *   todo       uint8 H*W, 1 = may be labelled (unlabelled and allowed)
 *   thresholds float64, ascending
 * Every buffer must be C-contiguous; the GIL is released while flooding.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const float *ev;
    int32_t *lab;
    const uint8_t *todo;
    const double *thr;
    Py_ssize_t nthr, h, w;
} Job;

#define CLOSED UINT16_MAX /* level of a pixel that never opens: labelled, not to do, or the padding frame */

/* Returns 0 on success, -1 when out of memory.
 *
 * Works on a copy with a 1-pixel frame (closed, unlabelled), so the 8 neighbours of a pixel are at fixed offsets.
 * Why the first step of a level only looks at that level's newly opened pixels: an open pixel left unlabelled at the
 * end of a level has no labelled neighbour (the level would have gone on), so only newly opened pixels can touch a
 * label when a level starts; every later step only reaches neighbours of the pixels labelled by the step before. */
static int run(const Job *j) {
    const Py_ssize_t h = j->h, w = j->w, W = w + 2, N = (h + 2) * (w + 2), nthr = j->nthr;
    const Py_ssize_t off[8] = {-W - 1, -W, -W + 1, -1, 1, W - 1, W, W + 1};
    uint16_t *level = NULL;
    int32_t *lab = NULL, *pend = NULL;
    Py_ssize_t *count = NULL, *start = NULL, *bucket = NULL, *front = NULL, *reached = NULL;
    int rc = -1;
    level = (uint16_t *)malloc((size_t)N * sizeof(uint16_t));
    lab = (int32_t *)calloc((size_t)N, sizeof(int32_t));
    pend = (int32_t *)calloc((size_t)N, sizeof(int32_t));
    count = (Py_ssize_t *)calloc((size_t)nthr + 1, sizeof(Py_ssize_t));
    start = (Py_ssize_t *)calloc((size_t)nthr + 2, sizeof(Py_ssize_t));
    if (!level || !lab || !pend || !count || !start) goto done;
    /* level of every to-do pixel: the first threshold it is at or below (nthr: above all, never opens) */
    for (Py_ssize_t q = 0; q < W; q++) level[q] = level[N - 1 - q] = CLOSED;
    Py_ssize_t ntodo = 0;
    for (Py_ssize_t y = 0; y < h; y++) {
        const float *ev = j->ev + y * w;
        const int32_t *lin = j->lab + y * w;
        const uint8_t *todo = j->todo + y * w;
        uint16_t *lv = level + (y + 1) * W + 1;
        int32_t *lo = lab + (y + 1) * W + 1;
        lv[-1] = lv[w] = CLOSED;
        memcpy(lo, lin, (size_t)w * sizeof(int32_t));
        for (Py_ssize_t x = 0; x < w; x++) {
            if (!todo[x] || lin[x] != 0) {
                lv[x] = CLOSED;
                continue;
            }
            double e = (double)ev[x];
            Py_ssize_t k = 0;
            while (k < nthr && !(e <= j->thr[k])) k++; /* NaN never opens, like e <= t in NumPy */
            lv[x] = (uint16_t)k;
            if (k < nthr) {
                count[k]++;
                ntodo++;
            }
        }
    }
    if (ntodo > 0) {
        for (Py_ssize_t k = 0; k < nthr; k++) start[k + 1] = start[k] + count[k];
        bucket = (Py_ssize_t *)malloc((size_t)ntodo * sizeof(Py_ssize_t));
        front = (Py_ssize_t *)malloc((size_t)ntodo * sizeof(Py_ssize_t));
        reached = (Py_ssize_t *)malloc((size_t)ntodo * sizeof(Py_ssize_t));
        if (!bucket || !front || !reached) goto done;
        memset(count, 0, (size_t)(nthr + 1) * sizeof(Py_ssize_t));
        for (Py_ssize_t q = W; q < N - W; q++)
            if (level[q] < nthr) bucket[start[level[q]] + count[level[q]]++] = q;
    }
    for (Py_ssize_t k = 0; k < nthr && ntodo > 0; k++) {
        /* first step: the pixels opened at this level that touch a label (labels as before the step) */
        Py_ssize_t nfront = 0;
        for (Py_ssize_t a = start[k]; a < start[k + 1]; a++) {
            Py_ssize_t q = bucket[a];
            int32_t m = 0;
            for (int d = 0; d < 8; d++)
                if (lab[q + off[d]] > m) m = lab[q + off[d]];
            if (m > 0) {
                pend[q] = m;
                front[nfront++] = q;
            }
        }
        for (Py_ssize_t a = 0; a < nfront; a++) {
            lab[front[a]] = pend[front[a]];
            pend[front[a]] = 0;
        }
        /* later steps: the open unlabelled neighbours of the pixels labelled by the step before */
        while (nfront > 0) {
            Py_ssize_t nreached = 0;
            for (Py_ssize_t a = 0; a < nfront; a++) {
                Py_ssize_t p = front[a];
                int32_t l = lab[p];
                for (int d = 0; d < 8; d++) {
                    Py_ssize_t q = p + off[d];
                    if (level[q] > k || lab[q] != 0) continue; /* not open at this level, or labelled */
                    if (pend[q] == 0) reached[nreached++] = q;
                    if (l > pend[q]) pend[q] = l;
                }
            }
            for (Py_ssize_t a = 0; a < nreached; a++) {
                Py_ssize_t q = reached[a];
                lab[q] = pend[q];
                pend[q] = 0;
                front[a] = q;
            }
            nfront = nreached;
        }
    }
    for (Py_ssize_t y = 0; y < h; y++) memcpy(j->lab + y * w, lab + (y + 1) * W + 1, (size_t)w * sizeof(int32_t));
    rc = 0;
done:
    free(level);
    free(lab);
    free(pend);
    free(count);
    free(start);
    free(bucket);
    free(front);
    free(reached);
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
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnn", &ev_o, &lab_o, &todo_o, &thr_o, &h, &w)) return NULL;
    if (h < 0 || w < 0) {
        PyErr_SetString(PyExc_ValueError, "flood_levels: negative height or width");
        return NULL;
    }
    Py_buffer ev, lab, todo, thr;
    if (get_buffer(ev_o, &ev, 0, 4, h * w, "elevation") < 0) return NULL;
    if (get_buffer(lab_o, &lab, 1, 4, h * w, "labels") < 0) goto fail_ev;
    if (get_buffer(todo_o, &todo, 0, 1, h * w, "todo") < 0) goto fail_lab;
    if (get_buffer(thr_o, &thr, 0, 8, -1, "thresholds") < 0) goto fail_todo;
    if (thr.len / 8 >= UINT16_MAX) {
        PyErr_SetString(PyExc_ValueError, "flood_levels: at most 65534 thresholds");
        goto fail_thr;
    }
    Job job = {(const float *)ev.buf, (int32_t *)lab.buf, (const uint8_t *)todo.buf, (const double *)thr.buf,
               thr.len / 8, h, w};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = run(&job);
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

static PyMethodDef methods[] = {
    {"flood_levels", flood_levels, METH_VARARGS,
     "flood_levels(elevation, labels, todo, thresholds, height, width): level-wise geodesic flood, in place."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_flood", "The MEP's flood in C (see mep.flood).", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__flood(void) { return PyModule_Create(&module); }
