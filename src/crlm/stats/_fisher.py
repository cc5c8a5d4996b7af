"""Fisher's exact test for r×c tables (R ``fisher.test``), with a stated Monte Carlo fallback.

The exact p value sums P(table | margins) over every table no more probable than the observed
one (relative tolerance 1e-7, as R). Tables are built one row at a time; partial tables that
leave the same column remainders and have the same probability so far are merged (the network
algorithm of Mehta & Patel 1983, with exact bounds for two columns), and a partial table is
settled early when every completion, or none, is at most as probable as the observed table.
That keeps a k×2 table polynomial in k. When the work would exceed :data:`EXACT_BUDGET` the p
value is estimated as R's ``simulate.p.value = TRUE`` does, from :data:`MONTE_CARLO_DRAWS`
random tables with the same margins drawn with a fixed seed; the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations
from math import comb

import numpy as np
from scipy import stats
from scipy.special import gammaln

RELATIVE_TOLERANCE = 1e-7  # R: tables with P ≤ P(observed)·(1 + 1e-7) count as extreme
EXACT_BUDGET = 10_000_000  # partial tables examined before switching to Monte Carlo
MONTE_CARLO_DRAWS = 10_000
MONTE_CARLO_SEED = 20_240_613
_V_QUANTUM = 1e-9  # log-probabilities closer than this merge


@dataclass(frozen=True)
class FisherResult:
    """p value of Fisher's exact test; ``draws``/``seed`` set when it is a Monte Carlo estimate."""

    p: float
    draws: int | None = None
    seed: int | None = None

    @property
    def monte_carlo(self) -> bool:
        return self.draws is not None


class _OverBudgetError(Exception):
    """The exact enumeration would exceed its budget."""


@cache
def _compositions(total: int, parts: int) -> np.ndarray:
    """Every vector of ``parts`` non-negative integers summing to ``total`` (one per row)."""
    out = []
    for bars in combinations(range(total + parts - 1), parts - 1):
        edges = (-1, *bars, total + parts - 1)
        out.append([edges[k + 1] - edges[k] - 1 for k in range(parts)])
    return np.array(out, dtype=np.int64).reshape(-1, parts)


def _two_column_upper(totals: np.ndarray, multiplicity: np.ndarray, lf: np.ndarray
                      ) -> np.ndarray:
    """Max of Σ_j [log C(r_j, x_j) − log r_j!] over Σ x_j = s, for s = 0 … Σ r_j.

    Each log C(r, ·) is concave, so taking the largest marginal gains first is exact; rows
    with the same total share their gains (``multiplicity`` rows have total ``totals[k]``).
    """
    gains = [np.log((r - np.arange(r)) / (np.arange(r) + 1.0)) for r in totals]
    values = np.concatenate(gains) if gains else np.zeros(0)
    repeat = np.concatenate([np.full(int(r), m) for r, m in zip(totals, multiplicity,
                                                                 strict=True)]) if gains else []
    order = np.argsort(values)[::-1]
    best = np.concatenate(([0.0], np.cumsum(np.repeat(values[order], np.asarray(repeat,
                                                                                int)[order]))))
    return best - float((lf[totals] * multiplicity).sum())


def _columns_sum(values: np.ndarray) -> np.ndarray:
    """Sum over the last (short) axis without a slow small-axis reduction."""
    out = values[..., 0].copy()
    for j in range(1, values.shape[-1]):
        out += values[..., j]
    return out


def fisher_exact_rxc(table: np.ndarray, *, budget: int | None = None) -> FisherResult:
    """Two-sided Fisher's exact p of an r×c table (Monte Carlo past ``budget`` partial tables,
    :data:`EXACT_BUDGET` by default)."""
    table = np.asarray(table, dtype=np.int64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.ndim != 2 or min(table.shape, default=0) < 2:
        return FisherResult(1.0)
    if table.shape[1] > table.shape[0]:
        table = table.T
    try:
        return FisherResult(_exact(table, EXACT_BUDGET if budget is None else budget))
    except _OverBudgetError:
        return _monte_carlo(table)


def _exact(table: np.ndarray, budget: int) -> float:
    rows = np.sort(table.sum(axis=1))[::-1]  # large rows first: fewer partial tables
    cols = table.sum(axis=0)
    n = int(rows.sum())
    c = cols.size
    lf = gammaln(np.arange(n + 1) + 1.0)
    const = lf[rows].sum() + lf[cols].sum() - lf[n]
    threshold = -lf[table].sum() + np.log1p(RELATIVE_TOLERANCE)
    state = cols[None, :].copy()  # column remainders
    v = np.zeros(1)  # −Σ log x! so far
    count = np.ones(1)  # partial tables merged into the state (× exp(scale))
    scale = 0.0
    p = 0.0
    work = 0
    totals, remaining = np.unique(rows, return_counts=True)  # rows not yet placed, by total
    for i, r in enumerate(rows):
        remaining[np.searchsorted(totals, r)] -= 1
        if state.shape[0] * comb(int(r) + c - 1, c - 1) > budget - work:
            raise _OverBudgetError
        comps = _compositions(int(r), c)
        new = state[:, None, :] - comps[None, :, :]
        ok = new[..., 0] >= 0
        for j in range(1, c):
            ok &= new[..., j] >= 0
        si, ci = np.nonzero(ok)
        work += si.size
        if work > budget:
            raise _OverBudgetError
        state = new[si, ci]
        v = v[si] - _columns_sum(lf[comps])[ci]
        count = count[si]
        rest = rows[i + 1:]
        n_rest = int(rest.sum())
        lower = -lf[rest].sum()
        log_all = lf[n_rest] - lf[rest].sum() - _columns_sum(lf[state])
        upper = (_two_column_upper(totals, remaining, lf)[state[:, 0]] if c == 2
                 else log_all)
        settled = v + upper <= threshold
        if settled.any():
            p += float(np.sum(count[settled] * np.exp(v[settled] + log_all[settled] + const
                                                      + scale)))
        live = ~settled & (v + lower <= threshold)
        state, v, count = state[live], v[live], count[live]
        if v.size == 0:
            break
        state, v, count = _merge(state, v, count)
        top = count.max()
        if top > 1e250:
            count /= top
            scale += float(np.log(top))
    return min(1.0, p)


def _merge(state: np.ndarray, v: np.ndarray, count: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge partial tables with the same column remainders and log-probability."""
    vkey = np.round(v / _V_QUANTUM).astype(np.int64)
    vkey -= vkey.min()
    key, room = vkey, int(vkey.max()) + 1
    for j in range(state.shape[1] - 1):  # the last remainder follows from the others
        span = int(state[:, j].max()) + 1
        if room * span >= 1 << 62:
            break
        key, room = key + room * state[:, j], room * span
    else:
        _, first, group = np.unique(key, return_index=True, return_inverse=True)
        return state[first], v[first], np.bincount(group, weights=count)
    keys = np.column_stack([state[:, :-1], vkey])
    order = np.lexsort(keys.T[::-1])
    keys = keys[order]
    start = np.concatenate(([True], (np.diff(keys, axis=0) != 0).any(axis=1)))
    group = np.cumsum(start) - 1
    return state[order[start]], v[order[start]], np.bincount(group, weights=count[order])


def _monte_carlo(table: np.ndarray) -> FisherResult:
    """R's ``simulate.p.value``: (1 + #{simulated −Σ log x! ≤ observed}) / (B + 1)."""
    lf = gammaln(np.arange(int(table.sum()) + 1) + 1.0)
    observed = -lf[table].sum()
    sampler = stats.random_table(table.sum(axis=1), table.sum(axis=0),
                                 seed=MONTE_CARLO_SEED)
    hits = 0
    left = MONTE_CARLO_DRAWS
    while left:
        size = min(left, 10_000)
        sims = -lf[sampler.rvs(size=size)].sum(axis=(1, 2))
        hits += int((sims <= observed / (1 + 64 * np.finfo(float).eps)).sum())
        left -= size
    return FisherResult((1 + hits) / (MONTE_CARLO_DRAWS + 1), MONTE_CARLO_DRAWS,
                        MONTE_CARLO_SEED)
