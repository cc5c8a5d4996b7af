"""numpy equivalents of the loops in :mod:`crlm.stats._loops`, used when numba is absent.

Same inputs, same outputs (equal up to the order of floating-point additions); checked
against the loops in tests/test_stats_kernels.py. The two (start, stop] sweeps of
:mod:`crlm.stats.cox_counting` have no vectorised form here: they run as plain Python.
"""

from __future__ import annotations

import numpy as np


def _segment_sums(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Sums of ``values[starts[k]:ends[k]]`` along axis 0 (empty segments give 0)."""
    shape = (starts.size, *values.shape[1:])
    out = np.zeros(shape)
    keep = ends > starts
    if keep.any():
        padded = np.concatenate((values, np.zeros((1, *values.shape[1:]))))
        # reduceat over interleaved bounds: even slots are the segments, odd slots the gaps
        bounds = np.column_stack((starts[keep], ends[keep])).ravel()
        out[keep] = np.add.reduceat(padded, bounds, axis=0)[::2]
    return out


def time_sums(x: np.ndarray, risk: np.ndarray, first: np.ndarray, dead_at: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`crlm.stats._loops.time_sums`, by segment sums (``np.add.reduceat``)."""
    n = x.shape[0]
    start = np.asarray(first, dtype=np.int64)
    mid = start + dead_at
    end = np.append(start[1:], n)
    weighted = x * risk[:, None]
    dead0 = _segment_sums(risk, start, mid)
    dead1 = _segment_sums(weighted, start, mid)
    all0 = dead0 + _segment_sums(risk, mid, end)
    all1 = dead1 + _segment_sums(weighted, mid, end)
    return dead0, all0, dead1, all1


def scale_rows(x: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = weight[i] · x[i]`` into a preallocated buffer."""
    np.multiply(x, weight[:, None], out=out)


def subtract_at(target: np.ndarray, positions: np.ndarray, scale: np.ndarray,
                values: np.ndarray) -> None:
    """``target[positions[k]] -= scale[positions[k]] · values[k]`` in place (repeats add up)."""
    np.subtract.at(target, positions, scale[positions] * values)


def _deaths_first(order: np.ndarray, sorted_time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Within each run of equal ``sorted_time``, move the rows with an event to the front."""
    dead = event[order]
    # lexsort is stable: within (time, dead) the incoming order is kept, as in the loop
    return order[np.lexsort((~dead, sorted_time))].astype(np.int64)


def _count_before(point_pos: np.ndarray, point_val: np.ndarray, query_pos: np.ndarray,
                  query_val: np.ndarray) -> np.ndarray:
    """Per query: the number of points with ``pos < query_pos`` and ``val < query_val``.

    Offline dominance counting by merge-sort levels: at each level a query in the right half
    of a block counts the points in the left half below its value (one sort per level).
    """
    coord = np.concatenate((2 * np.asarray(point_pos, np.int64) + 1,
                            2 * np.asarray(query_pos, np.int64)))
    # values: a point of value v sorts after a query of value v (strictly below counts)
    val = np.concatenate((2 * np.asarray(point_val, np.int64) + 1,
                          2 * np.asarray(query_val, np.int64)))
    is_point = np.zeros(coord.size, dtype=bool)
    is_point[:point_pos.size] = True
    counts = np.zeros(coord.size, dtype=np.int64)
    span = int(val.max()) + 1 if val.size else 1
    level = 0
    top = int(coord.max()) if coord.size else 0
    while (top >> level) > 0:
        block = coord >> (level + 1)
        right = ((coord >> level) & 1).astype(bool)
        key = block * span + val
        order = np.argsort(key, kind="stable")
        left_point = (is_point & ~right)[order].astype(np.int64)
        running = np.cumsum(left_point)
        b_sorted = block[order]
        block_start = np.searchsorted(b_sorted, b_sorted, side="left")
        before = running - left_point  # left points strictly before this item in the order
        base = np.where(block_start > 0, running[block_start - 1], 0)
        ask = (~is_point & right)[order]
        counts[order[ask]] += (before - base)[ask]
        level += 1
    return counts[point_pos.size:]


def concordance_counts(rank: np.ndarray, event: np.ndarray, block_end: np.ndarray,
                       n_ranks: int) -> np.ndarray:
    """As :func:`crlm.stats._loops.concordance_counts`, by offline dominance counts."""
    n = rank.size
    out = np.zeros((n, 3))
    rank = np.asarray(rank, dtype=np.int64)
    ev = np.asarray(event, dtype=bool)
    deaths = np.flatnonzero(ev)
    if n == 0 or deaths.size == 0:
        return out
    positions = np.arange(n)
    below_all = np.concatenate(([0], np.cumsum(np.bincount(rank, minlength=n_ranks + 1))))
    # event side: death i against the rows at positions >= block_end[i]
    b = block_end[deaths]
    r = rank[deaths]
    q_pos = np.concatenate((b, b))
    q_val = np.concatenate((r, r + 1))
    before = _count_before(positions, rank, q_pos, q_val)
    below = below_all[r] - before[:deaths.size]
    below_eq = below_all[r + 1] - before[deaths.size:]
    out[deaths, 0] += (n - b) - below_eq
    out[deaths, 1] += below
    out[deaths, 2] += below_eq - below
    # comparator side: row j against the deaths whose tied block ended at or before j
    q_pos = np.concatenate((positions + 1, positions + 1))
    q_val = np.concatenate((rank, rank + 1))
    counted = _count_before(b, r, q_pos, q_val)
    below = counted[:n]
    below_eq = counted[n:]
    inserted = np.searchsorted(np.sort(b), positions, side="right")
    out[:, 0] += below
    out[:, 1] += inserted - below_eq
    out[:, 2] += below_eq - below
    return out
