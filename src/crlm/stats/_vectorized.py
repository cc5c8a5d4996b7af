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


def _count_below_before(values: np.ndarray, prefix: np.ndarray, bound: np.ndarray
                        ) -> np.ndarray:
    """Per query k: ``#{j < prefix[k] : values[j] < bound[k]}`` (values, bounds ≥ 0).

    A wavelet matrix over ``values``: one stable partition by each bit, most significant
    first, and every query walked down the levels at once (O((n + q) log max) numpy work).
    """
    values = np.asarray(values, dtype=np.int64)
    bound = np.asarray(bound, dtype=np.int64)
    top = int(max(values.max(initial=0), bound.max(initial=0)))
    lo = np.zeros(bound.size, dtype=np.int64)
    hi = np.asarray(prefix, dtype=np.int64).copy()
    count = np.zeros(bound.size, dtype=np.int64)
    current = values
    for level in range(top.bit_length() - 1, -1, -1):
        bit = (current >> level) & 1
        zeros_before = np.concatenate(([0], np.cumsum(bit == 0)))
        n_zeros = zeros_before[-1]
        lo0, hi0 = zeros_before[lo], zeros_before[hi]
        one = ((bound >> level) & 1).astype(bool)
        count += np.where(one, hi0 - lo0, 0)
        lo = np.where(one, n_zeros + lo - lo0, lo0)
        hi = np.where(one, n_zeros + hi - hi0, hi0)
        current = np.concatenate((current[bit == 0], current[bit == 1]))
    return count


def concordance_counts(rank: np.ndarray, event: np.ndarray, block_end: np.ndarray,
                       n_ranks: int) -> np.ndarray:
    """As :func:`crlm.stats._loops.concordance_counts`, by wavelet-matrix rank counts."""
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
    before = _count_below_before(rank, q_pos, q_val)
    below = below_all[r] - before[:deaths.size]
    below_eq = below_all[r + 1] - before[deaths.size:]
    out[deaths, 0] += (n - b) - below_eq
    out[deaths, 1] += below
    out[deaths, 2] += below_eq - below
    # comparator side: row j against the deaths whose tied block ended at or before j
    # (block_end is non-decreasing along the rows, so those deaths are a prefix of them)
    inserted = np.searchsorted(b, positions, side="right")
    q_val = np.concatenate((rank, rank + 1))
    counted = _count_below_before(r, np.concatenate((inserted, inserted)), q_val)
    below = counted[:n]
    below_eq = counted[n:]
    out[:, 0] += below
    out[:, 1] += inserted - below_eq
    out[:, 2] += below_eq - below
    return out
