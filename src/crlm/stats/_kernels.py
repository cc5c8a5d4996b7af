"""The survival estimators' inner loops: compiled when available, numpy otherwise.

The loops of one Cox fit (the deaths-first time order, the per-time risk sums, the
tied-death sums, the information's weighted Gram matrix, Harrell's C pair counts) run in C
(:mod:`crlm.stats._cloops`, built with crlm when a C compiler is present; two threads on large
data, ``CRLM_NO_C=1`` to switch off): it loads in microseconds, so even a one-shot command on
a large file gains from it.

For the other loops, with numba installed (``pip install crlm[fast]``), the loops of
:mod:`crlm.stats._loops` are compiled on first use for data of at least ``NUMBA_MIN_ROWS``
rows, and cached in the first writable place among the package's ``__pycache__``,
``$NUMBA_CACHE_DIR``, ``$XDG_CACHE_HOME`` or ``~/.cache`` and a private temporary directory;
with none writable (read-only install, no HOME) they are compiled without a cache — never an
error. Without numba, with ``CRLM_NO_NUMBA=1`` or on smaller data, :mod:`crlm.stats._vectorized`
(numpy) and the plain-Python loops give the same results.
"""

from __future__ import annotations

import functools
import os
import stat
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from crlm.stats import _loops, _vectorized
from crlm.stats._vectorized import on_two_threads

#: set to 1 to use the numpy path even when numba is installed
NO_NUMBA_ENV = "CRLM_NO_NUMBA"
#: set to 1 to leave the C loops unused (numba or numpy run them instead)
NO_C_ENV = "CRLM_NO_C"


def _c_loops() -> types.ModuleType | None:
    """The compiled C loops, or None when crlm was built without them or they are off."""
    if os.environ.get(NO_C_ENV, "").strip() not in ("", "0"):
        return None
    try:
        from crlm.stats import _cloops
    except ImportError:  # installed without a C compiler
        return None
    return _cloops


#: :mod:`crlm.stats._cloops`, or None (see :func:`_c_loops`)
C_LOOPS = _c_loops()
#: from this many rows the C loops and the sorted copy of the design (:func:`take_rows`) work
#: on two threads
TWO_THREADS_MIN_ROWS = 100_000

# callees first: a compiled function sees the compiled versions of the loops it calls
_LOOPS = ("_fenwick_add", "_fenwick_count", "_fenwick_add_weight", "_fenwick_weight_below",
          "time_sums", "scale_rows", "_deaths_first", "concordance_counts",
          "counting_sweep", "counting_concordance")


def _writable(directory: Path) -> bool:
    """True when a file can be created in ``directory`` (made if missing)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def _private(directory: Path) -> bool:
    """True for a directory owned by this user that nobody else can write to."""
    info = directory.stat()
    owner_ok = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return owner_ok and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def numba_cache_dir() -> Path | None:
    """Where compiled loops may be cached: the package's own folder first, then user caches.

    Returns the package directory when numba's default (``__pycache__`` beside the source)
    is writable, another writable directory otherwise, or None: compile without a cache.
    """
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured:
        return Path(configured) if _writable(Path(configured)) else None
    here = Path(_loops.__file__).parent
    if _writable(here / "__pycache__"):
        return here
    candidates = []
    if os.environ.get("XDG_CACHE_HOME"):
        candidates.append(Path(os.environ["XDG_CACHE_HOME"]) / "crlm" / "numba")
    home = os.environ.get("HOME")
    if home:
        candidates.append(Path(home) / ".cache" / "crlm" / "numba")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    shared_tmp = Path(tempfile.gettempdir()) / f"crlm-numba-{uid}"
    for directory in candidates:
        if _writable(directory):
            return directory
    try:
        shared_tmp.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    # a shared temporary folder is used only if it is ours alone (cached code is loaded)
    return shared_tmp if _private(shared_tmp) and _writable(shared_tmp) else None


def _compiled() -> dict[str, Callable[..., Any]] | None:
    """The loops compiled by numba, or None when numba is absent or switched off."""
    if os.environ.get(NO_NUMBA_ENV, "").strip() not in ("", "0"):
        return None
    try:
        import numba
    except ImportError:
        return None
    cache_dir = numba_cache_dir()
    here = Path(_loops.__file__).parent
    if cache_dir is not None and cache_dir != here:
        numba.config.CACHE_DIR = str(cache_dir)
    namespace = dict(vars(_loops))
    for name in _LOOPS:
        py = getattr(_loops, name)
        fresh = types.FunctionType(py.__code__, namespace, py.__name__, py.__defaults__)
        fresh.__module__ = py.__module__
        fresh.__qualname__ = py.__qualname__
        namespace[name] = numba.njit(cache=cache_dir is not None, nogil=True)(fresh)
    return {name: namespace[name] for name in _LOOPS}


#: the environment variable that overrides :data:`NUMBA_MIN_ROWS`
NUMBA_MIN_ROWS_ENV = "CRLM_NUMBA_MIN_ROWS"
#: below this many rows the numpy loops run even with numba installed: loading the compiled
#: loops costs about a second of CPU, more than they save on a small file — or, in a process
#: that declared one fit (:func:`expect_single_fit`), below :data:`SINGLE_FIT_NUMBA_MIN_ROWS`.
#: The (start, stop] sweeps, plain Python without numba, always use it.
NUMBA_MIN_ROWS = int(os.environ.get(NUMBA_MIN_ROWS_ENV, "100000"))
#: a process that fits one model (and its Harrell's C) gets numba's load back only from about
#: two million rows: whole-process ``crlm stats cox``, 2026-11-30, 1M rows 2.5-2.9 s numpy vs
#: 2.8-3.4 s numba, 2M rows 5.0 s vs 4.8-5.3 s. Repeated fits (bootstrap, imputations, a
#: pipeline, a server) load it once for many: they keep :data:`NUMBA_MIN_ROWS`.
SINGLE_FIT_NUMBA_MIN_ROWS = 2_000_000


def expect_single_fit() -> None:
    """Declare that this process runs the loops for one model (a one-shot command): numba is
    then used only from :data:`SINGLE_FIT_NUMBA_MIN_ROWS` rows. ``CRLM_NUMBA_MIN_ROWS``, when
    set, still wins."""
    global NUMBA_MIN_ROWS
    if NUMBA_MIN_ROWS_ENV not in os.environ:
        NUMBA_MIN_ROWS = max(NUMBA_MIN_ROWS, SINGLE_FIT_NUMBA_MIN_ROWS)


@functools.cache
def compiled() -> dict[str, Callable[..., Any]] | None:
    """The numba-compiled loops (made on first use), or None without numba."""
    return _compiled()


def _for(n_rows: int) -> dict[str, Callable[..., Any]] | None:
    return compiled() if n_rows >= NUMBA_MIN_ROWS else None


def time_sums(x: np.ndarray, risk: np.ndarray, first: np.ndarray, dead_at: np.ndarray,
              scratch: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct time: risk sums over its deaths and its rows (see ``_loops.time_sums``);
    ``scratch`` (x's shape) spares the numpy path a temporary."""
    if C_LOOPS is not None:
        return _c_time_sums(x, risk, first, dead_at)
    jit = _for(x.shape[0])
    if jit:
        return jit["time_sums"](x, risk, first, dead_at)
    return _vectorized.time_sums(x, risk, first, dead_at, scratch)


def scale_rows(x: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = weight[i] · x[i]``."""
    jit = _for(x.shape[0])
    (jit["scale_rows"] if jit else _vectorized.scale_rows)(x, weight, out)


def _deaths_first(order: np.ndarray, sorted_time: np.ndarray, event: np.ndarray) -> np.ndarray:
    if C_LOOPS is not None:
        out = np.empty(order.size, dtype=np.int64)
        C_LOOPS.deaths_first(np.ascontiguousarray(order, dtype=np.int64),
                             np.ascontiguousarray(sorted_time, dtype=float),
                             np.ascontiguousarray(event, dtype=np.bool_), out)
        return out
    jit = _for(order.size)
    return (jit["_deaths_first"] if jit else _vectorized._deaths_first)(order, sorted_time, event)


def concordance_counts(rank: np.ndarray, event: np.ndarray, block_end: np.ndarray,
                       n_ranks: int) -> np.ndarray:
    """Per row: concordant, discordant and tied pairs (see ``_loops.concordance_counts``)."""
    if C_LOOPS is not None:
        return _c_concordance_counts(rank, event, block_end, n_ranks)
    jit = _for(rank.size)
    return (jit["concordance_counts"] if jit else _vectorized.concordance_counts)(
        rank, event, block_end, n_ranks)


def _c_concordance_counts(rank: np.ndarray, event: np.ndarray, block_end: np.ndarray,
                          n_ranks: int) -> np.ndarray:
    """:func:`concordance_counts` by the C loops: every row's counts against earlier deaths,
    plus each death's against later rows (the two sweeps on two threads from
    :data:`TWO_THREADS_MIN_ROWS` rows)."""
    rank = np.ascontiguousarray(rank, dtype=np.int64)
    event = np.ascontiguousarray(event, dtype=np.bool_)
    block_end = np.ascontiguousarray(block_end, dtype=np.int64)
    dead = np.flatnonzero(event)
    out, of_deaths = np.empty((rank.size, 3)), np.empty((dead.size, 3))

    def sweep(side: int, into: np.ndarray) -> Callable[[], None]:
        return lambda: C_LOOPS.concordance_counts(rank, event, block_end, n_ranks, into, side)

    if rank.size < TWO_THREADS_MIN_ROWS:
        sweep(1, out)()
        sweep(0, of_deaths)()
    else:
        on_two_threads(sweep(1, out), sweep(0, of_deaths))
    out[dead] += of_deaths
    return out


def _c_time_sums(x: np.ndarray, risk: np.ndarray, first: np.ndarray, dead_at: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`time_sums` by the C loops; from :data:`TWO_THREADS_MIN_ROWS` rows the times
    of the first and second half of the rows on two threads."""
    x = np.asfortranarray(x, dtype=float)
    risk = np.ascontiguousarray(risk, dtype=float)
    first = np.ascontiguousarray(first, dtype=np.int64)
    dead_at = np.ascontiguousarray(dead_at, dtype=np.int64)
    n_times = first.size
    dead0, all0 = np.empty(n_times), np.empty(n_times)
    dead1, all1 = np.empty((n_times, x.shape[1])), np.empty((n_times, x.shape[1]))
    outputs = (dead0, all0, dead1, all1)
    if x.shape[0] < TWO_THREADS_MIN_ROWS:
        C_LOOPS.time_sums(x, risk, first, dead_at, 0, n_times, *outputs)
    else:
        half = int(np.searchsorted(first, x.shape[0] // 2))
        on_two_threads(
            lambda: C_LOOPS.time_sums(x, risk, first, dead_at, 0, half, *outputs),
            lambda: C_LOOPS.time_sums(x, risk, first, dead_at, half, n_times, *outputs))
    return outputs


def counting_sweep(*args: Any) -> Any:
    """The (start, stop] partial-likelihood sweep (see ``_loops.counting_sweep``)."""
    jit = compiled()
    return (jit["counting_sweep"] if jit else _loops.counting_sweep)(*args)


def counting_concordance(*args: Any) -> Any:
    """Weighted (start, stop] pair counts (see ``_loops.counting_concordance``)."""
    jit = compiled()
    return (jit["counting_concordance"] if jit else _loops.counting_concordance)(*args)


def take_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows]`` in Fortran order, column by column; numpy's ``take`` releases the GIL, so
    from :data:`TWO_THREADS_MIN_ROWS` rows each half of the columns has its own thread
    (1M × 8 in random order: 88 → 50 ms)."""
    out = np.empty((rows.size, x.shape[1]), order="F")

    def columns(which: range) -> None:
        for k in which:
            np.take(x[:, k], rows, out=out[:, k], mode="clip")  # "clip": unbuffered

    half = x.shape[1] // 2
    if rows.size < TWO_THREADS_MIN_ROWS or half == 0:
        columns(range(x.shape[1]))
    else:
        on_two_threads(lambda: columns(range(half)), lambda: columns(range(half, x.shape[1])))
    return out


def efron_sums(s0: np.ndarray, dead0: np.ndarray, group_time: np.ndarray,
               group_start: np.ndarray, frac: np.ndarray, death_group: np.ndarray
               ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tied-death sums of the Cox partial likelihood (Efron; Breslow with ``frac`` 0).

    Death j, of tied-death group k (``death_group``; groups start at ``group_start`` within
    the deaths) at distinct time ``group_time[k]``, has the denominator
    ``a0 = s0[t] - frac[j] · dead0[t]``. Returns the sum of ``log a0`` over the deaths and,
    per group, the sums of 1/a0, f/a0, 1/a0², f/a0² and f²/a0².
    """
    if C_LOOPS is None:
        return _vectorized.efron_sums(s0, dead0, group_time, group_start, frac, death_group)
    sums = tuple(np.empty(group_start.size) for _ in range(5))
    log_sum = C_LOOPS.efron_sums(
        np.ascontiguousarray(s0, dtype=float), np.ascontiguousarray(dead0, dtype=float),
        np.ascontiguousarray(group_time, dtype=np.int64),
        np.ascontiguousarray(group_start, dtype=np.int64),
        np.ascontiguousarray(frac, dtype=float), *sums)
    return (log_sum, *sums)


def risk_set_gram(x: np.ndarray, risk: np.ndarray, gid: np.ndarray, event: np.ndarray,
                  per_time: np.ndarray, per_time_dead: np.ndarray,
                  buffer: np.ndarray | None = None) -> np.ndarray:
    """``X' diag(v) X`` with ``v = risk · (per_time[gid] − event · per_time_dead[gid])``: the
    second-moment part of the Cox information (``gid``, each row's distinct time).

    By the C loops (each half of the rows on its own thread from
    :data:`TWO_THREADS_MIN_ROWS` rows), or in numpy with one BLAS product (``buffer``, x's
    shape, is then reused).
    """
    if C_LOOPS is None:
        v = per_time[gid] - np.where(event, per_time_dead[gid], 0.0)
        v *= risk
        return weighted_gram(x, v, buffer)
    args = (np.asfortranarray(x, dtype=float), np.ascontiguousarray(risk, dtype=float),
            np.ascontiguousarray(gid, dtype=np.int64),
            np.ascontiguousarray(event, dtype=np.bool_),
            np.ascontiguousarray(per_time, dtype=float),
            np.ascontiguousarray(per_time_dead, dtype=float))
    n, p = x.shape
    gram = np.zeros((p, p))
    if n < TWO_THREADS_MIN_ROWS:
        C_LOOPS.risk_set_gram(*args, 0, n, gram)
        return gram
    other = np.zeros_like(gram)
    on_two_threads(lambda: C_LOOPS.risk_set_gram(*args, 0, n // 2, gram),
                    lambda: C_LOOPS.risk_set_gram(*args, n // 2, n, other))
    return gram + other


def weighted_gram(x: np.ndarray, weight: np.ndarray, buffer: np.ndarray | None = None
                  ) -> np.ndarray:
    """``X' diag(weight) X`` by one BLAS product; ``buffer`` (same shape as x) is reused."""
    if buffer is None:
        buffer = np.empty_like(x)
    scale_rows(x, weight, buffer)
    gram = buffer.T @ x
    return (gram + gram.T) / 2.0


def time_order(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Row order by time ascending with, at a tied time, the events before the censored."""
    order = np.argsort(time).astype(np.int64)
    return _deaths_first(order, time[order], np.asarray(event, dtype=np.bool_))
