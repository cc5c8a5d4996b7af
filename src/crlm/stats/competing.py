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

from crlm.stats import _dist
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
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.where(n_risk > d_all, d_all / (n_risk * (n_risk - d_all)), 0.0)
    out: dict[int, CumulativeIncidence] = {}
    for k in causes:
        d_k = _count_at(t[s == k], times)
        f = np.cumsum(s_before * d_k / n_risk)
        own = s_before**2 * d_k * (n_risk - d_k) / n_risk**3
        cross = s_before * d_k / n_risk**2
        out[k] = CumulativeIncidence(k, times, f, _cif_variance(f, greenwood, own, cross))
    return out


def _before(x: np.ndarray) -> np.ndarray:
    """``x`` shifted one step later (0 first): the value just before each time."""
    return np.concatenate([[0.0], x[:-1]])


def _cif_variance(f: np.ndarray, greenwood: np.ndarray, own: np.ndarray, cross: np.ndarray
                  ) -> np.ndarray:
    """Σ_{i ≤ j} (f_j − f_i)² greenwood_i + own_i − 2 (f_j − f_i) cross_i at every j.

    In one pass: with δ_j = f_j − f_{j−1}, the sums Σ_{i ≤ j} (f_j − f_i) w_i grow by
    δ_j Σ_{i < j} w_i and Σ_{i ≤ j} (f_j − f_i)² w_i by 2 δ_j Σ_{i < j} (f_{j−1} − f_i) w_i
    + δ_j² Σ_{i < j} w_i — sums of non-negative terms (f never decreases), so no cancellation.
    """
    step = np.diff(f, prepend=0.0)
    g_before = _before(np.cumsum(greenwood))
    linear = np.cumsum(step * g_before)  # Σ (f_j − f_i) greenwood_i
    square = np.cumsum(step * (2 * _before(linear) + step * g_before))
    crossed = np.cumsum(step * _before(np.cumsum(cross)))  # Σ (f_j − f_i) cross_i
    return square + np.cumsum(own) - 2 * crossed


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
    """Gray's k-sample test of equal cumulative incidence for one cause (R ``cuminc`` Tests).

    ``statistic`` and ``p`` are NaN when the test is not computable: the groups' variance
    matrix is rank-deficient (e.g. a group with no event while at risk), where R gives −1.
    """

    cause: int
    statistic: float
    df: int
    p: float
    groups: list[str]

    @property
    def computable(self) -> bool:
        """False when the variance matrix was rank-deficient (no statistic)."""
        return not np.isnan(self.statistic)


#: what a reader is told when Gray's test has no statistic
GRAY_NOT_COMPUTABLE = ("Gray's test is not computable: the variance matrix of the groups is "
                       "singular (for example, a group with no event while at risk)")


#: R ``qr()``'s default tolerance, which ``cuminc`` uses to decide the variance's rank
QR_RANK_TOLERANCE = 1e-7


def qr_rank(matrix: np.ndarray, tol: float = QR_RANK_TOLERANCE) -> int:
    """Rank as R ``qr(x, tol)`` (LINPACK dqrdc2) decides it: a column whose part orthogonal
    to the columns kept before it has a norm below ``tol`` times its own norm does not count."""
    kept: list[np.ndarray] = []
    for column in np.asarray(matrix, dtype=float).T:
        norm = float(np.linalg.norm(column))
        rest = column.copy()
        for _ in range(2):  # twice: orthogonal to rounding level
            for q in kept:
                rest -= (q @ rest) * q
        left = float(np.linalg.norm(rest))
        if norm > 0 and left >= tol * norm:
            kept.append(rest / left)
    return len(kept)


def gray_test(df: pd.DataFrame, time: str, status: str, group: str, *, cause: int = 1,
              rho: float = 0.0) -> GrayTestResult:
    """Gray (1988) test comparing the cumulative incidence of ``cause`` among groups.

    Scores compare each group's subdistribution hazard with the pooled one, weighted by
    (1 − F(t−))^rho; the variance follows Gray's estimator (``cmprsk``'s ``crstm``). χ² on
    k − 1 df. Computed for every event time at once (cumulative sums over the times). A
    rank-deficient variance (R ``qr`` rank, tolerance 1e-7) gives no statistic (NaN), as R.
    """
    used, _dropped = complete_cases(df, [time, status, group])
    t, s = competing_outcome(used, time, status)
    kind = np.where(s == cause, 1, np.where(s > 0, 2, 0))
    labels = sorted(used[group].astype(str).unique())
    if len(labels) < 2:
        raise StatsInputError(group, "needs at least two groups")
    g = np.searchsorted(labels, used[group].astype(str).to_numpy())
    k = len(labels)
    score, var = _gray_score_variance(t, kind, g, k, rho)
    if qr_rank(var) < k - 1:  # as R cuminc: no statistic (R reports -1)
        return GrayTestResult(cause, float("nan"), k - 1, float("nan"), labels)
    stat = float(score @ np.linalg.solve(var, score))
    return GrayTestResult(cause, stat, k - 1, float(_dist.chi2_sf(stat, k - 1)), labels)


#: event times per block of Gray's k × k arrays (blocks × k² values stay near 2 million)
GRAY_BLOCK_VALUES = 2**21


def _gray_score_variance(t: np.ndarray, kind: np.ndarray, g: np.ndarray, k: int, rho: float
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Gray's score (groups 1 … k − 1) and its variance; ``kind``: 1 the cause, 2 another
    cause, 0 censored; ``g``: group index 0 … k − 1. Rows of the arrays: the event times."""
    times, at = np.unique(t, return_inverse=True)
    d = np.bincount((kind * times.size + at) * k + g, minlength=3 * times.size * k
                    ).reshape(3, times.size, k).astype(float)
    at_risk = np.cumsum(d.sum(axis=0)[::-1], axis=0)[::-1]  # patients with t ≥ each time
    rows = (d[1] + d[2]).sum(axis=1) > 0  # times with an event of any cause
    d1, d2, n = d[1][rows], d[2][rows], at_risk[rows]
    n1 = d1.sum(axis=1)
    live = n > 0
    safe_n = np.where(live, n, 1.0)
    surv_after = np.cumprod(np.where(live, (n - d1 - d2) / safe_n, 1.0), axis=0)
    surv_before = np.vstack([np.ones((1, k)), surv_after])[:-1]
    f_before = np.vstack([np.zeros((1, k)),
                          np.cumsum(np.where(live, surv_before * d1 / safe_n, 0.0), axis=0)])[:-1]
    h = np.where(live, n / np.where(live, surv_before, 1.0), 0.0)
    tr = h.sum(axis=1)
    tq = (h * (1 - f_before)).sum(axis=1)
    pooled_after = np.cumsum(n1 / tr)
    pooled_before = _before(pooled_after)
    weight = (1 - pooled_before) ** rho
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(live, weight[:, None] * (d1 - n1[:, None] * h * (1 - f_before)
                                                  / tq[:, None]), 0.0)[:, : k - 1].sum(axis=0)
        # events of the cause: every group at risk
        on1 = (n1 > 0)[:, None] & live
        t4_1 = np.where(on1, np.where(surv_after > 0, 1 - (1 - pooled_after)[:, None]
                                      / surv_after, 1.0), 0.0)
        t5 = np.where((n1 > 1)[:, None], 1 - (n1 - 1)[:, None]
                      / (tr[:, None] * surv_before - 1), 1.0)
        t3_1 = np.where(on1, t5 * surv_before * n1[:, None] / (tr[:, None] * n), 0.0)
        # events of other causes: the groups where they happened
        on2 = live & (surv_after > 0) & (d2 > 0)
        t4_2 = np.where(on2, (1 - pooled_after)[:, None] / surv_after, 0.0)
        t5 = np.where(d2 > 1, 1 - (d2 - 1) / (n - 1), 1.0)
        t3_2 = np.where(on2, t5 * surv_before**2 * d2 / n**2, 0.0)
    c_scale = tr * (1 - pooled_before)  # c grows by a · n1 / c_scale at each event time
    v_diag = (t4_1 * t4_1 * t3_1).sum(axis=0) + (t4_2 * t4_2 * t3_2).sum(axis=0)
    v_cross = np.zeros((k - 1, k))
    v_pairs = np.zeros((k - 1, k - 1))
    c_last = np.zeros((k, k))
    step = max(1, GRAY_BLOCK_VALUES // (k * k))
    diagonal = np.arange(k)
    for lo in range(0, len(n), step):  # the k × k arrays, a block of event times at a time
        b = slice(lo, lo + step)
        a = np.where(live[b, :, None] & live[b, None, :], (-weight[b])[:, None, None]
                     * (h[b, :, None] * h[b, None, :]) / tr[b, None, None], 0.0)
        a[:, diagonal, diagonal] = np.where(live[b], weight[b, None] * h[b]
                                            * (1 - h[b] / tr[b, None]), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.cumsum(np.concatenate([c_last[None], a * n1[b, None, None]
                                          / c_scale[b, None, None]]), axis=0)[1:]
        c_last = c[-1]
        t1 = np.where(on1[b, None, :], a[:, : k - 1, :] - t4_1[b, None, :] * c[:, : k - 1, :],
                      0.0)
        v_cross += (t1 * (t4_1[b] * t3_1[b])[:, None, :]).sum(axis=0)
        v_pairs += np.einsum("eaj,ebj,ej->ab", t1, t1, t3_1[b])
        t1 = np.where(on2[b, None, :], t4_2[b, None, :] * c[:, : k - 1, :], 0.0)
        v_cross -= (t1 * (t4_2[b] * t3_2[b])[:, None, :]).sum(axis=0)
        v_pairs += np.einsum("eaj,ebj,ej->ab", t1, t1, t3_2[b])
    cc = c_last[: k - 1, :]
    var = v_pairs + (cc * v_diag) @ cc.T + cc @ v_cross.T + v_cross @ cc.T
    return score, var
