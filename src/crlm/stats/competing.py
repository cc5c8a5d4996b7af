"""Competing risks (recurrence vs death without recurrence): cumulative incidence, Gray's
test and Fine–Gray regression.

Aalen–Johansen estimate of the cumulative incidence of each cause, F_k(t) = Σ S(t_j−) d_kj / n_j,
with S the all-cause Kaplan–Meier survival, and its Greenwood-type delta-method variance
(Andersen, Borgan, Gill & Keiding 1993, IV.4; R ``etm``'s ``trcov``, SAS LIFETEST's default):

    Var F_k(t) = Σ_{t_j ≤ t} [ (F_k(t) − F_k(t_j))² d_j / (n_j (n_j − d_j))
                               + S(t_j−)² d_kj (n_j − d_kj) / n_j³
                               − 2 (F_k(t) − F_k(t_j)) S(t_j−) d_kj / n_j² ]

with d_j the deaths of any cause at t_j. The last term's d_kj / n_j² (not d_kj (n_j − d_kj) /
(n_j² (n_j − d_j))) is what differs from other published forms when deaths of different causes
tie; ``cmprsk::cuminc``'s variance (Gray's) is close but not equal.
Status coding: 0 = censored, 1, 2, … = causes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crlm.stats._data import StatsInputError, complete_cases, follow_up_times
from crlm.stats._estimates import ratio_table
from crlm.stats.survival import censoring_survival


@dataclass
class CumulativeIncidence:
    cause: int
    time: np.ndarray
    estimate: np.ndarray
    variance: np.ndarray

    def at(self, times: Sequence[float]) -> pd.DataFrame:
        idx = np.searchsorted(self.time, np.asarray(times, dtype=float), side="right") - 1
        est = np.where(idx >= 0, self.estimate[np.maximum(idx, 0)], 0.0)
        var = np.where(idx >= 0, self.variance[np.maximum(idx, 0)], 0.0)
        return pd.DataFrame({"time": times, "estimate": est, "variance": var})


def competing_outcome(df: pd.DataFrame, time: str, status: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated times (> 0) and status codes (0 = censored, 1, 2, … = cause) of complete rows."""
    t = follow_up_times(df, time)
    if not pd.api.types.is_numeric_dtype(df[status]) or pd.api.types.is_bool_dtype(df[status]):
        raise StatsInputError(status, "status must be 0 (censored) or a cause number 1, 2, …")
    s = df[status].to_numpy(dtype=float)
    if np.isnan(s).any() or (s < 0).any() or (s != np.round(s)).any():
        raise StatsInputError(status, "status must be 0 (censored) or a cause number 1, 2, …")
    return t, s.astype(int)


def cumulative_incidence(
    df: pd.DataFrame, time: str, status: str, group: str | None = None
) -> dict[str, dict[int, CumulativeIncidence]]:
    """CIF of every cause, per group (``"all"`` without a group)."""
    used, _dropped = complete_cases(df, [time, status] + ([group] if group else []))
    t, s = competing_outcome(used, time, status)
    labels = used[group].astype(str).to_numpy() if group else np.full(len(t), "all")
    return {g: _cif(t[labels == g], s[labels == g]) for g in sorted(set(labels))}


def _count_at(values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """How many of ``values`` equal each of ``times`` (as floats), by binary search."""
    ordered = np.sort(values)
    return (np.searchsorted(ordered, times, side="right")
            - np.searchsorted(ordered, times, side="left")).astype(float)


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


@dataclass
class FineGrayResult:
    """Fine–Gray subdistribution hazards for one cause (R ``cmprsk::crr``)."""

    names: list[str]
    coef: np.ndarray
    se: np.ndarray
    loglik: float
    n: int
    events: int
    cause: int

    def to_frame(self) -> pd.DataFrame:
        return ratio_table(self.names, self.coef, self.se, "shr")


def fine_gray(
    df: pd.DataFrame, time: str, status: str, covariates: Sequence[str], *, cause: int = 1,
    reference: dict[str, object] | None = None, max_iter: int = 50,
) -> FineGrayResult:
    """Subdistribution-hazard regression (Fine & Gray 1999) for ``cause``; status 0 = censored.

    Patients with a competing event stay in the risk set with weight G(t−)/G(Tᵢ−) (IPCW, G the
    censoring Kaplan–Meier); Breslow handling of ties. Coefficients and log partial likelihood
    equal ``crr``'s; the standard errors here are model-based, whereas ``crr`` reports Fine and
    Gray's sandwich variance (which also accounts for estimating G), so they differ slightly.
    """
    from crlm.stats._data import design_matrix

    used, _dropped = complete_cases(df, [time, status, *covariates])
    t, s = competing_outcome(used, time, status)
    design = design_matrix(used, covariates, reference)
    x = design.matrix
    cens_times, g_after = censoring_survival(t, s != 0, events_first=False)

    def g_at(u: np.ndarray) -> np.ndarray:  # G(u−), the left limit (as cmprsk::crr)
        idx = np.searchsorted(cens_times, u, side="left") - 1
        return np.where(idx >= 0, g_after[np.maximum(idx, 0)], 1.0)

    event_times = np.unique(t[s == cause])
    if event_times.size == 0:
        raise StatsInputError(status, f"no events of cause {cause}")
    competing = (s > 0) & (s != cause)
    g_own = g_at(t)
    # weight of every patient in the risk set of every event time: rows = event times
    at_risk = t[None, :] >= event_times[:, None]
    safe_own = np.where(g_own > 0, g_own, 1.0)
    ratio = np.where(competing[None, :] & ~at_risk,
                     g_at(event_times)[:, None] / safe_own[None, :], 0.0)
    weights = at_risk.astype(float) + ratio
    d_count = np.array([((t == u) & (s == cause)).sum() for u in event_times], dtype=float)
    x_events = np.array([x[(t == u) & (s == cause)].sum(axis=0) for u in event_times])
    beta = np.zeros(x.shape[1])
    loglik = -np.inf
    for _ in range(max_iter):
        risk = np.exp(x @ beta)
        wr = weights * risk[None, :]
        s0 = wr.sum(axis=1)
        s1 = wr @ x
        new_loglik = float((x_events @ beta).sum() - (d_count * np.log(s0)).sum())
        xbar = s1 / s0[:, None]
        score = (x_events - d_count[:, None] * xbar).sum(axis=0)
        s2 = np.einsum("jn,np,nq->jpq", wr, x, x)
        info = ((d_count / s0)[:, None, None] * s2).sum(axis=0) - np.einsum(
            "j,jp,jq->pq", d_count, xbar, xbar)
        step = np.linalg.solve(info, score)
        beta = beta + step
        if abs(new_loglik - loglik) < 1e-12 and np.max(np.abs(step)) < 1e-9:
            break
        loglik = new_loglik
    else:
        raise StatsInputError(None, "Fine–Gray model did not converge")
    return FineGrayResult(design.names, beta, np.sqrt(np.diag(np.linalg.inv(info))), new_loglik,
                          len(t), int((s == cause).sum()), cause)


@dataclass(frozen=True)
class GrayTestResult:
    """Gray's k-sample test of equal cumulative incidence for one cause (R ``cuminc`` Tests)."""

    cause: int
    statistic: float
    df: int
    p: float
    groups: list[str]


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
