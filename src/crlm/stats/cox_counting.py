"""Cox models beyond right-censored rows: (start, stop] counting-process input (late entry,
time-varying covariates), case weights and an offset — R ``coxph(Surv(start, stop, event) ~
x + offset(o), weights = w)``, the ``agreg.fit`` path.

The right-censored, unweighted fit in :mod:`crlm.stats.cox` keeps its own cumulative-sum path
(the 1M-row benchmark); :func:`crlm.stats.cox.cox_ph` sends a fit here only when ``start``,
``weights`` or ``offset`` is given. Each Newton step is one sweep per stratum over the rows in
decreasing stop time (``_kernels.counting_sweep``, O(n p²)); Harrell's C with its
infinitesimal-jackknife SE by two Fenwick-tree sweeps (``_kernels.counting_concordance``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crlm.stats import _kernels, _linalg
from crlm.stats import defaults as _defaults
from crlm.stats._data import StatsInputError

Ties = _defaults.Ties


@dataclass(frozen=True)
class CountingData:
    """Validated arrays of a counting-process Cox fit (complete rows, input order)."""

    x: np.ndarray  # (n, p) centred design
    start: np.ndarray  # -inf when no start column
    stop: np.ndarray
    event: np.ndarray  # bool
    weight: np.ndarray
    offset: np.ndarray
    strata: np.ndarray  # int codes (zeros without strata)


@dataclass(frozen=True)
class _Stratum:
    rows: np.ndarray
    by_stop: np.ndarray  # positions within the stratum, decreasing stop
    by_start: np.ndarray  # decreasing start
    x: np.ndarray  # the stratum's rows, gathered once (C order)
    start: np.ndarray
    stop: np.ndarray
    event: np.ndarray
    weight: np.ndarray
    offset: np.ndarray


@dataclass(frozen=True)
class Sweep:
    """Per distinct stop time of one stratum (increasing): the risk-set sums at the fit."""

    time: np.ndarray
    s0: np.ndarray  # weighted risk sum, true scale exp(eta)
    d0: np.ndarray  # deaths' part of s0
    s1: np.ndarray  # (G, p)
    d1: np.ndarray
    deadwt: np.ndarray  # weighted deaths
    ndead: np.ndarray  # deaths
    nrisk: np.ndarray  # weighted number at risk


class CountingModel:
    """The strata of a counting-process fit; evaluates the partial likelihood at beta."""

    def __init__(self, data: CountingData, ties: Ties) -> None:
        self.data = data
        self.efron = ties == "efron"
        self.strata: list[_Stratum] = []
        for code in np.unique(data.strata):
            rows = np.flatnonzero(data.strata == code)
            by_stop = np.lexsort((~data.event[rows], -data.stop[rows])).astype(np.int64)
            by_start = np.argsort(-data.start[rows], kind="stable").astype(np.int64)
            self.strata.append(_Stratum(
                rows, by_stop, by_start, np.ascontiguousarray(data.x[rows]), data.start[rows],
                data.stop[rows], data.event[rows], data.weight[rows], data.offset[rows]))

    def _sweep(self, s: _Stratum, beta: np.ndarray, want_info: bool) -> tuple:
        eta = s.x @ beta + s.offset
        return _kernels.counting_sweep(s.x, s.start, s.stop, s.event, s.weight, eta,
                                       s.by_stop, s.by_start, self.efron, want_info)

    def evaluate(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Log partial likelihood, score and information at ``beta``."""
        p = beta.size
        loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
        for s in self.strata:
            lk, u, i, *_ = self._sweep(s, beta, True)
            loglik += lk
            score += u
            info += i
        return loglik, score, info

    def sweeps(self, beta: np.ndarray) -> list[Sweep]:
        """Risk-set sums per distinct stop time and stratum at ``beta`` (for predictions)."""
        out = []
        for s in self.strata:
            _lk, _u, _i, t, s0, d0, s1, d1, dw, counts = self._sweep(s, beta, False)
            eta = s.x @ beta + s.offset
            scale = float(np.exp(eta.max())) if eta.size else 1.0
            rev = slice(None, None, -1)
            out.append(Sweep(t[rev], s0[rev] * scale, d0[rev] * scale, s1[rev] * scale,
                             d1[rev] * scale, dw[rev], counts[0][rev], counts[1][rev]))
        return out


def _efron_terms(sweep: Sweep, efron: bool) -> tuple[np.ndarray, ...]:
    """The (Efron) terms of every event time, flattened: time index, fraction l/d, the term's
    weight c = (W/terms)/denominator and its x̄ (one row per term)."""
    times = np.flatnonzero(sweep.ndead > 0)
    dead = sweep.ndead[times].astype(np.int64)
    n_terms = np.where(efron & (dead > 1), dead, 1)
    k = np.repeat(times, n_terms)
    starts = np.cumsum(n_terms) - n_terms
    within = np.arange(k.size) - np.repeat(starts, n_terms)
    frac = within / np.repeat(np.where(n_terms > 1, dead, 1), n_terms)
    denom = sweep.s0[k] - frac * sweep.d0[k]
    c = sweep.deadwt[k] / np.repeat(n_terms, n_terms) / denom
    xbar = (sweep.s1[k] - frac[:, None] * sweep.d1[k]) / denom[:, None]
    return k, frac, c, xbar, starts, n_terms, denom


def score_residuals(model: CountingModel, beta: np.ndarray) -> np.ndarray:
    """Score residuals (unweighted, input order) of a counting-process fit at ``beta``.

    Row i: its event term ``δ_i (x_i − mean_l x̄_l)`` minus ``r_i Σ_l c_l (x_i − x̄_l)`` over
    the Efron terms l of the event times in (start_i, stop_i] (c_l = W/d / denominator_l),
    with the tied deaths of row i's own event time weighted (1 − l/d), as R ``agscore3``.
    Multiplied by the case weights they give the dfbeta of the robust variance.
    """
    out = np.zeros(model.data.x.shape)
    for s, sweep in zip(model.strata, model.sweeps(beta), strict=True):
        x = s.x
        risk = np.exp(x @ beta + s.offset)
        g, p = sweep.time.size, x.shape[1]
        k, frac, c, xbar, starts, n_terms, _denom = _efron_terms(sweep, model.efron)
        a = np.zeros(g)  # sum_l c_l
        b = np.zeros((g, p))  # sum_l c_l xbar_l
        a_f = np.zeros(g)  # sum_l (l/d) c_l
        b_f = np.zeros((g, p))  # sum_l (l/d) c_l xbar_l
        xbar_mean = np.zeros((g, p))
        if k.size:
            times = k[starts]
            a[times] = np.add.reduceat(c, starts)
            b[times] = np.add.reduceat(c[:, None] * xbar, starts, axis=0)
            a_f[times] = np.add.reduceat(frac * c, starts)
            b_f[times] = np.add.reduceat((frac * c)[:, None] * xbar, starts, axis=0)
            xbar_mean[times] = np.add.reduceat(xbar, starts, axis=0) / n_terms[:, None]
        cum_a = np.concatenate(([0.0], np.cumsum(a)))
        cum_b = np.vstack((np.zeros((1, p)), np.cumsum(b, axis=0)))
        hi = np.searchsorted(sweep.time, s.stop, side="right")
        lo = np.searchsorted(sweep.time, s.start, side="right")
        resid = -risk[:, None] * (x * (cum_a[hi] - cum_a[lo])[:, None] - (cum_b[hi] - cum_b[lo]))
        dead = np.flatnonzero(s.event)
        own = hi[dead] - 1  # index of each death's own time
        resid[dead] += x[dead] - xbar_mean[own]
        resid[dead] += risk[dead, None] * (x[dead] * a_f[own][:, None] - b_f[own])
        out[s.rows] = resid
    return out


@dataclass(frozen=True)
class NewtonFit:
    beta: np.ndarray
    loglik: float
    info: np.ndarray
    iterations: int
    loglik0: float
    score0: np.ndarray
    info0: np.ndarray


def newton(model: CountingModel, p: int, *, max_iter: int = 50,
           check: Callable[[np.ndarray, np.ndarray], None] | None = None) -> NewtonFit:
    """Newton–Raphson with step halving from beta = 0 (tolerance as the right-censored path).

    ``check(beta, info)`` runs before giving up, to name a diverging coefficient.
    """
    from crlm.stats.cox import ConvergenceError

    beta = np.zeros(p)
    loglik, score, info = model.evaluate(beta)
    loglik0, score0, info0 = loglik, score, info
    for iteration in range(1, max_iter + 1):
        try:
            step = _linalg.solve_pd(info, score)
        except (_linalg.LinAlgError, ValueError) as exc:
            raise ConvergenceError(None, f"information matrix is singular ({exc})") from exc
        new = model.evaluate(beta + step)
        halvings = 0
        while (not np.isfinite(new[0]) or new[0] < loglik - 1e-12) and halvings < 30:
            step /= 2.0
            new = model.evaluate(beta + step)
            halvings += 1
        change = abs(new[0] - loglik)
        beta = beta + step
        loglik, score, info = new
        if change < max(1e-12, 4e-15 * abs(loglik)):
            return NewtonFit(beta, loglik, info, iteration, loglik0, score0, info0)
    if check is not None:
        check(beta, info)
    raise ConvergenceError(None, f"Cox model did not converge in {max_iter} iterations")


def counting_arrays(used: pd.DataFrame, stop: np.ndarray, start: str | None,
                    weights: str | None, offset: str | None) -> tuple[np.ndarray, ...]:
    """Validated start (−inf without), case weights (1) and offset (0) columns."""
    n = len(used)
    if start is None:
        start_v = np.full(n, -np.inf)
    else:
        start_v = _numeric(used, start, "entry (start) time")
        bad = ~(start_v < stop)
        if bad.any():
            raise StatsInputError(start, f"entry time must be before the stop time "
                                         f"({int(bad.sum())} rows are not)")
    weight_v = np.ones(n) if weights is None else _numeric(used, weights, "case weight")
    if weights is not None and np.any(weight_v <= 0):
        raise StatsInputError(weights, f"case weights must be > 0 "
                                       f"({int((weight_v <= 0).sum())} rows are not)")
    offset_v = np.zeros(n) if offset is None else _numeric(used, offset, "offset")
    return start_v, weight_v, offset_v


def _numeric(used: pd.DataFrame, column: str, what: str) -> np.ndarray:
    series = used[column]
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise StatsInputError(column, f"{what} must be numeric")
    values = series.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise StatsInputError(column, f"{what} must be finite")
    return values


# --------------------------------------------------------------------------- predictions


@dataclass(frozen=True)
class BaselineHazard:
    """Per distinct time of one stratum: hazard increments, variance and x̄ terms (agsurv)."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    hazard: np.ndarray  # increments at the centring covariates
    varhaz: np.ndarray
    xbar: np.ndarray  # (G, p), increments

    @property
    def cumhaz(self) -> np.ndarray:
        """Cumulative baseline hazard at the centring covariates."""
        return np.cumsum(self.hazard)


def baseline_hazard(sweep: Sweep, efron: bool) -> BaselineHazard:
    """Breslow (``ties="breslow"``) or Efron-adjusted (``"efron"``) hazard increments, their
    variance and x̄ terms, as R ``agsurv`` (survtype/vartype 2 or 3) for ``survfit.coxph``.

    Per event time with weighted deaths W and d terms (denominators a_l): hazard W·mean(1/a_l),
    variance W·mean(1/a_l²), x̄ W·mean((S1 − (l/d) D1)/a_l²) — Breslow is the d = 1 case.
    """
    g, p = sweep.time.size, sweep.s1.shape[1]
    hazard, varhaz, xbar = np.zeros(g), np.zeros(g), np.zeros((g, p))
    k, frac, _c, _xbar, starts, n_terms, denom = _efron_terms(sweep, efron)
    if k.size:
        times = k[starts]
        weight = sweep.deadwt[times] / n_terms
        hazard[times] = weight * np.add.reduceat(1.0 / denom, starts)
        varhaz[times] = weight * np.add.reduceat(1.0 / denom**2, starts)
        num = (sweep.s1[k] - frac[:, None] * sweep.d1[k]) / (denom**2)[:, None]
        xbar[times] = weight[:, None] * np.add.reduceat(num, starts, axis=0)
    return BaselineHazard(sweep.time, sweep.nrisk, sweep.deadwt, hazard, varhaz, xbar)


@dataclass(frozen=True)
class SurvivalPrediction:
    """Predicted survival of one covariate vector (R ``survfit(fit, newdata)``)."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    cumhaz: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray  # of the cumulative hazard, as R's std.err
    lower: np.ndarray
    upper: np.ndarray
    conf_type: str
    conf_level: float
    risk: float  # exp((x − centre)·beta), relative to the centring covariates

    def at(self, times: Sequence[float]) -> pd.DataFrame:
        """Survival with CI at ``times`` (step function; 1 before the first time)."""
        req = np.asarray(times, dtype=float)
        idx = np.searchsorted(self.time, req, side="right") - 1
        pick = lambda v, first: np.where(idx >= 0, v[np.maximum(idx, 0)], first)  # noqa: E731
        return pd.DataFrame({"time": req, "surv": pick(self.surv, 1.0),
                             "lower": pick(self.lower, 1.0), "upper": pick(self.upper, 1.0),
                             "cumhaz": pick(self.cumhaz, 0.0)})

    def to_frame(self) -> pd.DataFrame:
        """One row per distinct time."""
        return pd.DataFrame({"time": self.time, "n_risk": self.n_risk, "n_event": self.n_event,
                             "cumhaz": self.cumhaz, "surv": self.surv, "std_err": self.std_err,
                             "lower": self.lower, "upper": self.upper})


def predict_curve(base: BaselineHazard, x_new: np.ndarray, beta: np.ndarray,
                  var: np.ndarray, conf_type: str, conf_level: float) -> SurvivalPrediction:
    """Survival, cumulative hazard and its SE for a centred covariate row (R coxsurv.fit)."""
    from crlm.stats.survival import _confint

    risk = float(np.exp(x_new @ beta))
    cumhaz = base.cumhaz
    dt = np.outer(cumhaz, x_new) - np.cumsum(base.xbar, axis=0)
    varh = (np.cumsum(base.varhaz) + np.einsum("ij,jk,ik->i", dt, var, dt)) * risk**2
    std_err = np.sqrt(varh)
    surv = np.exp(-cumhaz * risk)
    lower, upper = _confint(surv, std_err, conf_type, conf_level)
    return SurvivalPrediction(base.time, base.n_risk, base.n_event, cumhaz * risk, surv,
                              std_err, lower, upper, conf_type, conf_level, risk)


def concordance(data: CountingData, lp: np.ndarray, cluster: np.ndarray | None = None
                ) -> tuple[float, float]:
    """Harrell's C of the linear predictor for (start, stop] rows with case weights, and its
    infinitesimal-jackknife SE — R ``coxph``'s ``fit$concordance`` (``concordancefit`` with
    ``timewt = "n"``, ``reverse = TRUE``).

    A death at t is compared with the rows at risk at t that do not die at t; a pair counts
    w_i·w_j; tied predictors count ½. dfbeta_i = w_i ((c_i − d_i)/N − D/N · (c_i + d_i + t_i))
    with Somers' D and N the weighted number of comparable pairs; Var(C) = Σ dfbeta² / 4
    (summed within clusters first).
    """
    infl = np.zeros((lp.size, 3))
    for code in np.unique(data.strata):
        rows = np.flatnonzero(data.strata == code)
        start, stop = data.start[rows], data.stop[rows]
        event = data.event[rows]
        uniq, rank = np.unique(-lp[rows], return_inverse=True)  # higher rank: longer survival
        death_times = np.unique(stop[event])
        if death_times.size == 0:
            continue
        lower = np.searchsorted(death_times, start, side="right")
        upper = np.where(event, np.searchsorted(death_times, stop, side="left"),
                         np.searchsorted(death_times, stop, side="right"))
        infl[rows] = _kernels.counting_concordance(
            rank.astype(np.int64).ravel(), uniq.size, start, stop, event, data.weight[rows],
            death_times, np.argsort(start, kind="stable"), np.argsort(stop, kind="stable"),
            lower.astype(np.int64), upper.astype(np.int64))
    w = data.weight
    counts = (w[:, None] * infl).sum(axis=0) / 2.0  # each pair is counted for both members
    npair = counts.sum()
    if npair == 0:
        return float("nan"), float("nan")
    somer = (counts[0] - counts[1]) / npair
    dfbeta = w * ((infl[:, 0] - infl[:, 1]) / npair - (somer / npair) * infl.sum(axis=1))
    if cluster is not None:
        dfbeta = np.bincount(cluster, weights=dfbeta)
    return float((somer + 1.0) / 2.0), float(np.sqrt((dfbeta**2).sum() / 4.0))
