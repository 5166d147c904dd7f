/* baiseg.postprocess._native: the Python functions over the MEP's C kernels (kernels.h). Each takes C-contiguous
 * buffers (NumPy arrays) of the sizes it states, checks them, releases the GIL while the kernel runs, and raises
 * ValueError with one line naming the bad argument. The callers and their NumPy/OpenCV fallbacks are in mep.py and
 * merge.py. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "kernels.h"

/* One buffer argument: the object, whether it is written, its item size and item count (-1: any count). */
typedef struct {
    PyObject *obj;
    int writable;
    Py_ssize_t itemsize, n;
    const char *name;
} Arg;

/* a * b, or -1 (with ValueError naming fn) when it overflows Py_ssize_t or a factor is negative. */
static Py_ssize_t product(Py_ssize_t a, Py_ssize_t b, const char *fn) {
    if (a < 0 || b < 0 || (a > 0 && b > PY_SSIZE_T_MAX / a)) {
        PyErr_Format(PyExc_ValueError, "%s: sizes %zd x %zd are negative or overflow", fn, a, b);
        return -1;
    }
    return a * b;
}

static void release(Py_buffer *v, int k) {
    while (k-- > 0) PyBuffer_Release(&v[k]);
}

/* Get every buffer of args (k of them) into v; on an error, release the ones taken and return -1. */
static int get_buffers(const char *fn, const Arg *args, Py_buffer *v, int k) {
    for (int i = 0; i < k; i++) {
        int flags = PyBUF_C_CONTIGUOUS | (args[i].writable ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(args[i].obj, &v[i], flags) < 0) {
            release(v, i);
            return -1;
        }
        if (v[i].itemsize != args[i].itemsize || (args[i].n >= 0 && v[i].len != args[i].n * args[i].itemsize)) {
            PyErr_Format(PyExc_ValueError, "%s: '%s' has %zd-byte items and %zd bytes; expected %zd-byte items%s", fn,
                         args[i].name, v[i].itemsize, v[i].len, args[i].itemsize,
                         args[i].n >= 0 ? " for every pixel (or table entry)" : "");
            release(v, i + 1);
            return -1;
        }
    }
    return 0;
}

static PyObject *done(Py_buffer *v, int k, int rc, const char *fn) {
    release(v, k);
    if (rc == -1) return PyErr_NoMemory();
    if (rc == -2) return PyErr_Format(PyExc_ValueError, "%s: a component id is >= k", fn);
    Py_RETURN_NONE;
}

static PyObject *flood_levels(PyObject *self, PyObject *a) {
    PyObject *ev, *lab, *todo, *thr;
    Py_ssize_t h, w;
    Py_buffer v[4];
    int rc;
    (void)self;
    if (!PyArg_ParseTuple(a, "OOOOnn", &ev, &lab, &todo, &thr, &h, &w)) return NULL;
    Py_ssize_t hw = product(h, w, "flood_levels");
    if (hw < 0) return NULL;
    Arg args[4] = {{ev, 0, 4, hw, "elevation"}, {lab, 1, 4, hw, "labels"}, {todo, 0, 1, hw, "todo"},
                   {thr, 0, 8, -1, "thresholds"}};
    if (get_buffers("flood_levels", args, v, 4) < 0) return NULL;
    if (v[3].len / 8 >= UINT16_MAX) {
        release(v, 4);
        return PyErr_Format(PyExc_ValueError, "flood_levels: at most 65534 thresholds");
    }
    Py_BEGIN_ALLOW_THREADS
    rc = mep_flood_levels(v[0].buf, v[1].buf, v[2].buf, v[3].buf, v[3].len / 8, h, w);
    Py_END_ALLOW_THREADS
    return done(v, 4, rc, "flood_levels");
}

static PyObject *flood_classes(PyObject *self, PyObject *a) {
    PyObject *ev, *mk, *cls, *out;
    Py_ssize_t nclasses, levels, h, w, y0, y1, x0, x1, top;
    Py_buffer v[4];
    int rc;
    (void)self;
    if (!PyArg_ParseTuple(a, "OOOnnOnn(nnnn)n", &ev, &mk, &cls, &nclasses, &levels, &out, &h, &w, &y0, &y1, &x0, &x1,
                          &top))
        return NULL;
    Py_ssize_t hw = product(h, w, "flood_classes");
    if (hw < 0) return NULL;
    if (nclasses < 0 || nclasses > 254) return PyErr_Format(PyExc_ValueError, "flood_classes: 0..254 classes");
    if (levels < 1 || levels >= UINT16_MAX) return PyErr_Format(PyExc_ValueError, "flood_classes: 1..65534 levels");
    if (y0 < 0 || x0 < 0 || y1 > h || x1 > w || top < 0 || top >= INT32_MAX)
        return PyErr_Format(PyExc_ValueError, "flood_classes: box outside the image or bad largest marker");
    Arg args[4] = {{ev, 0, 4, hw, "elevation"}, {mk, 0, 4, hw, "markers"}, {cls, 0, 1, hw, "classes"},
                   {out, 1, 4, hw, "out"}};
    if (get_buffers("flood_classes", args, v, 4) < 0) return NULL;
    {   /* every value the kernel indexes its tables with (inside the box): markers <= top, classes <= nclasses */
        const int32_t *m = (const int32_t *)v[1].buf;
        const uint8_t *c = (const uint8_t *)v[2].buf;
        for (Py_ssize_t y = y0; y < y1; y++)
            for (Py_ssize_t i = y * w + x0; i < y * w + x1; i++) {
                if (m[i] > top || c[i] > nclasses) {
                    release(v, 4);
                    return PyErr_Format(PyExc_ValueError,
                                        "flood_classes: pixel %zd has marker %d (largest allowed %zd) and class index "
                                        "%d (largest allowed %zd)", i, (int)m[i], top, (int)c[i], nclasses);
                }
            }
    }
    Py_BEGIN_ALLOW_THREADS
    rc = mep_flood_classes(v[0].buf, v[1].buf, v[2].buf, nclasses, levels, v[3].buf, w, y0, y1, x0, x1, (int32_t)top);
    Py_END_ALLOW_THREADS
    return done(v, 4, rc, "flood_classes");
}

static PyObject *label_boxes(PyObject *self, PyObject *a) {
    PyObject *lab, *box;
    Py_ssize_t n, h, w;
    Py_buffer v[2];
    (void)self;
    if (!PyArg_ParseTuple(a, "OnOnn", &lab, &n, &box, &h, &w)) return NULL;
    Py_ssize_t hw = product(h, w, "label_boxes"), nb = product(n + 1, 4, "label_boxes");
    if (hw < 0 || nb < 0) return NULL;
    Arg args[2] = {{lab, 0, 4, hw, "labels"}, {box, 1, 8, nb, "boxes"}};
    if (get_buffers("label_boxes", args, v, 2) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    mep_label_boxes(v[0].buf, n, v[1].buf, h, w);
    Py_END_ALLOW_THREADS
    return done(v, 2, 0, "label_boxes");
}

static PyObject *border_sums(PyObject *self, PyObject *a) {
    PyObject *lab, *b, *sem, *sums, *counts;
    Py_ssize_t n, h, w;
    Py_buffer v[5];
    (void)self;
    if (!PyArg_ParseTuple(a, "OOOnOOnn", &lab, &b, &sem, &n, &sums, &counts, &h, &w)) return NULL;
    if (h < 1 || w < 1 || n < 0) return PyErr_Format(PyExc_ValueError, "border_sums: empty map or negative count");
    Py_ssize_t hw = product(h, w, "border_sums"), nn = product(n + 1, n + 1, "border_sums");
    if (hw < 0 || nn < 0) return NULL;
    Arg args[5] = {{lab, 0, 4, hw, "labels"}, {b, 0, 4, hw, "boundary"}, {sem, 0, 1, hw, "semantic"},
                   {sums, 1, 8, nn, "sums"}, {counts, 1, 8, nn, "counts"}};
    if (get_buffers("border_sums", args, v, 5) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    mep_border_sums(v[0].buf, v[1].buf, v[2].buf, n, v[3].buf, v[4].buf, h, w);
    Py_END_ALLOW_THREADS
    return done(v, 5, 0, "border_sums");
}

static PyObject *open_border(PyObject *self, PyObject *a) {
    PyObject *lab, *sem, *count;
    Py_ssize_t n, h, w;
    Py_buffer v[3];
    (void)self;
    if (!PyArg_ParseTuple(a, "OOnOnn", &lab, &sem, &n, &count, &h, &w)) return NULL;
    if (h < 1 || w < 1 || n < 0) return PyErr_Format(PyExc_ValueError, "open_border: empty map or negative count");
    Py_ssize_t hw = product(h, w, "open_border");
    if (hw < 0) return NULL;
    Arg args[3] = {{lab, 0, 4, hw, "labels"}, {sem, 0, 1, hw, "semantic"}, {count, 1, 8, n + 1, "count"}};
    if (get_buffers("open_border", args, v, 3) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    mep_open_border(v[0].buf, v[1].buf, n, v[2].buf, h, w);
    Py_END_ALLOW_THREADS
    return done(v, 3, 0, "open_border");
}

static PyObject *edt(PyObject *self, PyObject *a) {
    PyObject *region, *dist;
    Py_ssize_t h, w;
    Py_buffer v[2];
    int rc;
    (void)self;
    if (!PyArg_ParseTuple(a, "OOnn", &region, &dist, &h, &w)) return NULL;
    Py_ssize_t hw = product(h, w, "edt");
    if (hw < 0) return NULL;
    Arg args[2] = {{region, 0, 1, hw, "region"}, {dist, 1, 4, hw, "dist"}};
    if (get_buffers("edt", args, v, 2) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = h > 0 && w > 0 ? mep_edt(v[0].buf, v[1].buf, h, w) : 0;
    Py_END_ALLOW_THREADS
    return done(v, 2, rc, "edt");
}

static PyObject *peak_seeds(PyObject *self, PyObject *a) {
    PyObject *dist, *comp, *seeds;
    Py_ssize_t k, n;
    double frac;
    Py_buffer v[3];
    int rc;
    (void)self;
    if (!PyArg_ParseTuple(a, "OOndOn", &dist, &comp, &k, &frac, &seeds, &n)) return NULL;
    if (k < 1 || n < 0) return PyErr_Format(PyExc_ValueError, "peak_seeds: k >= 1 and n >= 0");
    Arg args[3] = {{dist, 0, 4, n, "dist"}, {comp, 0, 4, n, "comp"}, {seeds, 1, 1, n, "seeds"}};
    if (get_buffers("peak_seeds", args, v, 3) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = mep_peak_seeds(v[0].buf, v[1].buf, k, frac, v[2].buf, n);
    Py_END_ALLOW_THREADS
    return done(v, 3, rc, "peak_seeds");
}

static PyObject *argmax_channels(PyObject *self, PyObject *a) {
    PyObject *prob, *lab;
    Py_ssize_t c, n;
    Py_buffer v[2];
    (void)self;
    if (!PyArg_ParseTuple(a, "OOnn", &prob, &lab, &c, &n)) return NULL;
    if (c < 1 || c > 256 || n < 0) return PyErr_Format(PyExc_ValueError, "argmax_channels: 1..256 channels, n >= 0");
    Py_ssize_t cn = product(c, n, "argmax_channels");
    if (cn < 0) return NULL;
    Arg args[2] = {{prob, 0, 4, cn, "prob"}, {lab, 1, 1, n, "labels"}};
    if (get_buffers("argmax_channels", args, v, 2) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    mep_argmax_channels(v[0].buf, c, n, v[1].buf);
    Py_END_ALLOW_THREADS
    return done(v, 2, 0, "argmax_channels");
}

static PyMethodDef methods[] = {
    {"flood_levels", flood_levels, METH_VARARGS,
     "flood_levels(elevation, labels, todo, thresholds, height, width): mep.flood, labels in place."},
    {"flood_classes", flood_classes, METH_VARARGS,
     "flood_classes(elevation, markers, classes, nclasses, levels, out, height, width, (y0, y1, x0, x1), top): "
     "mep.flood_per_class."},
    {"label_boxes", label_boxes, METH_VARARGS, "label_boxes(labels, n, boxes, height, width): mep.label_boxes."},
    {"border_sums", border_sums, METH_VARARGS,
     "border_sums(labels, boundary, semantic, n, sums, counts, height, width): merge.border_strengths."},
    {"open_border", open_border, METH_VARARGS, "open_border(labels, semantic, n, count, height, width)."},
    {"edt", edt, METH_VARARGS, "edt(region, dist, height, width): exact Euclidean distance transform, float32."},
    {"peak_seeds", peak_seeds, METH_VARARGS, "peak_seeds(dist, comp, k, frac, seeds, n): the dtws seeds."},
    {"argmax_channels", argmax_channels, METH_VARARGS,
     "argmax_channels(prob, labels, c, n): uint8 labels of the first largest of c float32 channels of n pixels."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", "The MEP's C kernels (native/kernels.h).", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
