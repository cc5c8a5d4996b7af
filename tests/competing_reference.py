"""Gray's test and the cumulative incidence as they were before being computed over all times
at once (crlm 2026-11-30, commit 3463ab1, crlm.stats.competing): one pass per distinct time in
Python. Kept verbatim as the reference the vectorised versions must reproduce
(tests/test_stats_competing_equivalence.py) — except ``_count_at``, which did not change and
is imported."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crlm.stats._data import StatsInputError, complete_cases
from crlm.stats.competing import (
    CumulativeIncidence,
    GrayTestResult,
    _count_at,
    competing_outcome,
)


def _cif(t: np.ndarray, s: np.ndarray) -> dict[int, CumulativeIncidence]:
    times = np.unique(t[s > 0])
    causes = sorted(set(s[s > 0].tolist()))
    n_risk = (t.size - np.searchsorted(np.sort(t), times, side="left")).astype(float)
    d_all = _count_at(t[s > 0], times)
    surv = np.cumprod(1 - d_all / n_risk)
    s_before = np.concatenate([[1.0], surv[:-1]])
    out: dict[int, CumulativeIncidence] = {}
    for k in causes:
        d_k = _count_at(t[s == k], times)
        f = np.cumsum(s_before * d_k / n_risk)
        var = np.empty_like(f)
        with np.errstate(divide="ignore", invalid="ignore"):
            greenwood = np.where(n_risk > d_all, d_all / (n_risk * (n_risk - d_all)), 0.0)
        own = s_before**2 * d_k * (n_risk - d_k) / n_risk**3
        cross = s_before * d_k / n_risk**2
        for j in range(times.size):
            diff = f[j] - f[: j + 1]
            var[j] = np.sum(diff**2 * greenwood[: j + 1] + own[: j + 1]
                            - 2 * diff * cross[: j + 1])
        out[k] = CumulativeIncidence(k, times, f, var)
    return out


def gray_test(df: pd.DataFrame, time: str, status: str, group: str, *, cause: int = 1,
              rho: float = 0.0) -> GrayTestResult:
    """Gray (1988) test comparing the cumulative incidence of ``cause`` among groups.

    Scores compare each group's subdistribution hazard with the pooled one, weighted by
    (1 − F(t−))^rho; the variance follows Gray's estimator. χ² on k − 1 df.
    """
    from scipy import stats

    used, _dropped = complete_cases(df, [time, status, group])
    t, s = competing_outcome(used, time, status)
    kind = np.where(s == cause, 1, np.where(s > 0, 2, 0))
    labels = sorted(used[group].astype(str).unique())
    if len(labels) < 2:
        raise StatsInputError(group, "needs at least two groups")
    g = np.searchsorted(labels, used[group].astype(str).to_numpy())
    k = len(labels)
    at_risk = np.bincount(g, minlength=k).astype(float)
    f_before = np.zeros(k)  # group cumulative incidence, left-continuous
    surv_before = np.ones(k)  # group all-cause KM, left-continuous
    pooled_before = 0.0
    score = np.zeros(k - 1)
    c = np.zeros((k, k))
    v_pairs = np.zeros((k - 1, k - 1))
    v_cross = np.zeros((k - 1, k))
    v_diag = np.zeros(k)
    order = np.argsort(t, kind="stable")
    bounds = np.flatnonzero(np.diff(t[order])) + 1
    for here in np.split(order, bounds):  # the patients at each distinct time, in turn
        d = np.zeros((3, k))
        np.add.at(d, (kind[here], g[here]), 1)
        n1, n2 = d[1].sum(), d[2].sum()
        live = at_risk > 0
        if n1 > 0 or n2 > 0:
            surv_after = surv_before.copy()
            f_after = f_before.copy()
            surv_after[live] = surv_before[live] * (at_risk[live] - d[1, live] - d[2, live]) \
                / at_risk[live]
            f_after[live] = f_before[live] + surv_before[live] * d[1, live] / at_risk[live]
            h = np.where(live, at_risk / np.where(live, surv_before, 1.0), 0.0)
            tr = h.sum()
            tq = (h * (1 - f_before)).sum()
            pooled_after = pooled_before + n1 / tr
            weight = (1 - pooled_before) ** rho
            a = np.where(np.outer(live, live), -weight * np.outer(h, h) / tr, 0.0)
            np.fill_diagonal(a, np.where(live, weight * h * (1 - h / tr), 0.0))
            c += a * n1 / (tr * (1 - pooled_before))
            idx = np.flatnonzero(live[: k - 1])
            score[idx] += weight * (d[1, idx] - n1 * h[idx] * (1 - f_before[idx]) / tq)
            if n1 > 0:
                for j in np.flatnonzero(live):
                    t4 = 1 - (1 - pooled_after) / surv_after[j] if surv_after[j] > 0 else 1.0
                    t5 = 1 - (n1 - 1) / (tr * surv_before[j] - 1) if n1 > 1 else 1.0
                    t3 = t5 * surv_before[j] * n1 / (tr * at_risk[j])
                    v_diag[j] += t4 * t4 * t3
                    t1 = a[: k - 1, j] - t4 * c[: k - 1, j]
                    v_cross[:, j] += t1 * t4 * t3
                    v_pairs += np.outer(t1, t1) * t3
            if n2 > 0:
                for j in np.flatnonzero(live & (surv_after > 0) & (d[2] > 0)):
                    t4 = (1 - pooled_after) / surv_after[j]
                    t5 = 1 - (d[2, j] - 1) / (at_risk[j] - 1) if d[2, j] > 1 else 1.0
                    t3 = t5 * surv_before[j] ** 2 * d[2, j] / at_risk[j] ** 2
                    v_diag[j] += t4 * t4 * t3
                    t1 = t4 * c[: k - 1, j]
                    v_cross[:, j] -= t1 * t4 * t3
                    v_pairs += np.outer(t1, t1) * t3
            surv_before, f_before, pooled_before = surv_after, f_after, pooled_after
        np.subtract.at(at_risk, g[here], 1)
    cc = c[: k - 1, :]
    var = v_pairs + (cc * v_diag) @ cc.T + cc @ v_cross.T + v_cross @ cc.T
    stat = float(score @ np.linalg.solve(var, score))
    return GrayTestResult(cause, stat, k - 1, float(stats.chi2.sf(stat, k - 1)), labels)
