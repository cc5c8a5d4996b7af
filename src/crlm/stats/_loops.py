"""The survival estimators' loops as plain Python, compiled by numba when it is installed.

Only what numpy cannot do without large temporaries or Python-level loops lives here: the
per-time risk sums of the Cox partial likelihood, the row scaling feeding the weighted Gram
matrix, the deaths-first ordering of tied times, and the Fenwick-tree pair counts of
Harrell's C. No decorator: :mod:`crlm.stats._kernels` compiles these functions with numba
(``crlm[fast]``) or uses them, or their numpy equivalents in :mod:`crlm.stats._vectorized`,
as they are. Each is checked against R ``survival`` through the estimators that use it.
"""

from __future__ import annotations

import numpy as np


def time_sums(x: np.ndarray, risk: np.ndarray, first: np.ndarray, dead_at: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct time g: sums of ``risk`` and ``risk·x`` over its deaths and over all rows.

    Rows are time-sorted with the deaths of a time first: time g spans
    ``[first[g], first[g+1])`` and its deaths ``[first[g], first[g] + dead_at[g])``.
    Returns ``dead0 (G,), all0 (G,), dead1 (G, p), all1 (G, p)``.
    """
    n, p = x.shape
    n_times = first.size
    dead0 = np.zeros(n_times)
    all0 = np.zeros(n_times)
    dead1 = np.zeros((n_times, p))
    all1 = np.zeros((n_times, p))
    for g in range(n_times):
        start = first[g]
        mid = start + dead_at[g]
        end = first[g + 1] if g + 1 < n_times else n
        for i in range(start, mid):
            r = risk[i]
            dead0[g] += r
            for k in range(p):
                dead1[g, k] += r * x[i, k]
        all0[g] = dead0[g]
        for k in range(p):
            all1[g, k] = dead1[g, k]
        for i in range(mid, end):
            r = risk[i]
            all0[g] += r
            for k in range(p):
                all1[g, k] += r * x[i, k]
    return dead0, all0, dead1, all1


def scale_rows(x: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = weight[i] · x[i]`` into a preallocated buffer (no temporary)."""
    n, p = x.shape
    for i in range(n):
        w = weight[i]
        for k in range(p):
            out[i, k] = x[i, k] * w


def _deaths_first(order: np.ndarray, sorted_time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Within each run of equal ``sorted_time``, move the rows with an event to the front."""
    n = order.size
    out = np.empty(n, dtype=np.int64)
    start = 0
    while start < n:
        end = start + 1
        while end < n and sorted_time[end] == sorted_time[start]:
            end += 1
        k = start
        for i in range(start, end):
            if event[order[i]]:
                out[k] = order[i]
                k += 1
        for i in range(start, end):
            if not event[order[i]]:
                out[k] = order[i]
                k += 1
        start = end
    return out


def _fenwick_add(tree: np.ndarray, index: int) -> None:
    i = index + 1
    while i < tree.size:
        tree[i] += 1
        i += i & -i


def _fenwick_count(tree: np.ndarray, index: int) -> int:
    """Number of inserted values with rank < ``index``."""
    total = 0
    i = index
    while i > 0:
        total += tree[i]
        i -= i & -i
    return total


def concordance_counts(rank: np.ndarray, event: np.ndarray, block_end: np.ndarray,
                       n_ranks: int) -> np.ndarray:
    """Per row: concordant, discordant and score-tied comparable pairs (Harrell's C).

    Rows are sorted by time with deaths first at ties; ``rank`` is the dense rank of the
    score (higher = longer predicted survival); ``block_end[i]`` is the first position after
    the deaths tied with row i. Death i is comparable with every row j at position
    ``>= block_end[i]``: concordant when ``rank[i] < rank[j]``. Two Fenwick trees over the
    ranks give every count in O(n log n).
    """
    n = rank.size
    out = np.zeros((n, 3))
    tree = np.zeros(n_ranks + 1, dtype=np.int64)
    # event side: scan deaths by decreasing block end, inserting rows from the back
    inserted = n
    for i in range(n - 1, -1, -1):
        if not event[i]:
            continue
        b = block_end[i]
        while inserted > b:
            inserted -= 1
            _fenwick_add(tree, rank[inserted])
        below = _fenwick_count(tree, rank[i])
        below_eq = _fenwick_count(tree, rank[i] + 1)
        out[i, 0] += (n - b) - below_eq
        out[i, 1] += below
        out[i, 2] += below_eq - below
    # comparator side: scan rows forward, inserting the deaths whose block has ended
    tree[:] = 0
    n_inserted = 0
    next_death = 0
    for j in range(n):
        while next_death < n and (not event[next_death] or block_end[next_death] <= j):
            if event[next_death]:
                _fenwick_add(tree, rank[next_death])
                n_inserted += 1
            next_death += 1
        below = _fenwick_count(tree, rank[j])
        below_eq = _fenwick_count(tree, rank[j] + 1)
        out[j, 0] += below
        out[j, 1] += n_inserted - below_eq
        out[j, 2] += below_eq - below
    return out


def counting_sweep(x: np.ndarray, start: np.ndarray, stop: np.ndarray, event: np.ndarray,
                   weight: np.ndarray, eta: np.ndarray, by_stop: np.ndarray,
                   by_start: np.ndarray, efron: bool, want_info: bool
                   ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                              np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted (start, stop] partial likelihood of one stratum (R ``agfit4``'s sweep).

    Rows are added to the risk set in decreasing ``stop`` (``by_stop``) and removed once
    ``start >= t`` (``by_start``, decreasing start), so the risk set at an event time t holds
    the rows with start < t <= stop. ``eta`` = x·beta + offset. Efron: a tied group of d deaths
    with total weight W gives d terms with weight W/d and denominator S0 − (k/d)·D0.
    Returns loglik, score, information, and per distinct stop time (decreasing):
    time, S0 (weighted risk sum), D0 (its deaths' part), S1, D1, weighted deaths, deaths, and
    the weighted number at risk.
    """
    n, p = x.shape
    shift = eta.max() if n else 0.0
    risk = np.exp(eta - shift)
    s0 = 0.0
    s1 = np.zeros(p)
    s2 = np.zeros((p, p))
    at_risk_w = 0.0
    loglik = 0.0
    score = np.zeros(p)
    info = np.zeros((p, p))
    n_out = 0
    out_time = np.empty(n)
    out_s0 = np.empty(n)
    out_d0 = np.empty(n)
    out_s1 = np.empty((n, p))
    out_d1 = np.empty((n, p))
    out_dw = np.empty(n)
    out_nd = np.empty(n)
    out_nrisk = np.empty(n)
    d1 = np.zeros(p)
    d2 = np.zeros((p, p))
    xbar = np.zeros(p)
    i = 0
    j = 0
    while i < n:
        t = stop[by_stop[i]]
        d0 = 0.0
        deadwt = 0.0
        ndead = 0
        for k in range(p):
            d1[k] = 0.0
            if want_info:
                for m in range(p):
                    d2[k, m] = 0.0
        while i < n and stop[by_stop[i]] == t:
            r = by_stop[i]
            wr = weight[r] * risk[r]
            s0 += wr
            at_risk_w += weight[r]
            for k in range(p):
                s1[k] += wr * x[r, k]
                if want_info:
                    for m in range(k + 1):
                        s2[k, m] += wr * x[r, k] * x[r, m]
            if event[r]:
                ndead += 1
                deadwt += weight[r]
                d0 += wr
                loglik += weight[r] * eta[r]
                for k in range(p):
                    d1[k] += wr * x[r, k]
                    score[k] += weight[r] * x[r, k]
                    if want_info:
                        for m in range(k + 1):
                            d2[k, m] += wr * x[r, k] * x[r, m]
            i += 1
        while j < n and start[by_start[j]] >= t:
            r = by_start[j]
            wr = weight[r] * risk[r]
            s0 -= wr
            at_risk_w -= weight[r]
            for k in range(p):
                s1[k] -= wr * x[r, k]
                if want_info:
                    for m in range(k + 1):
                        s2[k, m] -= wr * x[r, k] * x[r, m]
            j += 1
        out_time[n_out] = t
        out_s0[n_out] = s0
        out_d0[n_out] = d0
        for k in range(p):
            out_s1[n_out, k] = s1[k]
            out_d1[n_out, k] = d1[k]
        out_dw[n_out] = deadwt
        out_nd[n_out] = ndead
        out_nrisk[n_out] = at_risk_w
        n_out += 1
        if ndead == 0:
            continue
        terms = ndead if (efron and ndead > 1) else 1
        meanwt = deadwt / terms
        for step in range(terms):
            frac = step / ndead if terms > 1 else 0.0
            denom = s0 - frac * d0
            loglik -= meanwt * (np.log(denom) + shift)
            for k in range(p):
                xbar[k] = (s1[k] - frac * d1[k]) / denom
                score[k] -= meanwt * xbar[k]
            if want_info:
                for k in range(p):
                    for m in range(k + 1):
                        v = meanwt * ((s2[k, m] - frac * d2[k, m]) / denom - xbar[k] * xbar[m])
                        info[k, m] += v
    if want_info:
        for k in range(p):
            for m in range(k):
                info[m, k] = info[k, m]
    return (loglik, score, info, out_time[:n_out], out_s0[:n_out], out_d0[:n_out],
            out_s1[:n_out], out_d1[:n_out], out_dw[:n_out],
            np.stack((out_nd[:n_out], out_nrisk[:n_out])))


def _fenwick_add_weight(tree: np.ndarray, index: int, weight: float) -> None:
    i = index + 1
    while i < tree.size:
        tree[i] += weight
        i += i & -i


def _fenwick_weight_below(tree: np.ndarray, index: int) -> float:
    """Total weight inserted with rank < ``index``."""
    total = 0.0
    i = index
    while i > 0:
        total += tree[i]
        i -= i & -i
    return total


def counting_concordance(rank: np.ndarray, n_ranks: int, start: np.ndarray, stop: np.ndarray,
                         event: np.ndarray, weight: np.ndarray, death_times: np.ndarray,
                         by_start: np.ndarray, by_stop: np.ndarray, lower: np.ndarray,
                         upper: np.ndarray) -> np.ndarray:
    """Per row: weighted counts of concordant, discordant and score-tied pairs, (start, stop].

    A death i at time t is compared with every row j at risk at t (start < t <= stop) that
    does not die at t; ``rank`` is the dense rank of the score with a higher rank predicting
    longer survival (concordant: rank_i < rank_j). Each row gets its partners' weights, both
    as the death and as the comparator (R ``concordance4``'s influence counts). ``lower[j]``
    / ``upper[j]``: number of death times before row j's risk interval opens / closes.
    """
    n = rank.size
    out = np.zeros((n, 3))
    tree = np.zeros(n_ranks + 1)
    total = 0.0
    a = 0  # pointer into by_start (rows entering)
    b = 0  # pointer into by_stop (rows leaving)
    n_deaths = death_times.size
    # event side: the tree holds the rows at risk
    for k in range(n_deaths):
        t = death_times[k]
        while a < n and start[by_start[a]] < t:
            r = by_start[a]
            _fenwick_add_weight(tree, rank[r], weight[r])
            total += weight[r]
            a += 1
        while b < n and stop[by_stop[b]] < t:
            r = by_stop[b]
            _fenwick_add_weight(tree, rank[r], -weight[r])
            total -= weight[r]
            b += 1
        # the deaths at t leave the comparison set (tied in time)
        first = b
        while first < n and stop[by_stop[first]] == t:
            r = by_stop[first]
            if event[r] and start[r] < t:
                _fenwick_add_weight(tree, rank[r], -weight[r])
                total -= weight[r]
            first += 1
        i = b
        while i < first:
            r = by_stop[i]
            if event[r]:
                below = _fenwick_weight_below(tree, rank[r])
                below_eq = _fenwick_weight_below(tree, rank[r] + 1)
                out[r, 0] += total - below_eq
                out[r, 1] += below
                out[r, 2] += below_eq - below
            i += 1
        i = b
        while i < first:
            r = by_stop[i]
            if event[r]:
                _fenwick_add_weight(tree, rank[r], weight[r])
                total += weight[r]
            i += 1
    # comparator side: the tree holds the deaths of the first m death times
    tree[:] = 0.0
    total = 0.0
    queries = np.concatenate((lower, upper))
    order = np.argsort(queries, kind="mergesort")
    death_order = np.argsort(stop, kind="mergesort")
    d = 0
    m_added = 0
    for q in order:
        m = queries[q]
        while m_added < m:
            t = death_times[m_added]
            while d < n and stop[death_order[d]] <= t:
                r = death_order[d]
                if event[r] and stop[r] == t:
                    _fenwick_add_weight(tree, rank[r], weight[r])
                    total += weight[r]
                d += 1
            m_added += 1
        j = q if q < n else q - n
        sign = -1.0 if q < n else 1.0
        below = _fenwick_weight_below(tree, rank[j])
        below_eq = _fenwick_weight_below(tree, rank[j] + 1)
        out[j, 0] += sign * below
        out[j, 1] += sign * (total - below_eq)
        out[j, 2] += sign * (below_eq - below)
    return out
