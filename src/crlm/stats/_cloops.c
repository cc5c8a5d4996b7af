/* The hot loops of one Cox fit in C: the deaths-first order of tied times, the per-time risk
 * sums, the tied-death sums and the information's weighted Gram matrix of the partial
 * likelihood, and Harrell's C pair counts (the Fenwick-tree loops of crlm/stats/_loops.py).
 * Compiled when crlm is installed (an optional extension: without a C compiler crlm uses
 * numba or numpy, with the same results).
 *
 * Why C and not only numba: one `crlm stats cox` on a 1M-row file spent about 0.6 s on the
 * pair counts in numpy, and loading numba's compiled loops costs about as much as it saves;
 * this module loads in microseconds (benchmarks/RESULTS.md). Same algorithms as
 * _loops._deaths_first and _loops.concordance_counts (equal results), _loops.time_sums, and
 * the numpy _vectorized.efron_sums and _kernels.risk_set_gram (equal up to the order of
 * additions); checked against them in tests/test_c_loops.py and, through the estimators,
 * against R survival.
 *
 * The arrays come through the buffer protocol (any C-contiguous int64 / bool / float64
 * array), so building needs no numpy headers. Inputs are checked before the loops run:
 * a rank or block end out of range raises ValueError, never reads outside an array.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

/* One C-contiguous buffer of `count` items of `itemsize` bytes; format kind in `kinds`. */
static int
get_array(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, const char *kinds,
          int writable, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0) {
        return -1;
    }
    const char *format = view->format ? view->format : "B";
    char kind = format[strlen(format) - 1];
    if (view->itemsize != itemsize || strchr(kinds, kind) == NULL) {
        PyErr_Format(PyExc_TypeError, "%s: expected items of %zd bytes of kind '%s', got '%s'",
                     name, itemsize, kinds, format);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* A float64 matrix of `rows` x `cols` in Fortran (column-major) order. */
static int
get_fortran_matrix(PyObject *obj, Py_buffer *view, const char *name)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_F_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        return -1;
    }
    const char *format = view->format ? view->format : "B";
    if (view->ndim != 2 || view->itemsize != 8 || format[strlen(format) - 1] != 'd') {
        PyErr_Format(PyExc_TypeError, "%s: expected a 2-D float64 array", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* What one array argument must be: 'd' float64, 'i' int64, 'b' bool (one C-contiguous
 * dimension), 'F' a 2-D float64 matrix in Fortran order; written to when `writable`. */
typedef struct {
    const char *name;
    char type;
    int writable;
} array_spec;

static void
release_arrays(Py_buffer *const *views, int count)
{
    for (int k = 0; k < count; k++) {
        PyBuffer_Release(views[k]);
    }
}

/* Every argument's buffer (objs[k] into *views[k]), or none: on a wrong argument the buffers
 * taken so far are released, the error is set and -1 returned. */
static int
get_arrays(PyObject *const *objs, const array_spec *specs, Py_buffer *const *views,
           int count)
{
    for (int k = 0; k < count; k++) {
        char type = specs[k].type;
        int failed = type == 'F'
            ? get_fortran_matrix(objs[k], views[k], specs[k].name)
            : get_array(objs[k], views[k], type == 'b' ? 1 : 8,
                        type == 'd' ? "d" : type == 'i' ? "lq" : "?bB", specs[k].writable,
                        specs[k].name);
        if (failed) {
            release_arrays(views, k);
            return -1;
        }
    }
    return 0;
}

/* Fenwick-tree counts fit in 32 bits (the caller passes fewer than 2^31 rows): half the
 * memory of 64-bit counts, so more of the tree stays in the cache. Node i is stored at
 * i + (i >> 14): the nodes a query visits lie 2^k apart, and without the gap every 16384th
 * would compete for the same cache sets (the layout of scipy.stats' Kendall tau counts). */
typedef int32_t tree_count;

static inline int64_t
fenwick_slots(int64_t size)
{
    return size + (size >> 14) + 1;
}

static inline void
fenwick_add(tree_count *tree, int64_t size, int64_t index)
{
    for (int64_t i = index + 1; i < size; i += i & -i) {
        tree[i + (i >> 14)] += 1;
    }
}

/* Number of inserted values with rank < index. */
static inline int64_t
fenwick_count(const tree_count *tree, int64_t index)
{
    int64_t total = 0;
    for (int64_t i = index; i > 0; i -= i & -i) {
        total += tree[i + (i >> 14)];
    }
    return total;
}

/* Deaths against the rows after their tied deaths: scan deaths by decreasing block end,
 * inserting rows from the back. Writes the k-th death's (concordant, discordant, tied)
 * counts to out[k] (deaths in row order). */
static void
death_side(int64_t n, const int64_t *rank, const uint8_t *event, const int64_t *block_end,
           tree_count *tree, int64_t size, int64_t n_deaths, double *out)
{
    int64_t inserted = n;
    int64_t k = n_deaths;
    for (int64_t i = n - 1; i >= 0; i--) {
        if (!event[i]) {
            continue;
        }
        k--;
        int64_t b = block_end[i];
        while (inserted > b) {
            inserted--;
            fenwick_add(tree, size, rank[inserted]);
        }
        int64_t below = fenwick_count(tree, rank[i]);
        int64_t below_eq = fenwick_count(tree, rank[i] + 1);
        out[3 * k] = (double)((n - b) - below_eq);
        out[3 * k + 1] = (double)below;
        out[3 * k + 2] = (double)(below_eq - below);
    }
}

/* Every row against the deaths whose tied block ended before it: scan rows forward,
 * inserting those deaths. Writes row j's counts to out[j]. */
static void
comparator_side(int64_t n, const int64_t *rank, const uint8_t *event,
                const int64_t *block_end, tree_count *tree, int64_t size, double *out)
{
    int64_t n_inserted = 0;
    int64_t next_death = 0;
    for (int64_t j = 0; j < n; j++) {
        while (next_death < n && (!event[next_death] || block_end[next_death] <= j)) {
            if (event[next_death]) {
                fenwick_add(tree, size, rank[next_death]);
                n_inserted++;
            }
            next_death++;
        }
        int64_t below = fenwick_count(tree, rank[j]);
        int64_t below_eq = fenwick_count(tree, rank[j] + 1);
        out[3 * j] = (double)below;
        out[3 * j + 1] = (double)(n_inserted - below_eq);
        out[3 * j + 2] = (double)(below_eq - below);
    }
}

PyDoc_STRVAR(concordance_counts_doc,
"concordance_counts(rank, event, block_end, n_ranks, out, side)\n--\n\n"
"One side of crlm.stats._loops.concordance_counts' pair counts (concordant, discordant,\n"
"tied), written to out (float64, C order). side 0: each death against the rows after its\n"
"tied deaths, into out of (deaths x 3), the deaths in row order; side 1: every row against\n"
"the deaths before it, into out of (n x 3). A row's counts are its side-1 counts plus, for\n"
"a death, its side-0 counts; the two sides are independent (two threads may run them).\n"
"rank: int64 dense score ranks in [0, n_ranks); event: bool; block_end: int64 in [0, n],\n"
"the first position after the deaths tied with each row; fewer than 2^31 rows. Releases\n"
"the GIL.");

static PyObject *
concordance_counts(PyObject *self, PyObject *args)
{
    PyObject *rank_obj, *event_obj, *block_obj, *out_obj;
    Py_ssize_t n_ranks;
    int side;
    if (!PyArg_ParseTuple(args, "OOOnOi:concordance_counts", &rank_obj, &event_obj,
                          &block_obj, &n_ranks, &out_obj, &side)) {
        return NULL;
    }
    Py_buffer rank, event, block, out;
    Py_buffer *views[4] = {&rank, &event, &block, &out};
    PyObject *objs[4] = {rank_obj, event_obj, block_obj, out_obj};
    static const array_spec specs[4] = {
        {"rank", 'i', 0}, {"event", 'b', 0}, {"block_end", 'i', 0}, {"out", 'd', 1}};
    if (get_arrays(objs, specs, views, 4) != 0) {
        return NULL;
    }
    PyObject *result = NULL;

    int64_t n = (int64_t)(rank.len / 8);
    if ((int64_t)event.len != n || (int64_t)(block.len / 8) != n) {
        PyErr_SetString(PyExc_ValueError,
                        "concordance_counts: rank, event and block_end differ in length");
        goto done;
    }
    if (side != 0 && side != 1) {
        PyErr_SetString(PyExc_ValueError, "concordance_counts: side is 0 or 1");
        goto done;
    }
    int64_t n_deaths = 0;
    for (int64_t i = 0; i < n; i++) {
        n_deaths += ((const uint8_t *)event.buf)[i] != 0;
    }
    if ((int64_t)(out.len / 8) != 3 * (side == 0 ? n_deaths : n)) {
        PyErr_SetString(PyExc_ValueError,
                        "concordance_counts: out is not (deaths x 3) for side 0, (n x 3) for "
                        "side 1");
        goto done;
    }
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "concordance_counts: 2^31 rows or more");
        goto done;
    }
    if (n_ranks < 0) {
        PyErr_SetString(PyExc_ValueError, "concordance_counts: n_ranks < 0");
        goto done;
    }
    const int64_t *r = (const int64_t *)rank.buf;
    const int64_t *b = (const int64_t *)block.buf;
    for (int64_t i = 0; i < n; i++) {
        if (r[i] < 0 || r[i] >= (int64_t)n_ranks || b[i] < 0 || b[i] > n) {
            PyErr_SetString(PyExc_ValueError,
                            "concordance_counts: a rank or block end is out of range");
            goto done;
        }
    }
    int64_t size = (int64_t)n_ranks + 1;
    tree_count *tree = calloc((size_t)fenwick_slots(size), sizeof(tree_count));
    if (tree == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    if (side == 0) {
        death_side(n, r, (const uint8_t *)event.buf, b, tree, size, n_deaths,
                   (double *)out.buf);
    } else {
        comparator_side(n, r, (const uint8_t *)event.buf, b, tree, size, (double *)out.buf);
    }
    Py_END_ALLOW_THREADS
    free(tree);
    result = Py_NewRef(Py_None);
done:
    release_arrays(views, 4);
    return result;
}


PyDoc_STRVAR(time_sums_doc,
"time_sums(x, risk, first, dead_at, lo, hi, dead0, all0, dead1, all1)\n--\n\n"
"As crlm.stats._loops.time_sums for the distinct times lo..hi-1: per time g, the sums of\n"
"risk and risk * x over its deaths (dead0[g], dead1[g]) and over all its rows (all0[g],\n"
"all1[g]). x: (n, p) float64 in Fortran order, rows time-sorted with each time's deaths\n"
"first; first: int64 first row of each time; dead_at: int64 deaths per time; outputs\n"
"float64, (G,) and (G, p) C order, written for lo <= g < hi only (ranges may run on\n"
"separate threads). Releases the GIL.");

static PyObject *
time_sums(PyObject *self, PyObject *args)
{
    PyObject *x_obj, *risk_obj, *first_obj, *dead_obj, *d0_obj, *a0_obj, *d1_obj, *a1_obj;
    Py_ssize_t lo, hi;
    if (!PyArg_ParseTuple(args, "OOOOnnOOOO:time_sums", &x_obj, &risk_obj, &first_obj,
                          &dead_obj, &lo, &hi, &d0_obj, &a0_obj, &d1_obj, &a1_obj)) {
        return NULL;
    }
    Py_buffer x, risk, first, dead, d0, a0, d1, a1;
    Py_buffer *views[8] = {&x, &risk, &first, &dead, &d0, &a0, &d1, &a1};
    PyObject *objs[8] = {x_obj, risk_obj, first_obj, dead_obj, d0_obj, a0_obj, d1_obj, a1_obj};
    static const array_spec specs[8] = {
        {"x", 'F', 0}, {"risk", 'd', 0}, {"first", 'i', 0}, {"dead_at", 'i', 0},
        {"dead0", 'd', 1}, {"all0", 'd', 1}, {"dead1", 'd', 1}, {"all1", 'd', 1}};
    if (get_arrays(objs, specs, views, 8) != 0) {
        return NULL;
    }
    PyObject *result = NULL;

    int64_t n = (int64_t)x.shape[0], p = (int64_t)x.shape[1];
    int64_t g_count = (int64_t)(first.len / 8);
    if ((int64_t)(risk.len / 8) != n || (int64_t)(dead.len / 8) != g_count
            || (int64_t)(d0.len / 8) != g_count || (int64_t)(a0.len / 8) != g_count
            || (int64_t)(d1.len / 8) != g_count * p || (int64_t)(a1.len / 8) != g_count * p) {
        PyErr_SetString(PyExc_ValueError, "time_sums: arrays of mismatched lengths");
        goto done;
    }
    if (lo < 0 || hi < lo || hi > g_count) {
        PyErr_SetString(PyExc_ValueError, "time_sums: lo..hi is not a range of times");
        goto done;
    }
    const int64_t *f = (const int64_t *)first.buf;
    const int64_t *dd = (const int64_t *)dead.buf;
    for (int64_t g = 0; g < g_count; g++) {
        int64_t end = g + 1 < g_count ? f[g + 1] : n;
        if (f[g] < 0 || f[g] > end || end > n || dd[g] < 0 || dd[g] > end - f[g]) {
            PyErr_SetString(PyExc_ValueError,
                            "time_sums: first and dead_at do not cut the rows into times");
            goto done;
        }
    }
    const double *xv = (const double *)x.buf, *r = (const double *)risk.buf;
    double *dead0 = (double *)d0.buf, *all0 = (double *)a0.buf;
    double *dead1 = (double *)d1.buf, *all1 = (double *)a1.buf;
    Py_BEGIN_ALLOW_THREADS
    for (int64_t g = lo; g < hi; g++) {
        int64_t start = f[g], mid = start + dd[g];
        int64_t end = g + 1 < g_count ? f[g + 1] : n;
        double s0 = 0.0;
        for (int64_t i = start; i < mid; i++) {
            s0 += r[i];
        }
        dead0[g] = s0;
        for (int64_t i = mid; i < end; i++) {
            s0 += r[i];
        }
        all0[g] = s0;
        for (int64_t k = 0; k < p; k++) {
            const double *col = xv + k * n;
            double s1 = 0.0;
            for (int64_t i = start; i < mid; i++) {
                s1 += r[i] * col[i];
            }
            dead1[g * p + k] = s1;
            for (int64_t i = mid; i < end; i++) {
                s1 += r[i] * col[i];
            }
            all1[g * p + k] = s1;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release_arrays(views, 8);
    return result;
}

/* Rows per block of the Gram product: 8 columns of a block stay in the L1/L2 cache. */
#define GRAM_BLOCK 256

/* Add the lower triangle of sum_i w[i] x[start+i] x[start+i]' over one block of m rows. */
static void
gram_block(const double *xv, int64_t n, int64_t p, int64_t start, int64_t m,
           const double *w, double *scaled, double *g)
{
    for (int64_t k = 0; k < p; k++) {
        const double *col = xv + k * n + start;
        double *sk = scaled + k * GRAM_BLOCK;
        for (int64_t i = 0; i < m; i++) {
            sk[i] = w[i] * col[i];
        }
    }
    for (int64_t k = 0; k < p; k++) {
        const double *sk = scaled + k * GRAM_BLOCK;
        for (int64_t l = 0; l <= k; l++) {
            const double *col = xv + l * n + start;
            /* four partial sums: independent additions the CPU can overlap */
            double s[4] = {0.0, 0.0, 0.0, 0.0};
            int64_t i = 0;
            for (; i + 4 <= m; i += 4) {
                s[0] += sk[i] * col[i];
                s[1] += sk[i + 1] * col[i + 1];
                s[2] += sk[i + 2] * col[i + 2];
                s[3] += sk[i + 3] * col[i + 3];
            }
            for (; i < m; i++) {
                s[0] += sk[i] * col[i];
            }
            g[k * p + l] += (s[0] + s[1]) + (s[2] + s[3]);
        }
    }
}

/* Copy the lower triangle of g onto the upper. */
static void
symmetrize(int64_t p, double *g)
{
    for (int64_t k = 0; k < p; k++) {
        for (int64_t l = k + 1; l < p; l++) {
            g[k * p + l] = g[l * p + k];
        }
    }
}

/* Neumaier's compensated sum: the log-likelihood's sum of logs over a million deaths stays
 * at the rounding level of one addition (numpy's pairwise sum is within a few), so Newton's
 * convergence test on the change of the log-likelihood is not fooled by summation noise. */
typedef struct {
    double sum, compensation;
} exact_sum;

static inline void
exact_add(exact_sum *total, double value)
{
    double t = total->sum + value;
    if (fabs(total->sum) >= fabs(value)) {
        total->compensation += (total->sum - t) + value;
    } else {
        total->compensation += (value - t) + total->sum;
    }
    total->sum = t;
}

PyDoc_STRVAR(efron_sums_doc,
"efron_sums(s0, dead0, group_time, group_start, frac, c1, cf, c2, cf2, cff2) -> float\n--\n\n"
"The tied-death sums of the Cox partial likelihood (Efron or, with frac 0, Breslow). Death\n"
"group k holds the deaths group_start[k] .. group_start[k+1]-1 (the last up to frac's\n"
"length), all at distinct time group_time[k]; death j's denominator is\n"
"a0 = s0[t] - frac[j] * dead0[t]. Writes per group the sums of 1/a0, f/a0, 1/a0^2,\n"
"f/a0^2 and f^2/a0^2 into c1 .. cff2 (float64, one per group) and returns the sum of\n"
"log(a0) over all deaths (compensated). Releases the GIL.");

static PyObject *
efron_sums(PyObject *self, PyObject *args)
{
    PyObject *objs[10];
    if (!PyArg_ParseTuple(args, "OOOOOOOOOO:efron_sums", &objs[0], &objs[1], &objs[2],
                          &objs[3], &objs[4], &objs[5], &objs[6], &objs[7], &objs[8],
                          &objs[9])) {
        return NULL;
    }
    static const array_spec specs[10] = {
        {"s0", 'd', 0}, {"dead0", 'd', 0}, {"group_time", 'i', 0}, {"group_start", 'i', 0},
        {"frac", 'd', 0}, {"c1", 'd', 1}, {"cf", 'd', 1}, {"c2", 'd', 1}, {"cf2", 'd', 1},
        {"cff2", 'd', 1}};
    Py_buffer buffers[10];
    Py_buffer *views[10];
    for (int k = 0; k < 10; k++) {
        views[k] = &buffers[k];
    }
    if (get_arrays(objs, specs, views, 10) != 0) {
        return NULL;
    }
    PyObject *result = NULL;
    int64_t n_times = (int64_t)(buffers[0].len / 8);
    int64_t n_groups = (int64_t)(buffers[2].len / 8);
    int64_t n_deaths = (int64_t)(buffers[4].len / 8);
    int ok = (int64_t)(buffers[1].len / 8) == n_times && (int64_t)(buffers[3].len / 8) == n_groups;
    for (int k = 5; k < 10; k++) {
        ok = ok && (int64_t)(buffers[k].len / 8) == n_groups;
    }
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "efron_sums: arrays of mismatched lengths");
        goto done;
    }
    const int64_t *group_time = (const int64_t *)buffers[2].buf;
    const int64_t *group_start = (const int64_t *)buffers[3].buf;
    for (int64_t k = 0; k < n_groups; k++) {
        int64_t end = k + 1 < n_groups ? group_start[k + 1] : n_deaths;
        if (group_time[k] < 0 || group_time[k] >= n_times || group_start[k] < 0
                || group_start[k] > end || end > n_deaths) {
            PyErr_SetString(PyExc_ValueError,
                            "efron_sums: group_time or group_start out of range");
            goto done;
        }
    }
    if (n_groups == 0 && n_deaths != 0) {
        PyErr_SetString(PyExc_ValueError, "efron_sums: deaths without a group");
        goto done;
    }
    const double *s0 = (const double *)buffers[0].buf, *dead0 = (const double *)buffers[1].buf;
    const double *frac = (const double *)buffers[4].buf;
    double *c1 = (double *)buffers[5].buf, *cf = (double *)buffers[6].buf;
    double *c2 = (double *)buffers[7].buf, *cf2 = (double *)buffers[8].buf;
    double *cff2 = (double *)buffers[9].buf;
    exact_sum log_sum = {0.0, 0.0};
    Py_BEGIN_ALLOW_THREADS
    for (int64_t k = 0; k < n_groups; k++) {
        int64_t end = k + 1 < n_groups ? group_start[k + 1] : n_deaths;
        double at_risk = s0[group_time[k]], dying = dead0[group_time[k]];
        double sum1 = 0.0, sumf = 0.0, sum2 = 0.0, sumf2 = 0.0, sumff2 = 0.0;
        for (int64_t j = group_start[k]; j < end; j++) {
            double f = frac[j];
            double a0 = at_risk - f * dying;
            double inv = 1.0 / a0, inv2 = inv * inv;
            exact_add(&log_sum, log(a0));
            sum1 += inv;
            sumf += f * inv;
            sum2 += inv2;
            sumf2 += f * inv2;
            sumff2 += f * f * inv2;
        }
        c1[k] = sum1;
        cf[k] = sumf;
        c2[k] = sum2;
        cf2[k] = sumf2;
        cff2[k] = sumff2;
    }
    Py_END_ALLOW_THREADS
    result = PyFloat_FromDouble(log_sum.sum + log_sum.compensation);
done:
    release_arrays(views, 10);
    return result;
}

PyDoc_STRVAR(risk_set_gram_doc,
"risk_set_gram(x, risk, gid, event, per_time, per_time_dead, lo, hi, out)\n--\n\n"
"Add X' diag(v) X over the rows lo..hi-1 to out (p x p float64, C order, both triangles),\n"
"v[i] = risk[i] * (per_time[gid[i]] - per_time_dead[gid[i]] if event[i] else\n"
"per_time[gid[i]]): the second-moment part of the Cox information. x: (n, p) float64 in\n"
"Fortran order; gid: int64 distinct-time index of each row. Row ranges may run on separate\n"
"threads, each into its own out. Releases the GIL.");

static PyObject *
risk_set_gram(PyObject *self, PyObject *args)
{
    PyObject *x_obj, *r_obj, *g_obj, *e_obj, *a_obj, *b_obj, *out_obj;
    Py_ssize_t lo, hi;
    if (!PyArg_ParseTuple(args, "OOOOOOnnO:risk_set_gram", &x_obj, &r_obj, &g_obj, &e_obj,
                          &a_obj, &b_obj, &lo, &hi, &out_obj)) {
        return NULL;
    }
    Py_buffer x, r, g, e, a, b, out;
    Py_buffer *views[7] = {&x, &r, &g, &e, &a, &b, &out};
    PyObject *objs[7] = {x_obj, r_obj, g_obj, e_obj, a_obj, b_obj, out_obj};
    static const array_spec specs[7] = {
        {"x", 'F', 0}, {"risk", 'd', 0}, {"gid", 'i', 0}, {"event", 'b', 0},
        {"per_time", 'd', 0}, {"per_time_dead", 'd', 0}, {"out", 'd', 1}};
    if (get_arrays(objs, specs, views, 7) != 0) {
        return NULL;
    }
    PyObject *result = NULL;
    double *scaled = NULL;

    int64_t n = (int64_t)x.shape[0], p = (int64_t)x.shape[1];
    int64_t n_times = (int64_t)(a.len / 8);
    if ((int64_t)(r.len / 8) != n || (int64_t)(g.len / 8) != n || (int64_t)e.len != n
            || (int64_t)(b.len / 8) != n_times || (int64_t)(out.len / 8) != p * p) {
        PyErr_SetString(PyExc_ValueError, "risk_set_gram: arrays of mismatched lengths");
        goto done;
    }
    if (lo < 0 || hi < lo || hi > n) {
        PyErr_SetString(PyExc_ValueError, "risk_set_gram: lo..hi is not a range of rows");
        goto done;
    }
    const int64_t *gid = (const int64_t *)g.buf;
    for (int64_t i = lo; i < hi; i++) {
        if (gid[i] < 0 || gid[i] >= n_times) {
            PyErr_SetString(PyExc_ValueError, "risk_set_gram: a time index is out of range");
            goto done;
        }
    }
    scaled = malloc(sizeof(double) * GRAM_BLOCK * (size_t)(p > 0 ? p : 1));
    double *weight = malloc(sizeof(double) * GRAM_BLOCK);
    if (scaled == NULL || weight == NULL) {
        free(weight);
        PyErr_NoMemory();
        goto done;
    }
    const double *xv = (const double *)x.buf, *risk = (const double *)r.buf;
    const uint8_t *event = (const uint8_t *)e.buf;
    const double *per_time = (const double *)a.buf, *per_dead = (const double *)b.buf;
    Py_BEGIN_ALLOW_THREADS
    for (int64_t start = lo; start < hi; start += GRAM_BLOCK) {
        int64_t m = hi - start < GRAM_BLOCK ? hi - start : GRAM_BLOCK;
        for (int64_t i = 0; i < m; i++) {
            int64_t row = start + i, t = gid[row];
            weight[i] = risk[row] * (event[row] ? per_time[t] - per_dead[t] : per_time[t]);
        }
        gram_block(xv, n, p, start, m, weight, scaled, (double *)out.buf);
    }
    symmetrize(p, (double *)out.buf);
    Py_END_ALLOW_THREADS
    free(weight);
    result = Py_NewRef(Py_None);
done:
    free(scaled);
    release_arrays(views, 7);
    return result;
}

PyDoc_STRVAR(deaths_first_doc,
"deaths_first(order, sorted_time, event, out)\n--\n\n"
"As crlm.stats._loops._deaths_first: within each run of equal sorted_time, the rows of\n"
"order with an event first, each part in its incoming order, written to out. order, out:\n"
"int64 (n); sorted_time: float64 (n), the times of order's rows; event: bool, indexed by\n"
"order's values. Releases the GIL.");

static PyObject *
deaths_first(PyObject *self, PyObject *args)
{
    PyObject *o_obj, *t_obj, *e_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OOOO:deaths_first", &o_obj, &t_obj, &e_obj, &out_obj)) {
        return NULL;
    }
    Py_buffer o, t, e, out;
    Py_buffer *views[4] = {&o, &t, &e, &out};
    PyObject *objs[4] = {o_obj, t_obj, e_obj, out_obj};
    static const array_spec specs[4] = {
        {"order", 'i', 0}, {"sorted_time", 'd', 0}, {"event", 'b', 0}, {"out", 'i', 1}};
    if (get_arrays(objs, specs, views, 4) != 0) {
        return NULL;
    }
    PyObject *result = NULL;
    int64_t n = (int64_t)(o.len / 8), n_rows = (int64_t)e.len;
    if ((int64_t)(t.len / 8) != n || (int64_t)(out.len / 8) != n) {
        PyErr_SetString(PyExc_ValueError, "deaths_first: arrays of mismatched lengths");
        goto done;
    }
    const int64_t *order = (const int64_t *)o.buf;
    for (int64_t i = 0; i < n; i++) {
        if (order[i] < 0 || order[i] >= n_rows) {
            PyErr_SetString(PyExc_ValueError, "deaths_first: a row index is out of range");
            goto done;
        }
    }
    const double *time = (const double *)t.buf;
    const uint8_t *event = (const uint8_t *)e.buf;
    int64_t *target = (int64_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    int64_t start = 0;
    while (start < n) {
        int64_t end = start + 1;
        while (end < n && time[end] == time[start]) {
            end++;
        }
        int64_t k = start;
        for (int64_t i = start; i < end; i++) {
            if (event[order[i]]) {
                target[k++] = order[i];
            }
        }
        for (int64_t i = start; i < end; i++) {
            if (!event[order[i]]) {
                target[k++] = order[i];
            }
        }
        start = end;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release_arrays(views, 4);
    return result;
}

static PyMethodDef methods[] = {
    {"deaths_first", deaths_first, METH_VARARGS, deaths_first_doc},
    {"efron_sums", efron_sums, METH_VARARGS, efron_sums_doc},
    {"risk_set_gram", risk_set_gram, METH_VARARGS, risk_set_gram_doc},
    {"concordance_counts", concordance_counts, METH_VARARGS, concordance_counts_doc},
    {"time_sums", time_sums, METH_VARARGS, time_sums_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cloops",
    "The hot loops of one Cox fit, compiled from C (see crlm.stats._kernels).", -1, methods,
};

PyMODINIT_FUNC
PyInit__cloops(void)
{
    return PyModule_Create(&module);
}
