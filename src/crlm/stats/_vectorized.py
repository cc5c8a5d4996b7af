"""numpy equivalents of the loops in :mod:`crlm.stats._loops`: used when numba is absent or
switched off, and wherever loading it would cost more than it saves (see
:mod:`crlm.stats._kernels`).

Same inputs, same outputs (equal up to the order of floating-point additions; the pair counts
exactly); checked against the loops in tests/test_stats_kernels.py. Harrell's C pair counts
run on two threads from :data:`PARALLEL_MIN_ROWS` rows. The two (start, stop] sweeps of
:mod:`crlm.stats.cox_counting` have no vectorised form here: they run as plain Python.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np


def time_sums(x: np.ndarray, risk: np.ndarray, first: np.ndarray, dead_at: np.ndarray,
              scratch: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`crlm.stats._loops.time_sums`: one ``np.add.reduceat`` over the rows cut at
    each time's first row and first censored row (deaths, then the rest, of every time).
    ``scratch``, an array of x's shape, receives the risk-weighted rows."""
    n = x.shape[0]
    start = np.asarray(first, dtype=np.intp)
    bounds = np.empty(2 * start.size, dtype=np.intp)
    bounds[0::2] = start
    bounds[1::2] = start + dead_at
    # reduceat gives values[k] for an empty piece (and takes no bound at n): zeroed below
    empty = np.empty(bounds.size, dtype=bool)
    np.equal(bounds[1:], bounds[:-1], out=empty[:-1])
    empty[-1] = bounds[-1] == n
    cut = bounds[:-1] if empty[-1] else bounds

    def pieces(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros((bounds.size, *values.shape[1:]))
        out[:cut.size] = np.add.reduceat(values, cut, axis=0)
        out[empty] = 0.0
        dead = out[0::2]
        return dead, dead + out[1::2]

    dead0, all0 = pieces(risk)
    weighted = np.multiply(x, risk[:, None], out=scratch)
    dead1, all1 = pieces(weighted)
    return dead0, all0, dead1, all1


def scale_rows(x: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = weight[i] · x[i]`` into a preallocated buffer."""
    np.multiply(x, weight[:, None], out=out)


def efron_sums(s0: np.ndarray, dead0: np.ndarray, group_time: np.ndarray,
               group_start: np.ndarray, frac: np.ndarray, death_group: np.ndarray
               ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tied-death sums of the partial likelihood (see :func:`crlm.stats._kernels.efron_sums`):
    sum of log a0 over the deaths, and per group the sums of 1/a0, f/a0, 1/a0², f/a0², f²/a0²."""
    a0 = s0[group_time][death_group] - frac * dead0[group_time][death_group]
    inv = 1.0 / a0
    inv2 = inv * inv

    def per_group(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, group_start)

    return (float(np.log(a0).sum()), per_group(inv), per_group(frac * inv), per_group(inv2),
            per_group(frac * inv2), per_group(frac * frac * inv2))


def _deaths_first(order: np.ndarray, sorted_time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Within each run of equal ``sorted_time``, move the rows with an event to the front."""
    dead = event[order]
    # lexsort is stable: within (time, dead) the incoming order is kept, as in the loop
    return order[np.lexsort((~dead, sorted_time))].astype(np.int64)


def on_two_threads(first: Callable[[], None], second: Callable[[], None]) -> None:
    """Run ``second`` on a new thread while ``first`` runs here (numpy's loops and crlm's C
    loops release the GIL); an exception from either is raised here once both have ended."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            second()
        except BaseException as exc:  # re-raised below, in the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        first()
    finally:
        thread.join()
    if failed:
        raise failed[0]




# _rank_counts packs two counts in one int64: all rows in the low half, deaths in the high
_HIGH = 32
_LOW = (1 << _HIGH) - 1
#: below this many rows the two halves of the wavelet matrix are not worth a second thread
PARALLEL_MIN_ROWS = 200_000


def _wavelet_levels(arrays: tuple[np.ndarray, ...], spare: tuple[np.ndarray, ...],
                    scratch: tuple[np.ndarray, ...], top: int, bottom: int = 0) -> None:
    """Levels ``top`` … ``bottom`` of :func:`_rank_counts` on ``(key, inc, acc)``, in place.

    ``key`` packs each row's value (high 32 bits) and first position (low 32 bits). The rows
    are in position order within each group of values sharing the bits above the current
    level (a wavelet matrix: each level stably puts the 0-bit rows first). A row whose bit is
    1 gains the rows before it in its group whose bit is 0 — smaller values that differ first
    at this bit; ``inc`` counts each row as 1 (+ 2³² for a death). ``spare`` (arrays like
    ``arrays``) and ``scratch`` (``scan`` of n + 1, then bit, work, group, new group, one,
    order of n) are working memory, so that the caller's can be reused.
    """
    n = arrays[0].size
    scan, bit, work, group, new_group, one, order = scratch
    scan[0] = 0
    before = scan[:-1]  # per row: the 0-bit rows before it, packed
    new_group[:1] = True
    current, other = list(arrays), list(spare)
    for level in range(top, bottom - 1, -1):
        key, inc, acc = current
        np.right_shift(key, _HIGH + level, out=group)
        np.bitwise_and(group, 1, out=bit)
        np.not_equal(bit, 0, out=one)
        np.subtract(1, bit, out=work)
        np.multiply(work, inc, out=work)
        np.cumsum(work, out=scan[1:])
        np.right_shift(group, 1, out=group)
        np.not_equal(group[1:], group[:-1], out=new_group[1:])
        np.multiply(before, new_group, out=work)
        np.maximum.accumulate(work, out=work)  # the count at the row's group start
        np.subtract(before, work, out=work)
        np.multiply(work, bit, out=work)
        acc += work
        zeros = n - int(np.count_nonzero(one))
        order[zeros:] = np.flatnonzero(one)
        np.logical_not(one, out=one)
        order[:zeros] = np.flatnonzero(one)
        for k in range(3):  # mode="clip": np.take buffers ``out`` when it checks bounds
            np.take(current[k], order, out=other[k], mode="clip")
        current, other = other, current
    if current[0] is not arrays[0]:  # an odd number of levels: the result back in place
        for k in range(3):
            arrays[k][:] = current[k]


def _rank_counts(rank: np.ndarray, dead: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row, in the given order, the rows before it of smaller rank and of equal rank:
    ``(smaller, smaller among dead, equal, equal among dead)`` — O(n log max rank) numpy work
    (a wavelet matrix over the ranks).

    Below the top bit the two halves are independent; on large data they run in two threads
    (numpy releases the GIL) on the two halves of the same memory.
    """
    n = rank.size
    key = np.asarray(rank, dtype=np.int64) << _HIGH  # a new array: the levels reuse it
    key |= np.arange(n, dtype=np.int64)
    arrays = (key, (np.asarray(dead, dtype=np.int64) << _HIGH) | 1, np.zeros(n, dtype=np.int64))
    spare = tuple(np.empty(n, dtype=np.int64) for _ in range(3))
    scan = np.empty(n + 2, dtype=np.int64)  # n + 1 for one pass, or two halves of cut + 1
    rest = (*(np.empty(n, dtype=np.int64) for _ in range(3)), np.empty(n, dtype=bool),
            np.empty(n, dtype=bool), np.empty(n, dtype=np.intp))
    top = (int(key.max(initial=0)) >> _HIGH).bit_length() - 1
    if top >= 1 and n >= PARALLEL_MIN_ROWS:
        # the top bit splits the rows in two
        _wavelet_levels(arrays, spare, (scan[:n + 1], *rest), top, top)
        cut = n - int(np.count_nonzero(key >> (_HIGH + top)))

        def half(part: slice, offset: int) -> Callable[[], None]:
            return lambda: _wavelet_levels(
                tuple(a[part] for a in arrays), tuple(a[part] for a in spare),
                (scan[part.start + offset:part.stop + 1 + offset], *(a[part] for a in rest)),
                top - 1)

        on_two_threads(half(slice(0, cut), 0), half(slice(cut, n), 1))
    elif top >= 0:
        _wavelet_levels(arrays, spare, (scan[:n + 1], *rest), top)
    key, inc, smaller = arrays
    # now grouped by rank, in position order within a rank: rows of equal rank before a row
    value = np.right_shift(key, _HIGH, out=spare[0])
    origin = np.bitwise_and(key, _LOW, out=spare[1])
    scan = np.cumsum(inc, out=spare[2])
    scan -= inc
    new_rank = rest[3]
    new_rank[:1] = True
    np.not_equal(value[1:], value[:-1], out=new_rank[1:])
    equal = np.multiply(scan, new_rank, out=rest[0])
    np.maximum.accumulate(equal, out=equal)
    np.subtract(scan, equal, out=equal)
    counts = np.empty((2, n), dtype=np.int64)
    counts[0, origin] = smaller
    counts[1, origin] = equal
    return counts[0] & _LOW, counts[0] >> _HIGH, counts[1] & _LOW, counts[1] >> _HIGH


def _group_bounds(primary: np.ndarray, secondary: np.ndarray) -> tuple[np.ndarray, ...]:
    """In rows sorted by (primary, secondary): each row's group of equal ``primary`` and run of
    equal (primary, secondary), as ``(group start, group end, run start, run end)``."""
    n = primary.size
    new_group = np.empty(n, dtype=bool)
    new_group[:1] = True
    np.not_equal(primary[1:], primary[:-1], out=new_group[1:])
    new_run = new_group.copy()
    new_run[1:] |= secondary[1:] != secondary[:-1]

    def bounds(new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        starts = np.flatnonzero(new)
        which = np.cumsum(new) - 1
        return starts[which], np.append(starts[1:], n)[which]

    return (*bounds(new_group), *bounds(new_run))


def concordance_counts(rank: np.ndarray, event: np.ndarray, block_end: np.ndarray,
                       n_ranks: int, over: str | None = None) -> np.ndarray:
    """As :func:`crlm.stats._loops.concordance_counts`, by wavelet-matrix counts.

    Each row is a point (key, rank): the key orders the rows as their times do, with a
    death's key shared by its tied deaths (not comparable) and below the censored rows at
    its time (comparable). A death's pairs are the rows of higher key, a row's pairs the deaths
    of lower key. The rows are sorted by one coordinate and the wavelet matrix runs over the
    other — whichever takes fewer bits (few distinct times, or few distinct scores) — and the
    rows of equal coordinate (tied deaths, tied scores) are taken out by their runs.
    ``over="ranks"`` or ``"keys"`` imposes the coordinate (for tests).
    """
    n = rank.size
    ev = np.asarray(event, dtype=bool)
    if n == 0 or not ev.any():
        return np.zeros((n, 3))
    rank = np.asarray(rank, dtype=np.int64)
    block_end = np.asarray(block_end, dtype=np.int64)
    index = np.arange(n, dtype=np.int64)
    # a death's key: its block's last position; a censored row's: the end of the deaths at
    # its time — one key per (time, status), increasing with time and then status
    key = np.where(ev, block_end - 1, block_end)
    key = np.cumsum(np.r_[True, key[1:] != key[:-1]]) - 1
    n_keys = int(key[-1]) + 1
    b_deaths = block_end[ev]
    if over is None:
        over = "ranks" if int(n_ranks).bit_length() <= n_keys.bit_length() else "keys"
    if over == "ranks":  # sorted by (key, rank), counts over ranks
        tied = bool(np.any(b_deaths[1:] == b_deaths[:-1]))  # else no group needs sorting
        order = np.argsort(key * max(n_ranks, 1) + rank) if tied else index
        k, r, dead = key[order], rank[order], ev[order]
        group_start, _, run_start, run_end = _group_bounds(k, r)
        smaller, smaller_dead, equal, equal_dead = _rank_counts(r, dead)
        per_rank = np.bincount(rank, minlength=n_ranks)
        below = np.cumsum(per_rank)[r] - per_rank[r] - smaller  # the higher keys' lower ranks
        equal_after = per_rank[r] - equal - (run_end - index)
        deaths_before = np.cumsum(dead) - dead
        # less the deaths of the row's own key (its tied deaths)
        below_cmp = smaller_dead - (deaths_before[run_start] - deaths_before[group_start])
        equal_cmp = equal_dead - (deaths_before - deaths_before[run_start])
    else:  # sorted by (rank, key), counts over keys reversed: "smaller" is a higher key
        order = np.argsort(rank * n_keys + key)
        k, r, dead = key[order], rank[order], ev[order]
        group_start, group_end, run_start, run_end = _group_bounds(r, k)
        below, higher_dead, equal, equal_dead = _rank_counts(n_keys - 1 - k, dead)
        equal_after = group_end - run_end
        deaths_before = np.cumsum(dead) - dead
        equal_cmp = deaths_before[run_start] - deaths_before[group_start]
        below_cmp = deaths_before - higher_dead - equal_dead - equal_cmp
    b = block_end[order]
    # deaths whose block ended at or before each position (searched in position order: fast)
    inserted = np.searchsorted(b_deaths, index, side="right")[order]
    counts = np.empty((3, n))  # one row per count: three contiguous scatters below
    counts[0] = below_cmp + np.where(dead, (n - b) - below - equal_after, 0)
    counts[1] = inserted - below_cmp - equal_cmp + np.where(dead, below, 0)
    counts[2] = equal_cmp + np.where(dead, equal_after, 0)
    out = np.empty((3, n))
    for row in range(3):
        out[row, order] = counts[row]
    return out.T
