"""Cox proportional-hazards regression, numerically matching R ``survival::coxph``.

The partial likelihood, its gradient and information are computed with cumulative sums over
the time-sorted rows of each stratum (O(n p²) per Newton step), with Efron or Breslow handling
of tied event times. Robust (sandwich) variance sums the dfbeta residuals within clusters, as
``coxph(robust=TRUE)`` / ``cluster()`` do, including tied times.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crlm.stats import _dist, _kernels, _linalg
from crlm.stats import defaults as _defaults
from crlm.stats._data import (
    Design,
    DroppedRows,
    StatsInputError,
    complete_cases,
    design_matrix,
    level_label,
    survival_outcome,
)
from crlm.stats.cox_counting import (
    BaselineHazard,
    CountingData,
    CountingModel,
    SurvivalPrediction,
    baseline_hazard,
    counting_arrays,
    newton,
    predict_curve,
    score_residuals,
)
from crlm.stats.cox_counting import (
    concordance as counting_concordance,
)
from crlm.stats.survival import km_survival

Ties = _defaults.Ties


class ConvergenceError(StatsInputError):
    """The Newton–Raphson iterations did not converge (e.g. monotone likelihood)."""


@dataclass
class _Stratum:
    """Time-sorted rows of one stratum with the index arrays of tied-time groups."""

    rows: np.ndarray  # positions in the input arrays, sorted by time (deaths first at ties)
    x: np.ndarray  # (m, p)
    event: np.ndarray  # (m,) bool
    gid: np.ndarray  # (m,) index of the row's distinct time
    first: np.ndarray  # (G,) first sorted position of each distinct time (start of risk set)
    death_pos: np.ndarray  # (d,) sorted positions of the deaths, grouped by time
    death_group: np.ndarray  # (d,) index (0..D-1) of the death's tied-death group
    group_time: np.ndarray  # (D,) distinct-time index of each tied-death group
    group_start: np.ndarray  # (D,) start of each tied-death group within death_pos
    frac: np.ndarray  # (d,) Efron fraction l/d_g (zeros for Breslow)
    death_time: np.ndarray  # (d,) distinct-time index of each death
    group_size: np.ndarray  # (D,) number of deaths in each tied-death group
    x_dead_sum: np.ndarray  # (p,) sum of the covariates over the deaths
    dead_at: np.ndarray  # (G,) number of deaths at each distinct time
    buffer: np.ndarray  # (m, p) scratch for weighted Gram products

    def group_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum per-death values (1-D or rows of 2-D) within tied-death groups."""
        return np.add.reduceat(values, self.group_start, axis=0)

    def per_time(self, per_group: np.ndarray) -> np.ndarray:
        """Per distinct time: the per-death-group values (0 at a time with no death)."""
        out = np.zeros((self.first.size, *per_group.shape[1:]))
        out[self.group_time] = per_group
        return out

    def time_cumsum(self, per_group: np.ndarray) -> np.ndarray:
        """Per row: cumulative sum of per-death-group values over times <= the row's time."""
        return np.cumsum(self.per_time(per_group), axis=0)[self.gid]


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal consecutive values: run index per element and start of each run."""
    new = np.empty(values.size, dtype=bool)
    if values.size:
        new[0] = True
        new[1:] = values[1:] != values[:-1]
    return np.cumsum(new) - 1, np.flatnonzero(new)


def _prepare_stratum(rows: np.ndarray, x: np.ndarray, time: np.ndarray, event: np.ndarray,
                     ties: Ties) -> _Stratum:
    order = _kernels.time_order(time[rows], event[rows])  # deaths before censored at a tie
    rows = rows[order]
    t = time[rows]
    ev = event[rows].astype(bool)
    gid, first = _runs(t)
    death_pos = np.flatnonzero(ev)
    dg_time = gid[death_pos]
    death_group, group_start = _runs(dg_time)
    group_time = dg_time[group_start]
    if ties == "efron":
        sizes = np.diff(np.append(group_start, death_pos.size))
        within = np.arange(death_pos.size) - group_start[death_group]
        frac = within / sizes[death_group]
    else:
        frac = np.zeros(death_pos.size)
    sizes = np.diff(np.append(group_start, death_pos.size))
    # column-major, as the design: each column's sums, scalings and BLAS products run over
    # contiguous memory (a row-major (n, p) array makes numpy loop over rows of p values)
    xs = _kernels.take_rows(x, rows)
    dead_at = np.bincount(gid, weights=ev, minlength=first.size).astype(np.int64)
    return _Stratum(rows, xs, ev, gid, first, death_pos, death_group, group_time,
                    group_start, frac, dg_time, sizes, ev.astype(float) @ xs, dead_at,
                    np.empty_like(xs, order="F"))


def _rev_cumsum(a: np.ndarray) -> np.ndarray:
    return np.cumsum(a[::-1], axis=0)[::-1]


@dataclass
class _StratumTerms:
    """Partial-likelihood terms of one stratum at one beta.

    Per tied-death group (Efron term l of d with fraction f = l/d, denominator a0_l):
    ``s1``/``d1`` are the risk-set and death sums of r·x, and ``c[f^j / a0^k]`` sums of the
    scalars over the group's terms — enough for the score, information and residuals without
    forming any per-death p-vector (xbar_l = (s1 − f d1) / a0_l).
    """

    loglik: float
    score: np.ndarray
    info: np.ndarray
    risk: np.ndarray  # per row, exp(eta − max)
    s1: np.ndarray  # (D, p)
    d1: np.ndarray  # (D, p)
    c1: np.ndarray  # (D,) sum 1/a0
    cf: np.ndarray  # sum f/a0
    c2: np.ndarray  # sum 1/a0²
    cf2: np.ndarray  # sum f/a0²
    cff2: np.ndarray  # sum f²/a0²

    def xbar_sum(self, weight: np.ndarray | None = None) -> np.ndarray:
        """Sum over death terms of w · xbar (w constant within a group)."""
        per_group = self.s1 * self.c1[:, None] - self.d1 * self.cf[:, None]
        return (per_group if weight is None else per_group * weight[:, None]).sum(axis=0)

    def xbar_outer(self, weight: np.ndarray | None = None) -> np.ndarray:
        """Sum over death terms of w · xbar xbar'."""
        w = np.ones(self.c1.size) if weight is None else weight
        cross = (self.s1 * (w * self.cf2)[:, None]).T @ self.d1
        return ((self.s1 * (w * self.c2)[:, None]).T @ self.s1 - cross - cross.T
                + (self.d1 * (w * self.cff2)[:, None]).T @ self.d1)


def _stratum_terms(s: _Stratum, beta: np.ndarray, want_info: bool = True) -> _StratumTerms:
    p = beta.size
    eta = s.x @ beta
    eta_max = eta.max() if eta.size else 0.0
    risk = np.exp(eta - eta_max)  # shift cancels in every term of the partial likelihood
    d = s.death_pos.size
    if d == 0:
        empty = np.empty(0)
        return _StratumTerms(0.0, np.zeros(p), np.zeros((p, p)), risk, np.empty((0, p)),
                             np.empty((0, p)), empty, empty, empty, empty, empty)
    # per distinct time: sums over its deaths and its rows; risk sets by reverse cumsum
    dead0, all0, dead1, all1 = _kernels.time_sums(s.x, risk, s.first, s.dead_at, s.buffer)
    s0 = _rev_cumsum(all0)
    s1 = _rev_cumsum(all1)[s.group_time]
    d1 = dead1[s.group_time]
    log_a0, c1, cf, c2, cf2, cff2 = _kernels.efron_sums(s0, dead0, s.group_time, s.group_start,
                                                        s.frac, s.death_group)
    t = _StratumTerms(
        loglik=float(s.x_dead_sum @ beta - d * eta_max - log_a0),
        score=np.zeros(p), info=np.zeros((p, p)), risk=risk, s1=s1, d1=d1,
        c1=c1, cf=cf, c2=c2, cf2=cf2, cff2=cff2)
    t.score = s.x_dead_sum - t.xbar_sum()
    if want_info:
        t.info = _information(s, t)
    return t


def _information(s: _Stratum, t: _StratumTerms, weight: np.ndarray | None = None
                 ) -> np.ndarray:
    """Sum over the (Efron) death terms of ``w · V``, V the risk-set variance of x.

    ``w`` is per tied-death group. The second-moment part ``sum w a2 / a0`` is rewritten as
    ``X' diag(v) X`` with per-row weights from cumulative sums over time, so no p×p moment
    is formed per time.
    """
    w = np.ones(t.c1.size) if weight is None else weight
    # v = risk · (sum of w/a0 over the death terms up to the row's time, less a death's own
    # Efron share w·f/a0 of its tied group)
    per_time = np.cumsum(s.per_time(w * t.c1))
    return (_kernels.risk_set_gram(s.x, t.risk, s.gid, s.event, per_time,
                                   s.per_time(w * t.cf), s.buffer) - t.xbar_outer(weight))


def _score_residuals(s: _Stratum, t: _StratumTerms) -> np.ndarray:
    """Score residuals (Efron/Breslow as R ``residuals(fit, "score")``), sorted-row order."""
    p = s.x.shape[1]
    if s.death_pos.size == 0:
        return np.zeros((s.x.shape[0], p))
    cum_c = s.time_cumsum(t.c1)
    # per group: sum over terms of xbar/a0
    cum_e = s.time_cumsum(t.s1 * t.c2[:, None] - t.d1 * t.cf2[:, None])
    resid = -t.risk[:, None] * (s.x * cum_c[:, None] - cum_e)
    # deaths: own event term minus the mean of xbar over the tied group, and their
    # Efron-reduced weight (1 - l/d) in the risk sets of their own tied group
    xbar_mean = (t.s1 * t.c1[:, None] - t.d1 * t.cf[:, None]) / s.group_size[:, None]
    h_group = t.s1 * t.cf2[:, None] - t.d1 * t.cff2[:, None]  # sum f xbar / a0
    dpos = s.death_pos
    dgrp = s.death_group
    xd = s.x[dpos]
    resid[dpos] += xd - xbar_mean[dgrp]
    resid[dpos] += t.risk[dpos, None] * (xd * t.cf[dgrp, None] - h_group[dgrp])
    return resid


@dataclass
class _Model:
    strata: list[_Stratum]
    n: int
    p: int

    def evaluate(self, beta: np.ndarray, want_info: bool = True) -> tuple[
            float, np.ndarray, np.ndarray, list[_StratumTerms]]:
        terms = [_stratum_terms(s, beta, want_info) for s in self.strata]
        loglik = sum(t.loglik for t in terms)
        score = np.sum([t.score for t in terms], axis=0) if terms else np.zeros(self.p)
        info = np.sum([t.info for t in terms], axis=0) if terms else np.zeros((self.p, self.p))
        return loglik, score, info, terms


def _build_model(x: np.ndarray, time: np.ndarray, event: np.ndarray,
                 strata_codes: np.ndarray | None, ties: Ties) -> _Model:
    n, p = x.shape
    if strata_codes is None:
        groups = [np.arange(n)]
    else:
        order = np.argsort(strata_codes, kind="stable")
        bounds = np.flatnonzero(np.diff(strata_codes[order])) + 1
        groups = np.split(order, bounds)
    return _Model([_prepare_stratum(r, x, time, event, ties) for r in groups], n, p)


@dataclass
class _Fit:
    beta: np.ndarray
    loglik: float
    info: np.ndarray
    iterations: int
    terms: list[_StratumTerms]
    loglik0: float  # at beta = 0
    score0: np.ndarray
    info0: np.ndarray
    terms0: list[_StratumTerms]
    score: np.ndarray | None = None  # at the solution: R's check for infinite coefficients


def _newton(model: _Model, names: Sequence[str], *, max_iter: int = 50) -> _Fit:
    """Newton–Raphson with step halving from beta = 0 (as R's coxph.fit).

    Converged when the log-likelihood changes by less than 1e-12 (or by less than its
    rounding level, ~1e-15 relative, for very large data) — far tighter than R's default.
    """
    beta = np.zeros(model.p)
    loglik, score, info, terms = model.evaluate(beta)
    start = _Fit(beta, loglik, info, 0, terms, loglik, score, info, terms)
    for iteration in range(1, max_iter + 1):
        try:  # ill-conditioning is judged once, after the fit
            step = _linalg.solve_pd(info, score)
        except (_linalg.LinAlgError, ValueError) as exc:
            raise ConvergenceError(None, f"information matrix is singular ({exc})") from exc
        new_beta = beta + step
        new_loglik, new_score, new_info, new_terms = model.evaluate(new_beta)
        halvings = 0
        # a fall within the log-likelihood's rounding level is no fall: halving on rounding
        # noise near the optimum cost ten extra evaluations at 1M rows
        noise = max(1e-12, 4e-15 * abs(loglik))
        while (not np.isfinite(new_loglik) or new_loglik < loglik - noise) and halvings < 30:
            step /= 2.0
            new_beta = beta + step
            new_loglik, new_score, new_info, new_terms = model.evaluate(new_beta)
            halvings += 1
        change = abs(new_loglik - loglik)
        beta, loglik, score, info, terms = new_beta, new_loglik, new_score, new_info, new_terms
        if change < max(1e-12, 4e-15 * abs(loglik)):
            _check_finite_coefficients(beta, info, names)
            return _Fit(beta, loglik, info, iteration, terms, start.loglik0, start.score0,
                        start.info0, start.terms0, score)
    _check_finite_coefficients(beta, info, names)
    raise ConvergenceError(None, f"Cox model did not converge in {max_iter} iterations")


def _check_finite_coefficients(beta: np.ndarray, info: np.ndarray, names: Sequence[str]
                               ) -> None:
    """Monotone likelihood: a coefficient drifting to ±infinity (R warns "may be infinite")."""
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(np.diag(_linalg.pinv(info)))
    drifting = [n for n, b, e in zip(names, beta, se, strict=True)
                if not np.isfinite(b) or (abs(b) > 10 and (not np.isfinite(e) or abs(b) > 100 * e
                                                           or e > 1e3))]
    if drifting:
        raise ConvergenceError(
            drifting[0],
            "coefficient diverges to infinity (monotone likelihood: the covariate separates "
            "events from non-events); consider Firth-penalised Cox or merging categories",
        )


# R coxph.control: eps (convergence) and toler.inf = sqrt(eps) for "coefficient may be infinite";
# toler.chol for a covariate that carries no information (R's NA coefficient)
R_EPS = 1e-9
R_TOLER_INF = R_EPS**0.5
R_TOLER_CHOL = np.finfo(float).eps ** 0.75


def _inverse_information(info: np.ndarray, names: Sequence[str],
                         terms: Mapping[str, list[str]]) -> np.ndarray:
    """Inverse of the information matrix, or an error naming the first covariate that adds no
    information once the earlier ones are known (R's Cholesky pivot test; R reports NA)."""
    for k in range(info.shape[0]):
        known = info[k, :k] @ _linalg.solve_pd(info[:k, :k], info[:k, k]) if k else 0.0
        pivot = info[k, k] - known
        if not pivot > R_TOLER_CHOL * max(abs(info[k, k]), 1e-300):
            term = next((t for t, cols in terms.items() if names[k] in cols), names[k])
            which = "" if term == names[k] else f"{names[k]} "
            raise ConvergenceError(
                term, f"{which}cannot be estimated: given the other covariates it carries no "
                      "information in these risk sets (R reports its coefficient as NA); drop "
                      "it or merge categories")
    var = _linalg.inv(info)
    return (var + var.T) / 2.0


def _infinite_coefficients(beta: np.ndarray, score: np.ndarray | None, var: np.ndarray,
                           names: Sequence[str]) -> list[str]:
    """Warnings for coefficients still moving at convergence (R: "coefficient may be infinite")."""
    if score is None:
        return []
    step = np.abs(var @ score)
    moving = [n for n, d, b in zip(names, step, beta, strict=True)
              if d > R_EPS and d > R_TOLER_INF * abs(b)]
    if not moving:
        return []
    return ["the fit did not converge: the partial likelihood levels off before the "
            f"coefficient of {', '.join(moving)} settles, so it may be infinite (monotone "
            "likelihood) and its estimate and standard error are not reliable; consider "
            "Firth-penalised Cox"]


@dataclass
class ZphResult:
    """Proportional-hazards test on scaled Schoenfeld residuals (R ``cox.zph``)."""

    table: pd.DataFrame  # index: covariate terms + "GLOBAL"; columns chisq, df, p
    transform: str

    @property
    def violated(self) -> list[str]:
        """Terms with p < 0.05 (excluding GLOBAL)."""
        t = self.table.drop(index="GLOBAL", errors="ignore")
        return [str(k) for k in t.index[t["p"] < 0.05]]


@dataclass
class _PredictionData:
    """What survival predictions need, kept by reference so that fitting pays nothing:
    the centred design, outcome, entry times, weights, offset and strata."""

    x: np.ndarray
    center: np.ndarray  # column means the design was centred on
    time: np.ndarray
    event: np.ndarray
    strata: pd.Series | None
    strata_codes: np.ndarray | None
    beta: np.ndarray
    efron: bool
    start: np.ndarray | None = None  # None: no entry time
    weight: np.ndarray | None = None  # None: all 1
    offset: np.ndarray | None = None  # None: all 0
    _cache: dict[str, BaselineHazard] | None = None

    @property
    def data(self) -> CountingData:
        """The fit's rows as counting-process arrays."""
        n = self.time.size
        codes = np.zeros(n, dtype=np.int64) if self.strata_codes is None else self.strata_codes
        return CountingData(self.x, np.full(n, -np.inf) if self.start is None else self.start,
                            self.time, self.event.astype(bool),
                            np.ones(n) if self.weight is None else self.weight,
                            np.zeros(n) if self.offset is None else self.offset, codes)

    def baselines(self) -> dict[str, BaselineHazard]:
        """Baseline hazard (at ``center``) per stratum label (``"all"`` without strata)."""
        if self._cache is None:
            labels = (["all"] if self.strata is None
                      else [level_label(v) for v in pd.factorize(self.strata, sort=True)[1]])
            model = CountingModel(self.data, "efron" if self.efron else "breslow")
            self._cache = {label: baseline_hazard(sweep, self.efron)
                           for label, sweep in zip(labels, model.sweeps(self.beta), strict=True)}
        return self._cache

    @property
    def means(self) -> np.ndarray:
        """R's centring (``fit$means``: column means, 0 for 0/1 columns), relative to
        ``center`` — computed on demand so that fitting pays nothing for it."""
        raw = self.x + self.center
        binary = np.all(np.isclose(raw, 0.0, atol=1e-9) | np.isclose(raw, 1.0, atol=1e-9),
                        axis=0)
        # coxph.fit (no entry time) weights the means by the case weights; agreg.fit does not
        mean = (self.center if self.start is not None or self.weight is None
                else self.weight @ raw / self.weight.sum())
        return np.where(binary, 0.0, mean) - self.center


def _design_row(fit: CoxResult, covariates: Mapping[str, object]) -> np.ndarray:
    """The design row of one covariate vector, columns as ``fit.names``."""
    row = np.zeros(len(fit.names))
    position = {name: i for i, name in enumerate(fit.names)}
    for term, cols in fit.terms.items():
        if term not in covariates:
            raise StatsInputError(term, "value needed for the prediction")
        value = covariates[term]
        if term in fit.references:
            label = level_label(value)
            known = [fit.references[term]] + [c[len(term) + 1:-1] for c in cols]
            if label not in known:
                raise StatsInputError(term, f"level {label} not among " + ", ".join(known))
            if label != fit.references[term]:
                row[position[f"{term}[{label}]"]] = 1.0
        else:
            try:
                row[position[cols[0]]] = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError) as exc:
                raise StatsInputError(term, f"{value!r} is not a number") from exc
    return row


def design_rows(fit: CoxResult, df: pd.DataFrame) -> np.ndarray:
    """The fit's design matrix for the rows of ``df`` (columns as ``fit.names``, not centred);
    a level the fit did not see, or a missing value, is an input error naming the column."""
    out = np.zeros((len(df), len(fit.names)))
    position = {name: i for i, name in enumerate(fit.names)}
    for term, cols in fit.terms.items():
        if term not in df.columns:
            raise StatsInputError(term, "column not found in the data")
        series = df[term]
        if series.isna().any():
            raise StatsInputError(term, f"missing values ({int(series.isna().sum())} rows)")
        if term in fit.references:
            labels = series.map(level_label)
            known = {fit.references[term], *(c[len(term) + 1:-1] for c in cols)}
            unknown = sorted(set(labels) - known)
            if unknown:
                raise StatsInputError(term, f"level {unknown[0]} not among "
                                      + ", ".join(sorted(known)))
            for c in cols:
                out[:, position[c]] = (labels == c[len(term) + 1:-1]).to_numpy(dtype=float)
        else:
            out[:, position[cols[0]]] = pd.to_numeric(series, errors="raise").to_numpy(float)
    return out


@dataclass
class CoxResult:
    """A fitted Cox model. ``se`` is robust when the fit was robust (as R's ``fit$var``)."""

    names: list[str]
    coef: np.ndarray
    var: np.ndarray
    naive_var: np.ndarray
    robust: bool
    loglik: float
    loglik_null: float
    score_test: float
    n: int
    events: int
    iterations: int
    ties: str
    dropped: DroppedRows
    terms: dict[str, list[str]]
    references: dict[str, str]
    strata: str | None = None
    cluster: str | None = None
    robust_score_test: float | None = None
    start: str | None = None
    weights: str | None = None
    offset: str | None = None
    zph: ZphResult | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)  # e.g. did not converge
    _model: _Model | None = field(default=None, repr=False)
    _time: np.ndarray | None = field(default=None, repr=False)
    _event: np.ndarray | None = field(default=None, repr=False)
    _linear_predictor: np.ndarray | None = field(default=None, repr=False)
    _strata_codes: np.ndarray | None = field(default=None, repr=False)
    _cluster_codes: np.ndarray | None = field(default=None, repr=False)
    _concordance: tuple[float, float] | None = field(default=None, repr=False)
    _prediction: _PredictionData | None = field(default=None, repr=False)

    def _harrell(self) -> tuple[float, float]:
        if self._concordance is None:
            if self._time is None or self._event is None or self._linear_predictor is None:
                return float("nan"), float("nan")
            if self._model is None:
                self._concordance = concordance(
                    self._time, self._event, self._linear_predictor,
                    strata=self._strata_codes, reverse=True, cluster=self._cluster_codes)
            else:  # the fit's strata are already in time order: no second sort by time
                # the counts stay in the strata's time order (C and its SE are sums over
                # rows, clusters included): the clusters follow them, not the other way
                strata = self._model.strata
                infl = np.concatenate([
                    _sorted_influence(s.event, (s.first + s.dead_at)[s.gid],
                                      -self._linear_predictor[s.rows]) for s in strata])
                cluster = (None if self._cluster_codes is None else
                           np.concatenate([self._cluster_codes[s.rows] for s in strata]))
                self._concordance = _concordance_estimate(infl, cluster)
        return self._concordance

    @property
    def concordance(self) -> float:
        """Harrell's C of the linear predictor within strata (R ``fit$concordance``).

        Computed on first access (O(n log n)), so fits that do not report it skip the cost.
        """
        return self._harrell()[0]

    @property
    def concordance_se(self) -> float:
        """Infinitesimal-jackknife SE of C (clustered when the fit has a cluster), as R."""
        return self._harrell()[1]

    def ph_test(self, *, warn: bool = True) -> ZphResult:
        """Proportional-hazards test as R ``cox.zph(fit, transform="km")``; stored in ``zph``.

        Issues a :class:`UserWarning` naming the terms with p < 0.05 when ``warn``.
        """
        if self._model is None or self._time is None or self._event is None:
            raise ValueError("this result holds no model data for the PH test")
        self.zph = _cox_zph(self._model, self.coef, self._time, self._event, self.terms,
                            self.names)
        if warn and self.zph.violated:
            warnings.warn(
                "proportional-hazards assumption questionable (cox.zph p < 0.05) for: "
                + ", ".join(self.zph.violated),
                UserWarning,
                stacklevel=2,
            )
        return self.zph

    @property
    def se(self) -> np.ndarray:
        """Standard errors used for CI and p (robust when robust)."""
        return np.sqrt(np.diag(self.var))

    @property
    def naive_se(self) -> np.ndarray:
        """Model-based standard errors (inverse information)."""
        return np.sqrt(np.diag(self.naive_var))

    @property
    def hr(self) -> np.ndarray:
        """Hazard ratios exp(coef)."""
        return np.exp(self.coef)

    @property
    def z(self) -> np.ndarray:
        """Wald z statistics."""
        return self.coef / self.se

    @property
    def p(self) -> np.ndarray:
        """Two-sided Wald p-values."""
        return 2.0 * _dist.norm_sf(np.abs(self.z))

    def ci(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Confidence interval of the hazard ratios."""
        q = _dist.norm_ppf(0.5 + level / 2.0)
        with np.errstate(over="ignore"):  # an unbounded interval ends at infinity
            return np.exp(self.coef - q * self.se), np.exp(self.coef + q * self.se)

    @property
    def df(self) -> int:
        """Number of coefficients."""
        return len(self.names)

    @property
    def lr_test(self) -> tuple[float, int, float]:
        """Likelihood-ratio test (statistic, df, p)."""
        stat = 2.0 * (self.loglik - self.loglik_null)
        return stat, self.df, float(_dist.chi2_sf(stat, self.df))

    @property
    def wald_test(self) -> tuple[float, int, float]:
        """Wald test of all coefficients (uses the robust variance when robust, as R)."""
        stat = float(self.coef @ _linalg.solve(self.var, self.coef))
        return stat, self.df, float(_dist.chi2_sf(stat, self.df))

    @property
    def robust_score(self) -> tuple[float, int, float] | None:
        """Robust score test at beta = 0 (R ``summary(fit)$robscore``), when robust."""
        if self.robust_score_test is None:
            return None
        stat = self.robust_score_test
        return stat, self.df, float(_dist.chi2_sf(stat, self.df))

    @property
    def score_logrank_test(self) -> tuple[float, int, float]:
        """Score (log-rank) test at beta = 0."""
        return self.score_test, self.df, float(_dist.chi2_sf(self.score_test, self.df))

    def baseline_hazard(self, *, centered: bool = True) -> pd.DataFrame:
        """Cumulative baseline hazard per stratum (R ``basehaz(fit, centered=)``).

        ``centered=True`` is the hazard at R's centring covariates (column means, 0 for 0/1
        columns); ``False`` at all covariates 0. Breslow or Efron-adjusted as the fit's ties.
        """
        pred = self._prediction_data()
        at = pred.means if centered else -pred.center
        frames = []
        for level, base in pred.baselines().items():
            shift = float(np.exp(at @ self.coef))
            frames.append(pd.DataFrame({"time": base.time, "hazard": base.cumhaz * shift,
                                        "strata": level}))
        out = pd.concat(frames, ignore_index=True)
        return out if self.strata is not None else out.drop(columns="strata")

    def predict_survival(self, covariates: Mapping[str, object], *, conf_type: str = "log",
                         conf_level: float = 0.95, stratum: object | None = None
                         ) -> SurvivalPrediction:
        """Survival curve with CI for one covariate vector (R ``survfit(fit, newdata=)``).

        ``covariates`` maps each covariate to its value (a level for categorical ones);
        ``stratum`` picks the stratum of a stratified fit. The SE includes the uncertainty of
        the coefficients (R's default ``se.fit=TRUE``); the CI is on the ``conf_type`` scale.
        """
        from crlm.stats.survival import CONF_TYPES

        if conf_type not in CONF_TYPES:
            raise StatsInputError(None, f"conf_type must be one of {CONF_TYPES}")
        if self.offset is not None:
            raise StatsInputError(self.offset, "prediction from a fit with an offset is not "
                                  "available")
        pred = self._prediction_data()
        row = _design_row(self, covariates) - pred.center
        bases = pred.baselines()
        if self.strata is None:
            base = bases["all"]
        else:
            key = None if stratum is None else level_label(stratum)
            if key not in bases:
                raise StatsInputError(self.strata, "stratum must be one of "
                                      + ", ".join(bases))
            base = bases[key]
        return predict_curve(base, row, self.coef, self.var, conf_type, conf_level)

    def predict_risk(self, df: pd.DataFrame, times: Sequence[float]) -> np.ndarray:
        """Predicted risk 1 − S(t | x) of every row of ``df`` at ``times`` (n × len(times)),
        from the Breslow/Efron baseline hazard as ``survfit.coxph`` (R ``predictRisk``)."""
        if self.strata is not None or self.offset is not None:
            raise StatsInputError(self.strata or self.offset, "risk prediction for every row "
                                  "is available for unstratified fits without an offset")
        pred = self._prediction_data()
        base = pred.baselines()["all"]
        idx = np.searchsorted(base.time, np.asarray(times, dtype=float), side="right") - 1
        cumhaz = np.where(idx >= 0, base.cumhaz[np.maximum(idx, 0)], 0.0)
        risk = np.exp((design_rows(self, df) - pred.center) @ self.coef)
        return 1.0 - np.exp(-np.outer(risk, cumhaz))

    def linear_predictor(self, df: pd.DataFrame) -> np.ndarray:
        """x·beta for the rows of ``df``, centred as R's ``predict(fit, newdata, type="lp")``
        (on ``fit$means``: column means, 0 for 0/1 columns); equal rows give equal values."""
        pred = self._prediction_data()
        # one product per distinct covariate pattern: equal rows get bit-equal predictors,
        # so they tie in a concordance as they do in R
        x = design_rows(self, df)
        return _tie_exact_lp(x - pred.center - pred.means, np.zeros(len(x)), self.coef)

    def _prediction_data(self) -> _PredictionData:
        if self._prediction is None:
            raise ValueError("this result holds no model data for predictions")
        return self._prediction

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """One row per coefficient: coef, se, (robust_se, naive_se), hr, lower95, upper95, z, p."""
        lo, hi = self.ci(level)
        data: dict[str, np.ndarray] = {"coef": self.coef, "se": self.se}
        if self.robust:
            data["naive_se"] = self.naive_se
        data.update({"hr": self.hr, "lower95": lo, "upper95": hi, "z": self.z, "p": self.p})
        return pd.DataFrame(data, index=pd.Index(self.names, name="term"))

    def to_dict(self) -> dict[str, object]:
        """JSON shape of the CLI contract (DESIGN.md), plus global tests and the drop report."""
        frame = self.to_frame()
        coefs = {
            name: {k: float(row[k]) for k in ("coef", "se", "hr", "lower95", "upper95", "p")}
            | ({"naive_se": float(row["naive_se"])} if self.robust else {})
            for name, row in frame.iterrows()
        }

        def test(t: tuple[float, int, float]) -> dict[str, float]:
            return {"statistic": t[0], "df": t[1], "p": t[2]}

        out: dict[str, object] = {
            "n": self.n,
            "events": self.events,
            "loglik": self.loglik,
            "loglik_null": self.loglik_null,
            "concordance": self.concordance,
            "concordance_se": self.concordance_se,
            "ties": self.ties,
            "robust": self.robust,
            "strata": self.strata,
            "cluster": self.cluster,
            "references": self.references,
            "coefficients": coefs,
            "tests": {
                "likelihood_ratio": test(self.lr_test),
                "wald": test(self.wald_test),
                "score": test(self.score_logrank_test),
            }
            | ({"robust_score": test(rs)} if (rs := self.robust_score) else {}),
            "dropped": self.dropped.to_dict(),
            "warnings": list(self.warnings),
        }
        for key, column in (("start", self.start), ("weights", self.weights),
                            ("offset", self.offset)):
            if column is not None:
                out[key] = column
        if self.zph is not None:
            out["ph_test"] = {
                str(k): {"chisq": float(r["chisq"]), "df": int(r["df"]), "p": float(r["p"])}
                for k, r in self.zph.table.iterrows()
            }
            out["ph_violated"] = self.zph.violated
        return out


def _codes(series: pd.Series) -> np.ndarray:
    return pd.factorize(series, sort=True)[0].astype(np.int64)


def cox_ph(
    df: pd.DataFrame,
    time: str,
    event: str,
    covariates: Sequence[str],
    *,
    ties: Ties = "efron",
    strata: str | None = None,
    robust: bool = False,
    cluster: str | None = None,
    reference: Mapping[str, object] | None = None,
    categorical: Sequence[str] = (),
    ph_test: bool = False,
    start: str | None = None,
    weights: str | None = None,
    offset: str | None = None,
) -> CoxResult:
    """Fit a Cox model of ``Surv(time, event) ~ covariates (+ strata(strata))``.

    ``start`` makes the outcome ``Surv(start, time, event)``: each row is at risk on
    (start, time] (late entry, time-varying covariates as several rows per patient);
    ``weights`` are case weights (non-integer weights make the robust variance the default,
    as in R), ``offset`` a column added to the linear predictor with coefficient 1 (R
    ``offset()``). These three use the counting-process path of
    :mod:`crlm.stats.cox_counting` (weighted (start, stop] concordance as R; no PH test).

    ``cluster`` implies ``robust``. Categorical covariates (text, boolean, listed in
    ``categorical`` or given a ``reference`` level) expand to ``name[level]`` indicators.
    Rows with a missing value in any column used are dropped and reported in
    ``result.dropped``. ``ph_test`` runs :meth:`CoxResult.ph_test` (cox.zph,
    with a warning when a term has p < 0.05).
    """
    if ties not in ("efron", "breslow"):
        raise StatsInputError(None, f"ties must be 'efron' or 'breslow', not {ties!r}")
    covariates = list(covariates)
    if not covariates:
        raise StatsInputError(None, "at least one covariate is needed")
    extra = [c for c in (strata, cluster, start, weights, offset) if c is not None]
    used, dropped = complete_cases(df, [time, event, *covariates, *extra])
    if len(used) == 0:
        raise StatsInputError(None, "no complete rows: " + dropped.describe())
    t, e = survival_outcome(used, time, event)
    if e.sum() == 0:
        raise StatsInputError(event, "no events among the complete rows")
    design = design_matrix(used, covariates, reference, categorical)
    x_centered = design.matrix  # built for this fit: centred in place
    center = x_centered.mean(axis=0)
    x_centered -= center
    strata_codes = _codes(used[strata]) if strata is not None else None
    if start is not None or weights is not None or offset is not None:
        return _cox_counting(used, t, e, design, center, strata_codes, ties, dropped, strata,
                             robust, cluster, ph_test, start, weights, offset)
    model = _build_model(x_centered, t, e, strata_codes, ties)
    fit = _newton(model, design.names)
    beta, loglik, info, terms = fit.beta, fit.loglik, fit.info, fit.terms
    naive_var = _inverse_information(info, design.names, design.terms)
    fit_warnings = _infinite_coefficients(beta, fit.score, naive_var, design.names)
    for message in fit_warnings:
        warnings.warn(message, UserWarning, stacklevel=2)
    score_stat = float(fit.score0 @ _linalg.solve_pd(fit.info0, fit.score0))

    robust = robust or cluster is not None
    var = naive_var
    robust_score = None
    cl = _codes(used[cluster]) if cluster is not None else None
    if robust:
        dfbeta = _by_cluster(_residuals_input_order(model, terms) @ naive_var, cl)
        var = dfbeta.T @ dfbeta
        # robust score test at beta = 0 (R's fit$rscore)
        resid0 = _by_cluster(_residuals_input_order(model, fit.terms0), cl)
        u = resid0.sum(axis=0)
        robust_score = float(u @ _linalg.solve(resid0.T @ resid0, u))
    result = CoxResult(
        names=design.names,
        coef=beta,
        var=var,
        naive_var=naive_var,
        robust=robust,
        loglik=loglik,
        loglik_null=fit.loglik0,
        score_test=score_stat,
        n=len(used),
        events=int(e.sum()),
        iterations=fit.iterations,
        ties=ties,
        dropped=dropped,
        terms=design.terms,
        references=design.references,
        strata=strata,
        cluster=cluster,
        robust_score_test=robust_score,
        _model=model,
        _time=t,
        _event=e,
        _linear_predictor=linear_predictor(x_centered, beta),
        _strata_codes=strata_codes,
        _cluster_codes=cl,
        warnings=fit_warnings,
    )
    result._prediction = _PredictionData(
        x_centered, center, t, e, used[strata] if strata else None, strata_codes, beta,
        ties == "efron")
    if ph_test:
        result.ph_test()
    return result


def linear_predictor(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``x @ beta`` accumulated column by column, as R's reference BLAS does.

    Every row sees the same operations in the same order, so identical covariate rows get
    bit-identical predictors and count as tied in Harrell's C, as in R. A BLAS matrix-vector
    product may sum rows in different SIMD lanes and split such ties by an ulp.
    """
    out = np.zeros(x.shape[0])
    term = np.empty_like(out)
    for k in range(x.shape[1]):
        np.multiply(x[:, k], beta[k], out=term)
        out += term
    return out


def _cox_counting(used: pd.DataFrame, t: np.ndarray, e: np.ndarray, design: Design,
                  center: np.ndarray, strata_codes: np.ndarray | None, ties: Ties,
                  dropped: DroppedRows, strata: str | None, robust: bool,
                  cluster: str | None, ph_test: bool,
                  start: str | None, weights: str | None, offset: str | None) -> CoxResult:
    """The counting-process / weighted / offset fit (R ``agreg.fit``)."""
    if ph_test:
        raise StatsInputError(None, "the PH test is not available with an entry time, case "
                              "weights or an offset")
    start_v, weight_v, offset_v = counting_arrays(used, t, start, weights, offset)
    codes = np.zeros(len(t), dtype=np.int64) if strata_codes is None else strata_codes
    data = CountingData(design.matrix, start_v, t, e.astype(bool), weight_v, offset_v, codes)
    model = CountingModel(data, ties)
    def diverging(beta: np.ndarray, info: np.ndarray) -> None:
        _check_finite_coefficients(beta, info, design.names)

    fit = newton(model, len(design.names), check=diverging)
    diverging(fit.beta, fit.info)
    naive_var = _linalg.inv(fit.info)
    naive_var = (naive_var + naive_var.T) / 2.0
    score_stat = float(fit.score0 @ _linalg.solve_pd(fit.info0, fit.score0))
    # as R: the robust variance is the default with non-integer case weights
    robust = robust or cluster is not None or bool(np.any(weight_v != np.floor(weight_v)))
    var, robust_score = naive_var, None
    cl = _codes(used[cluster]) if cluster is not None else None
    if robust:
        dfbeta = _by_cluster(score_residuals(model, fit.beta) * weight_v[:, None] @ naive_var,
                             cl)
        var = dfbeta.T @ dfbeta
        resid0 = _by_cluster(score_residuals(model, np.zeros(fit.beta.size))
                             * weight_v[:, None], cl)
        u = resid0.sum(axis=0)
        robust_score = float(u @ _linalg.solve(resid0.T @ resid0, u))
    result = CoxResult(
        names=design.names, coef=fit.beta, var=var, naive_var=naive_var, robust=robust,
        loglik=fit.loglik, loglik_null=fit.loglik0, score_test=score_stat, n=len(used),
        events=int(e.sum()), iterations=fit.iterations, ties=ties, dropped=dropped,
        terms=design.terms, references=design.references, strata=strata, cluster=cluster,
        robust_score_test=robust_score, start=start, weights=weights, offset=offset,
        _concordance=counting_concordance(data, _tie_exact_lp(design.matrix, offset_v,
                                                              fit.beta), cl))
    result._prediction = _PredictionData(
        design.matrix, center, t, e, used[strata] if strata else None, strata_codes, fit.beta,
        ties == "efron", start_v if start is not None else None,
        weight_v if weights is not None else None, offset_v)
    return result


def _tie_exact_lp(x: np.ndarray, offset: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """x·beta + offset computed once per distinct row, so equal rows tie exactly (as R)."""
    rows = pd.DataFrame(np.column_stack((x, offset)))
    codes = rows.groupby(list(rows.columns), sort=False).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]  # one representative row per pattern
    unique = rows.to_numpy()[first]
    return (unique[:, :-1] @ beta + unique[:, -1])[codes]


def _by_cluster(values: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Sum the rows of ``values`` within clusters (identity without clusters)."""
    if cluster is None:
        return values
    summed = np.zeros((int(cluster.max()) + 1, values.shape[1]))
    np.add.at(summed, cluster, values)
    return summed


def _residuals_input_order(model: _Model, terms: list[_StratumTerms]) -> np.ndarray:
    out = np.zeros((model.n, model.p))
    for s, t in zip(model.strata, terms, strict=True):
        out[s.rows] = _score_residuals(s, t)
    return out


# --------------------------------------------------------------------------- concordance


def concordance(
    time: np.ndarray,
    event: np.ndarray,
    score: np.ndarray,
    *,
    strata: np.ndarray | None = None,
    reverse: bool = False,
    cluster: np.ndarray | None = None,
) -> tuple[float, float]:
    """Harrell's C with R ``concordancefit``'s infinitesimal-jackknife standard error.

    A pair is comparable when the shorter time is an event (a censored time equal to an event
    time counts as longer; tied event times are not comparable). Ties in ``score`` count 1/2.
    ``reverse=True`` means a higher score predicts a shorter time (Cox linear predictor).
    With ``cluster`` the influence terms are summed within clusters before squaring.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    score = np.asarray(score, dtype=float)
    if reverse:
        score = -score
    n = time.size
    strata = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata)
    infl = np.zeros((n, 3))  # concordant, discordant, tied.x per observation
    for code in np.unique(strata):
        idx = np.flatnonzero(strata == code)
        infl[idx] = _concordance_influence(time[idx], event[idx], score[idx])
    return _concordance_estimate(infl, cluster)


def _concordance_estimate(infl: np.ndarray, cluster: np.ndarray | None) -> tuple[float, float]:
    """C and its infinitesimal-jackknife SE from per-observation pair counts."""
    c, dfbeta = concordance_dfbeta(infl)
    if np.isnan(c):
        return float("nan"), float("nan")
    if cluster is not None:
        dfbeta = np.bincount(pd.factorize(np.asarray(cluster))[0], weights=dfbeta)
    var = float(dfbeta @ dfbeta) / 4.0
    return c, float(np.sqrt(var))


def concordance_dfbeta(infl: np.ndarray) -> tuple[float, np.ndarray]:
    """Harrell's C and the per-observation influence of Somers' d (R ``concordancefit``).

    ``infl`` holds per-observation concordant, discordant and tied counts; Var(C) is
    ``sum(dfbeta²) / 4`` and Cov(C₁, C₂) is ``sum(dfbeta₁ · dfbeta₂) / 4``.
    """
    counts = infl.sum(axis=0) / 2.0  # each pair is counted for both members
    npair = counts.sum()
    if npair == 0:
        return float("nan"), np.zeros(infl.shape[0])
    somer = (counts[0] - counts[1]) / npair
    concordant, discordant, tied = infl[:, 0], infl[:, 1], infl[:, 2]
    pairs = concordant + discordant
    pairs += tied
    dfbeta = concordant - discordant  # (con − dis − somer · pairs) / npair, in place
    dfbeta -= somer * pairs
    dfbeta /= npair
    return float((somer + 1.0) / 2.0), dfbeta


def _concordance_influence(time: np.ndarray, event: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Per-observation counts of concordant, discordant and score-tied comparable pairs."""
    n = time.size
    order = _kernels.time_order(time, event)  # time ascending, deaths first at ties
    t = time[order]
    ev = event[order]
    # comparable set of a death: after the deaths tied with it (censored rows at the same
    # time sort after the deaths and are comparable, as in R)
    first_at = np.searchsorted(t, t, side="left")
    dead_cum = np.concatenate(([0], np.cumsum(ev)))
    block_end = first_at + dead_cum[np.searchsorted(t, t, side="right")] - dead_cum[first_at]
    result = np.zeros((n, 3))
    result[order] = _sorted_influence(ev, block_end, score[order])
    return result


def _sorted_influence(event: np.ndarray, block_end: np.ndarray, score: np.ndarray
                      ) -> np.ndarray:
    """Pair counts per row of time-sorted rows (deaths first at a tie), ``block_end[i]`` the
    first position after the deaths tied with row i."""
    uniq, rank = np.unique(score, return_inverse=True)
    return _kernels.concordance_counts(rank.astype(np.int64, copy=False), event,
                                       block_end.astype(np.int64, copy=False), uniq.size)


# --------------------------------------------------------------------------- cox.zph


def _cox_zph(model: _Model, beta: np.ndarray, time: np.ndarray, event: np.ndarray,
             terms: Mapping[str, list[str]], names: list[str]) -> ZphResult:
    """Score test of ``gamma = 0`` in ``beta' x + gamma' x g(t)`` at the fitted beta (cox.zph).

    g(t) = 1 − KM(t−) of the whole sample, centred on its mean over the events; the score
    and the 2p × 2p information are summed over the (Efron) death terms as R's ``zph1``.
    """
    p = beta.size
    km_time, km_surv = km_survival(time, event)
    idx = np.searchsorted(km_time, time, side="left")  # number of distinct times < t
    ttimes = 1.0 - np.concatenate(([1.0], km_surv))[idx]
    gtime = ttimes - ttimes[event.astype(bool)].mean()
    u = np.zeros(p)
    imat = np.zeros((2 * p, 2 * p))
    for stratum, st in zip(model.strata, model.evaluate(beta)[3], strict=True):
        if stratum.death_pos.size == 0:
            continue
        # g(t) per tied-death group (every death of a group has the same time)
        g = gtime[stratum.rows[stratum.death_pos[stratum.group_start]]]
        u += (g[stratum.death_group, None] * stratum.x[stratum.death_pos]).sum(axis=0)
        u -= st.xbar_sum(g)
        imat[:p, :p] += _information(stratum, st)
        cross = _information(stratum, st, g)
        imat[:p, p:] += cross
        imat[p:, :p] += cross
        imat[p:, p:] += _information(stratum, st, g * g)
    full_u = np.concatenate((np.zeros(p), u))
    rows = []
    position = {name: i for i, name in enumerate(names)}
    for term, cols in terms.items():
        jj = [position[c] for c in cols]
        kk = list(range(p)) + [p + j for j in jj]
        sub_u = full_u[kk]
        stat = float(sub_u @ _linalg.solve(imat[np.ix_(kk, kk)], sub_u))
        rows.append((term, stat, len(jj)))
    stat = float(full_u @ _linalg.solve(imat, full_u))
    rows.append(("GLOBAL", stat, p))
    table = pd.DataFrame(rows, columns=["term", "chisq", "df"]).set_index("term")
    table["p"] = _dist.chi2_sf(table["chisq"], table["df"])
    return ZphResult(table=table, transform="km")
