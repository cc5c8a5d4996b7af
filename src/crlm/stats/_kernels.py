"""The survival estimators' inner loops: numba-compiled when available, numpy otherwise.

With numba installed (``pip install crlm[fast]``) the loops of :mod:`crlm.stats._loops` are
compiled, and cached in the first writable place among the package's ``__pycache__``,
``$NUMBA_CACHE_DIR``, ``$XDG_CACHE_HOME``/``~/.cache`` and a private temporary directory; with
none writable (read-only install, no HOME) they are compiled without a cache — never an
error. Without numba, or with ``CRLM_NO_NUMBA=1``, :mod:`crlm.stats._vectorized` (numpy) and
the plain-Python loops give the same results.
"""

from __future__ import annotations

import os
import stat
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from crlm.stats import _loops, _vectorized

#: set to 1 to use the numpy path even when numba is installed
NO_NUMBA_ENV = "CRLM_NO_NUMBA"

# callees first: a compiled function sees the compiled versions of the loops it calls
_LOOPS = ("_fenwick_add", "_fenwick_count", "_fenwick_add_weight", "_fenwick_weight_below",
          "time_sums", "scale_rows", "subtract_at", "_deaths_first", "concordance_counts",
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


_jit = _compiled()
#: True when the loops run numba-compiled
USING_NUMBA = _jit is not None

if _jit is not None:
    time_sums = _jit["time_sums"]
    scale_rows = _jit["scale_rows"]
    subtract_at = _jit["subtract_at"]
    _deaths_first = _jit["_deaths_first"]
    concordance_counts = _jit["concordance_counts"]
    counting_sweep = _jit["counting_sweep"]
    counting_concordance = _jit["counting_concordance"]
else:
    time_sums = _vectorized.time_sums
    scale_rows = _vectorized.scale_rows
    subtract_at = _vectorized.subtract_at
    _deaths_first = _vectorized._deaths_first
    concordance_counts = _vectorized.concordance_counts
    counting_sweep = _loops.counting_sweep
    counting_concordance = _loops.counting_concordance


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
