"""Kaplan–Meier, log-rank and restricted mean survival, numerically matching R ``survival``.

* :func:`kaplan_meier` — ``survfit(Surv(time, event) ~ group, conf.type=)``: the curve at every
  distinct time, Greenwood standard error of the cumulative hazard (R's ``std.err``), CIs on the
  log (default), log-log or plain scale; median with CI by ``print.survfit``'s rule, quartiles
  by ``quantile.survfit``'s rule (``None`` = not reached); numbers at risk, events and censored
  per interval exactly as ``summary(fit, times=)``.
* :func:`logrank_test` — ``survdiff`` (k groups, optional strata) and the test for trend.
* :func:`rmst` — restricted mean to a horizon with R's SE (``print(fit, rmean=)``) per group and
  the differences between groups.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

from crlm.stats import _dist, _linalg
from crlm.stats import defaults as _defaults
from crlm.stats._data import (
    DroppedRows,
    StatsInputError,
    complete_cases,
    group_labels,
    survival_outcome,
)

ConfType = Literal["log", "log-log", "plain", "logit", "arcsin"]
CONF_TYPES: tuple[str, ...] = get_args(_defaults.ConfType)
_TOL = float(np.sqrt(np.finfo(float).eps))  # R's sqrt(.Machine$double.eps)


@dataclass(frozen=True)
class _Steps:
    """Distinct times with risk-set counts (one stratum)."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray


def _steps(time: np.ndarray, event: np.ndarray) -> _Steps:
    uniq, inverse = np.unique(time, return_inverse=True)
    total = np.bincount(inverse, minlength=uniq.size)
    n_event = np.bincount(inverse, weights=event, minlength=uniq.size).astype(np.int64)
    n_risk = np.cumsum(total[::-1])[::-1]
    return _Steps(uniq, n_risk, n_event, total - n_event)


def km_survival(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct times and the Kaplan–Meier survival just after each (no CI, one group)."""
    s = _steps(np.asarray(time, dtype=float), np.asarray(event, dtype=float))
    return s.time, np.cumprod(1.0 - s.n_event / s.n_risk)


def censoring_survival(time: np.ndarray, event: np.ndarray, *, events_first: bool
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier of the censoring distribution G: censoring times and G just after each.

    ``event`` is 1 for any event, 0 for censored. With ``events_first`` the events at a time
    that also has censorings leave the risk set before those censorings
    (``prodlim(reverse = TRUE)``, used by riskRegression); otherwise they stay in it (the
    reverse Kaplan–Meier of ``cmprsk::crr``).
    """
    s = _steps(np.asarray(time, dtype=float), np.asarray(event, dtype=float))
    n_risk = s.n_risk - s.n_event if events_first else s.n_risk
    keep = s.n_censor > 0
    return s.time[keep], np.cumprod(1.0 - s.n_censor[keep] / n_risk[keep])


def _confint(surv: np.ndarray, std_err: np.ndarray, conf_type: str, level: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """R ``survfit_confint`` with ``logse=TRUE`` (std_err of the cumulative hazard).

    log: exp(log S ± z·se); log-log: S^exp(∓z·se/log S); plain: S ± z·se·S; logit:
    logit S ± z·se/(1 − S); arcsin: asin(√S) ± ½·z·se·√(S/(1 − S)), clipped to [0, π/2].
    """
    z = _dist.norm_ppf(1.0 - (1.0 - level) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            se2 = std_err * surv * z
            return np.maximum(surv - se2, 0.0), np.minimum(surv + se2, 1.0)
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            se2 = z * std_err
            return np.exp(np.log(xx) - se2), np.minimum(np.exp(np.log(xx) + se2), 1.0)
        if conf_type == "log-log":
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            se2 = z * std_err / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
            return lower, upper
        if conf_type == "logit":
            xx = np.where(surv == 0, np.nan, surv)
            se2 = z * std_err * (1 + xx / (1 - xx))
            logit = np.log(surv / (1 - surv))
            return 1 - 1 / (1 + np.exp(logit - se2)), 1 - 1 / (1 + np.exp(logit + se2))
        if conf_type == "arcsin":
            xx = np.where(surv == 0, np.nan, surv)
            se2 = 0.5 * z * std_err * np.sqrt(xx / (1 - xx))
            angle = np.arcsin(np.sqrt(xx))
            return (np.sin(np.maximum(0.0, angle - se2)) ** 2,
                    np.sin(np.minimum(np.pi / 2, angle + se2)) ** 2)
    raise StatsInputError(None, f"conf_type must be one of {CONF_TYPES}, not {conf_type!r}")


def _first_below_half(y: np.ndarray, x: np.ndarray) -> float | None:
    """R ``survmean``'s ``minmin``: the median of a step curve (midpoint rule at exactly 0.5)."""
    keep = ~np.isnan(y) & (y < 0.5 + _TOL)
    if not keep.any():
        return None
    xk, yk = x[keep], y[keep]
    if abs(yk[0] - 0.5) < _TOL and np.any(yk < yk[0]):
        return float((xk[0] + xk[np.flatnonzero(yk < yk[0])[0]]) / 2.0)
    return float(xk[0])


def _findq(x: np.ndarray, y: np.ndarray, p: float) -> float | None:
    """R ``findq``: the time where the cumulative distribution ``y`` (at times ``x``) reaches p."""
    ok = ~np.isnan(y)
    x, y = x[ok], y[ok]
    if y.size == 0 or y.max() < p:
        return None
    xmax = x[-1]
    _, first = np.unique(y, return_index=True)  # drop duplicated y, keep first x
    first.sort()
    x, y = x[first], y[first]
    n = y.size

    def index(shifted: np.ndarray) -> int | None:
        # approx(shifted, 1:n, p, method="constant", f=1): first i with shifted[i] >= p
        if p < shifted[0] or p > shifted[-1]:
            return None
        return int(np.searchsorted(shifted, p, side="left"))

    i1 = index(y + _TOL)
    i2 = index(y - _TOL)
    if p == 0:
        return float(x[0])
    if i1 is not None and abs(p - y[n - 1]) < _TOL:
        return float((x[i1] + xmax) / 2.0)
    if i1 is None or i2 is None:
        return None
    return float((x[i1] + x[i2]) / 2.0)


@dataclass(frozen=True)
class KMCurve:
    """One Kaplan–Meier curve with pointwise CIs (R ``survfit`` for one stratum)."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray  # of the cumulative hazard (Greenwood), as R's fit$std.err
    lower: np.ndarray
    upper: np.ndarray
    conf_type: str

    @property
    def n(self) -> int:
        """Number of subjects."""
        return int(self.n_risk[0]) if self.n_risk.size else 0

    @property
    def events(self) -> int:
        """Number of events."""
        return int(self.n_event.sum())

    def median(self) -> tuple[float | None, float | None, float | None]:
        """Median with its CI as ``print.survfit`` (``None`` = not reached)."""
        return (
            _first_below_half(self.surv, self.time),
            _first_below_half(self.lower, self.time),
            _first_below_half(self.upper, self.time),
        )

    def quantile(self, prob: float) -> tuple[float | None, float | None, float | None]:
        """Time by which ``prob`` of subjects had the event, with CI (``quantile.survfit``)."""
        x = np.concatenate(([0.0], self.time))
        return (
            _findq(x, np.concatenate(([0.0], 1.0 - self.surv)), prob),
            _findq(x, np.concatenate(([0.0], 1.0 - self.lower)), prob),
            _findq(x, np.concatenate(([0.0], 1.0 - self.upper)), prob),
        )

    def at(self, times: Sequence[float]) -> pd.DataFrame:
        """Survival and risk table at ``times`` as R ``summary(fit, times=)``.

        ``std_err`` is the standard error of the survival (``surv * std.err``) as summary prints.
        ``n_event``/``n_censor`` count the interval since the previous requested time (the
        first interval starts at 0). Times after the last follow-up have ``n_risk`` 0 and no
        survival estimate (R drops them).
        """
        req = np.sort(np.asarray(times, dtype=float))
        last = np.searchsorted(self.time, req, side="right") - 1  # last curve time <= t
        nxt = np.searchsorted(self.time, req, side="left")  # first curve time >= t
        cum_event = np.concatenate(([0], np.cumsum(self.n_event)))
        cum_censor = np.concatenate(([0], np.cumsum(self.n_censor)))
        ev = cum_event[last + 1]
        ce = cum_censor[last + 1]
        beyond = req > (self.time[-1] if self.time.size else -np.inf)
        n_risk = np.where(nxt < self.time.size, self.n_risk[np.minimum(nxt, self.time.size - 1)],
                          0)

        def pick(values: np.ndarray, before: float) -> np.ndarray:
            out = np.where(last >= 0, values[np.maximum(last, 0)], before)
            return np.where(beyond, np.nan, out)

        surv = pick(self.surv, 1.0)

        return pd.DataFrame({
            "time": req,
            "n_risk": n_risk.astype(np.int64),
            "n_event": np.diff(np.concatenate(([0], ev))).astype(np.int64),
            "n_censor": np.diff(np.concatenate(([0], ce))).astype(np.int64),
            "surv": surv,
            "std_err": surv * pick(self.std_err, 0.0),  # of the survival, as summary() prints
            "lower": pick(self.lower, 1.0),
            "upper": pick(self.upper, 1.0),
        })

    def rmst(self, horizon: float) -> tuple[float, float]:
        """Restricted mean survival time to ``horizon`` and its SE (R ``print(fit, rmean=)``)."""
        keep = self.time <= horizon
        t = np.concatenate((self.time[keep], [horizon]))
        s = np.concatenate((self.surv[keep], self.surv[keep][-1:] if keep.any() else [1.0]))
        d = self.n_event[keep].astype(float)
        r = self.n_risk[keep].astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            hh = np.where(r - d == 0, 0.0, d / (r * (r - d)))
        start = min(0.0, float(self.time.min())) if self.time.size else 0.0
        delta = np.diff(np.concatenate(([start], t)))
        rect = delta * np.concatenate(([1.0], s[:-1]))
        area_after = np.cumsum(rect[1:][::-1])[::-1]  # area from each time to the horizon
        var = float(np.sum(area_after**2 * hh))
        return float(rect.sum() + start), float(np.sqrt(var))

    def to_frame(self) -> pd.DataFrame:
        """The whole curve, one row per distinct time."""
        return pd.DataFrame({
            "time": self.time, "n_risk": self.n_risk, "n_event": self.n_event,
            "n_censor": self.n_censor, "surv": self.surv, "std_err": self.std_err,
            "lower": self.lower, "upper": self.upper,
        })


def km_curve(time: np.ndarray, event: np.ndarray, conf_type: ConfType = "log",
             conf_level: float = 0.95) -> KMCurve:
    """Kaplan–Meier curve of one group from validated arrays."""
    s = _steps(np.asarray(time, dtype=float), np.asarray(event, dtype=float))
    surv = np.cumprod(1.0 - s.n_event / s.n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = s.n_event / (s.n_risk * (s.n_risk - s.n_event))
    std_err = np.sqrt(np.cumsum(terms))
    lower, upper = _confint(surv, std_err, conf_type, conf_level)
    return KMCurve(s.time, s.n_risk, s.n_event, s.n_censor, surv, std_err, lower, upper,
                   conf_type)


def _opt(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class KMResult:
    """Kaplan–Meier curves by group (``"all"`` without a group)."""

    groups: dict[str, KMCurve]
    group: str | None
    conf_type: str
    dropped: DroppedRows
    conf_level: float = 0.95

    def summary(self) -> pd.DataFrame:
        """One row per group: n, events, median (CI), quartiles."""
        rows = []
        for level, c in self.groups.items():
            med, lo, hi = c.median()
            rows.append({"group": level, "n": c.n, "events": c.events, "median": med,
                         "median_lower95": lo, "median_upper95": hi,
                         "q25": c.quantile(0.25)[0], "q75": c.quantile(0.75)[0]})
        return pd.DataFrame(rows).set_index("group")

    def risk_table(self, times: Sequence[float]) -> pd.DataFrame:
        """Numbers at risk, events and censored per interval, all groups stacked."""
        frames = [c.at(times).assign(group=level) for level, c in self.groups.items()]
        return pd.concat(frames, ignore_index=True)[
            ["group", "time", "n_risk", "n_event", "n_censor", "surv", "lower", "upper"]]

    def to_dict(self, times: Sequence[float] = ()) -> dict[str, object]:
        """JSON of the CLI contract: ``{"groups": {level: {...}}}`` plus the drop report."""
        from crlm.stats._estimates import ci_columns

        lo_key, hi_key = ci_columns(self.conf_level)  # lower95/upper95 at the 95 % default
        out: dict[str, dict[str, object]] = {}
        for level, c in self.groups.items():
            med, lo, hi = c.median()
            table = c.at(times) if len(times) else None
            at: dict[str, dict[str, object]] = {}
            if table is not None:
                for row in table.itertuples(index=False):
                    at[_fmt_time(row.time)] = {
                        "survival": _opt(row.surv), lo_key: _opt(row.lower),
                        hi_key: _opt(row.upper), "n_risk": int(row.n_risk),
                        "n_event": int(row.n_event), "n_censor": int(row.n_censor),
                    }
            out[level] = {
                "n": c.n, "events": c.events, "median": _opt(med), f"median_{lo_key}": _opt(lo),
                f"median_{hi_key}": _opt(hi), "q25": _opt(c.quantile(0.25)[0]),
                "q75": _opt(c.quantile(0.75)[0]), "survival_at": at,
            }
        return {"group": self.group, "conf_type": self.conf_type,
                "conf_level": self.conf_level, "groups": out, "dropped": self.dropped.to_dict()}


def _fmt_time(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else repr(float(t))


def _prepare(df: pd.DataFrame, time: str, event: str, extra: Sequence[str | None]
             ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, DroppedRows]:
    cols = [time, event, *[c for c in extra if c is not None]]
    used, dropped = complete_cases(df, cols)
    if len(used) == 0:
        raise StatsInputError(None, "no complete rows: " + dropped.describe())
    t, e = survival_outcome(used, time, event)
    return used, t, e, dropped


def kaplan_meier(df: pd.DataFrame, time: str, event: str, group: str | None = None, *,
                 conf_type: ConfType = "log", conf_level: float = 0.95) -> KMResult:
    """Kaplan–Meier curves of ``Surv(time, event)`` by ``group`` (R ``survfit``)."""
    if conf_type not in CONF_TYPES:
        raise StatsInputError(None, f"conf_type must be one of {CONF_TYPES}, not {conf_type!r}")
    if not 0.0 < conf_level < 1.0:
        raise StatsInputError(None, f"conf_level must be between 0 and 1, not {conf_level!r}")
    used, t, e, dropped = _prepare(df, time, event, [group])
    if group is None:
        curves = {"all": km_curve(t, e, conf_type, conf_level)}
    else:
        codes, labels = group_labels(used[group])
        curves = {lab: km_curve(t[codes == k], e[codes == k], conf_type, conf_level)
                  for k, lab in enumerate(labels)}
    return KMResult(curves, group, conf_type, dropped, conf_level)


@dataclass(frozen=True)
class LogrankResult:
    """k-sample log-rank test (R ``survdiff``, rho = 0) and optional test for trend."""

    groups: list[str]
    n: np.ndarray
    observed: np.ndarray  # weighted by S(t−)^rho when rho ≠ 0 (as R)
    expected: np.ndarray
    var: np.ndarray
    chisq: float
    df: int
    trend_chisq: float | None
    trend_scores: list[float] | None
    dropped: DroppedRows
    rho: float = 0.0

    @property
    def p(self) -> float:
        """p-value of the k-sample test."""
        return float(_dist.chi2_sf(self.chisq, self.df))

    @property
    def trend_p(self) -> float | None:
        """p-value of the trend test (1 df)."""
        return None if self.trend_chisq is None else float(_dist.chi2_sf(self.trend_chisq, 1))

    def to_frame(self) -> pd.DataFrame:
        """One row per group: n, observed, expected, (O-E)^2/E, (O-E)^2/V."""
        return pd.DataFrame({
            "n": self.n, "observed": self.observed, "expected": self.expected,
            "(O-E)^2/E": (self.observed - self.expected) ** 2 / self.expected,
            "(O-E)^2/V": (self.observed - self.expected) ** 2 / np.diag(self.var),
        }, index=pd.Index(self.groups, name="group"))

    @property
    def weights(self) -> str:
        """The test's weighting in words."""
        if self.rho == 0:
            return "log-rank (equal weights)"
        return f"Fleming–Harrington G^ρ, ρ = {self.rho:g} (weight S(t−)^ρ)"

    def to_dict(self) -> dict[str, object]:
        """JSON: ``{"chisq","df","p","observed","expected", ...}`` (dicts keyed by group)."""
        out: dict[str, object] = {
            "chisq": self.chisq, "df": self.df, "p": self.p, "rho": self.rho,
            "observed": dict(zip(self.groups, self.observed.tolist(), strict=True)),
            "expected": dict(zip(self.groups, self.expected.tolist(), strict=True)),
            "n": dict(zip(self.groups, self.n.tolist(), strict=True)),
        }
        if self.trend_chisq is not None:
            out["trend"] = {"chisq": self.trend_chisq, "df": 1, "p": self.trend_p,
                            "scores": dict(zip(self.groups, self.trend_scores or [],
                                               strict=True))}
        out["dropped"] = self.dropped.to_dict()
        return out


def _logrank_terms(time: np.ndarray, event: np.ndarray, codes: np.ndarray, k: int,
                   rho: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected and variance matrix of one stratum.

    With ``rho`` ≠ 0 each time is weighted by S(t−)^rho, S the Kaplan–Meier estimate of the
    stratum's pooled groups (Fleming–Harrington G^rho, R ``survdiff(rho=)``): the observed and
    expected counts by w, the variance by w².
    """
    uniq, inverse = np.unique(time, return_inverse=True)
    m = uniq.size
    flat = inverse * k + codes
    at_time = np.bincount(flat, minlength=m * k).reshape(m, k).astype(float)
    dead = np.bincount(flat, weights=event, minlength=m * k).reshape(m, k)
    n_risk = np.cumsum(at_time[::-1], axis=0)[::-1]  # (m, k)
    has_death = dead.sum(axis=1) > 0
    n_risk, dead = n_risk[has_death], dead[has_death]
    n_tot = n_risk.sum(axis=1)
    d_tot = dead.sum(axis=1)
    weight = np.ones(n_tot.size)
    if rho != 0.0:
        surv = np.cumprod(1.0 - d_tot / n_tot)
        weight = np.concatenate(([1.0], surv[:-1])) ** rho  # S(t−)^rho
    frac = n_risk / n_tot[:, None]
    expected = (frac * (weight * d_tot)[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_tot > 1, d_tot * (n_tot - d_tot) / (n_tot - 1), 0.0) * weight**2
    var = np.diag((w[:, None] * frac).sum(axis=0)) - (frac * w[:, None]).T @ frac
    return (weight[:, None] * dead).sum(axis=0), expected, var


def logrank_test(df: pd.DataFrame, time: str, event: str, group: str, *,
                 strata: str | None = None, trend: bool = False,
                 scores: Sequence[float] | None = None, rho: float = 0.0) -> LogrankResult:
    """Log-rank test for k groups (``survdiff``); with ``trend`` also the 1-df trend test.

    ``rho`` ≠ 0 gives the Fleming–Harrington G^rho test (``survdiff(rho=)``: weight S(t−)^rho,
    rho = 1 the Peto–Peto/Prentice modification of the Wilcoxon test, weighting early
    differences).

    The trend test uses ``scores`` (default 1..k in the groups' order) as
    ``(w'(O-E))² / w'Vw``.
    """
    if not np.isfinite(rho):
        raise StatsInputError(None, f"rho must be a finite number, not {rho!r}")
    used, t, e, dropped = _prepare(df, time, event, [group, strata])
    codes, labels = group_labels(used[group])
    k = len(labels)
    if k < 2:
        raise StatsInputError(group, f"needs at least 2 groups, found {', '.join(labels)}")
    if not e.any():
        raise StatsInputError(event, "no events: every patient is censored, so the log-rank "
                                     "test has nothing to compare")
    st = pd.factorize(used[strata])[0] if strata is not None else np.zeros(len(used), int)
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    for s in np.unique(st):
        sel = st == s
        o, x, v = _logrank_terms(t[sel], e[sel].astype(float), codes[sel], k, rho)
        obs += o
        exp += x
        var += v
    diff = (obs - exp)[1:]
    chisq = float(diff @ _linalg.solve(var[1:, 1:], diff))
    trend_chisq = None
    w_list = None
    if trend or scores is not None:
        w = np.arange(1.0, k + 1) if scores is None else np.asarray(scores, dtype=float)
        if w.size != k:
            raise StatsInputError(group, f"{w.size} trend scores for {k} groups")
        trend_chisq = float((w @ (obs - exp)) ** 2 / (w @ var @ w))
        w_list = w.tolist()
    n = np.bincount(codes, minlength=k)
    return LogrankResult(labels, n, obs, exp, var, chisq, k - 1, trend_chisq, w_list, dropped,
                         float(rho))


@dataclass(frozen=True)
class RMSTResult:
    """Restricted mean survival time to ``horizon`` by group, and pairwise differences."""

    horizon: float
    groups: dict[str, tuple[float, float]]  # level -> (rmst, se)
    dropped: DroppedRows
    conf_level: float = 0.95

    def differences(self) -> pd.DataFrame:
        """Every pair (b − a, groups in order) with SE = sqrt(se_a² + se_b²), CI and z-test p."""
        z = _dist.norm_ppf(0.5 + self.conf_level / 2.0)
        rows = []
        for (a, (ma, sa)), (b, (mb, sb)) in itertools.combinations(self.groups.items(), 2):
            diff = mb - ma
            se = float(np.hypot(sa, sb))
            rows.append({"contrast": f"{b} - {a}", "difference": diff, "se": se,
                         "lower95": diff - z * se, "upper95": diff + z * se,
                         "p": float(2 * _dist.norm_sf(abs(diff / se))) if se > 0 else None})
        return pd.DataFrame(rows)

    def to_frame(self) -> pd.DataFrame:
        """One row per group: rmst, se, CI."""
        z = _dist.norm_ppf(0.5 + self.conf_level / 2.0)
        return pd.DataFrame(
            [{"group": g, "rmst": m, "se": s, "lower95": m - z * s, "upper95": m + z * s}
             for g, (m, s) in self.groups.items()]).set_index("group")

    def to_dict(self) -> dict[str, object]:
        """JSON: horizon, per-group rmst/se/CI, differences, drop report."""
        frame = self.to_frame()
        return {
            "horizon": self.horizon,
            "groups": {g: {k: float(v) for k, v in row.items()} for g, row in frame.iterrows()},
            "differences": self.differences().to_dict(orient="records"),
            "dropped": self.dropped.to_dict(),
        }


def rmst(df: pd.DataFrame, time: str, event: str, horizon: float, group: str | None = None,
         *, conf_level: float = 0.95) -> RMSTResult:
    """Restricted mean survival time to ``horizon`` (same time unit as ``time``)."""
    if not np.isfinite(horizon) or horizon <= 0:
        raise StatsInputError(None, f"horizon must be a positive number, not {horizon!r}")
    km = kaplan_meier(df, time, event, group)
    return RMSTResult(float(horizon), {g: c.rmst(horizon) for g, c in km.groups.items()},
                      km.dropped, conf_level)
