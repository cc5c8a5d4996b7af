"""Validating a prognostic score on one's own cohort (e.g. GAME vs Fong, as AHPBA guideline 2025
reports).

* :func:`harrell_c` — Harrell's C with R ``concordance``'s infinitesimal-jackknife 95 % CI.
* :func:`compare_scores` — two scores on the same patients: both C's, their difference and its
  CI/p from the joint influence (as R ``concordance(fit1, fit2)``).
* :func:`time_dependent_auc` — cumulative/dynamic AUC at a horizon with IPCW (Uno 2007).
* :func:`calibration_by_group` — observed KM survival at a horizon per risk group beside the
  published expectation.
* :func:`cox_brier` / :func:`brier_score` / :func:`integrated_brier` — IPCW Brier score and
  integrated Brier score (Kaplan–Meier censoring model, as riskRegression ``Score``).
* :func:`calibration_slope` — Cox calibration slope of a model's linear predictor on new data.
* :func:`optimism_corrected_c` — Harrell's bootstrap optimism-corrected C (seeded).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from crlm.stats._data import StatsInputError, complete_cases, survival_outcome
from crlm.stats.cox import _concordance_influence, concordance_dfbeta
from crlm.stats.defaults import BOOTSTRAP_DRAWS, BOOTSTRAP_SEED
from crlm.stats.survival import censoring_survival, kaplan_meier, km_curve, km_survival

Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Concordance:
    c: float
    se: float
    n: int
    events: int

    @property
    def lower95(self) -> float:
        return self.c - Z95 * self.se

    @property
    def upper95(self) -> float:
        return self.c + Z95 * self.se


def _prepare(df: pd.DataFrame, time: str, event: str, scores: list[str]
             ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], int]:
    used, dropped = complete_cases(df, [time, event, *scores])
    t, e = survival_outcome(used, time, event)
    values = []
    for s in scores:
        v = pd.to_numeric(used[s], errors="coerce")
        if v.isna().any():
            raise StatsInputError(s, "score must be numeric")
        values.append(v.to_numpy(float))
    return t, e, values, dropped.n_used


def _infl(t: np.ndarray, e: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray]:
    # a higher score predicts a shorter survival: negate, as R's reverse=TRUE
    return concordance_dfbeta(_concordance_influence(t, e.astype(bool), -score))


def harrell_c(df: pd.DataFrame, time: str, event: str, score: str) -> Concordance:
    """Harrell's C of ``score`` (higher = worse prognosis) with its standard error."""
    t, e, (s,), n = _prepare(df, time, event, [score])
    c, dfb = _infl(t, e, s)
    return Concordance(c, float(np.sqrt((dfb**2).sum() / 4.0)), n, int(e.sum()))


@dataclass(frozen=True)
class ScoreComparison:
    first: Concordance
    second: Concordance
    difference: float
    se: float
    p: float

    @property
    def lower95(self) -> float:
        return self.difference - Z95 * self.se

    @property
    def upper95(self) -> float:
        return self.difference + Z95 * self.se


def compare_scores(df: pd.DataFrame, time: str, event: str, first: str, second: str
                   ) -> ScoreComparison:
    """C of two scores on the same complete cases and the test of their difference."""
    t, e, (a, b), n = _prepare(df, time, event, [first, second])
    ca, da = _infl(t, e, a)
    cb, db = _infl(t, e, b)
    va, vb, cov = (da**2).sum() / 4, (db**2).sum() / 4, (da * db).sum() / 4
    se = float(np.sqrt(max(va + vb - 2 * cov, 0.0)))
    diff = ca - cb
    p = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else float("nan")
    events = int(e.sum())
    return ScoreComparison(Concordance(ca, float(np.sqrt(va)), n, events),
                           Concordance(cb, float(np.sqrt(vb)), n, events), diff, se, p)


def time_dependent_auc(df: pd.DataFrame, time: str, event: str, score: str, horizon: float
                       ) -> float:
    """Cumulative/dynamic AUC(τ) with inverse-probability-of-censoring weights (Uno 2007).

    Cases: event by τ, weighted 1/G(Tᵢ−); controls: still event-free after τ, weighted 1/G(τ);
    score ties count ½. G is the Kaplan–Meier estimate of the censoring distribution with, at a
    time that has both, the events before the censorings (so a censoring's risk set leaves out
    the deaths at its time), as ``prodlim(reverse = TRUE)``: the convention of
    ``riskRegression::Score(metrics = "auc", cens.model = "km")``, which this matches.
    """
    t, e, (s,), _n = _prepare(df, time, event, [score])
    if horizon <= 0:
        raise StatsInputError(None, "horizon must be > 0")
    g_times, g_surv = censoring_survival(t, e, events_first=True)

    def g(at: np.ndarray, left: bool) -> np.ndarray:
        idx = np.searchsorted(g_times, at, side="left" if left else "right") - 1
        return np.concatenate([[1.0], g_surv])[idx + 1]

    cases = (t <= horizon) & (e == 1)
    controls = t > horizon
    if not cases.any() or not controls.any():
        raise StatsInputError(None, f"no cases or no controls at horizon {horizon:g}")
    w_case = 1.0 / g(t[cases], left=True)
    w_ctrl = 1.0 / float(g(np.array([horizon]), left=False)[0])
    ctrl = np.sort(s[controls])
    less = np.searchsorted(ctrl, s[cases], side="left")
    leq = np.searchsorted(ctrl, s[cases], side="right")
    wins = less + 0.5 * (leq - less)
    return float((w_case * wins * w_ctrl).sum() / (w_case.sum() * w_ctrl * ctrl.size))


def calibration_by_group(
    df: pd.DataFrame, time: str, event: str, group: str, horizon: float,
    expected: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Observed KM survival at ``horizon`` (95 % CI) per risk group, beside expected values."""
    km = kaplan_meier(df, time, event, group)
    at = km.risk_table([horizon]).set_index("group")
    out = pd.DataFrame({
        "n": [km.groups[g].n for g in at.index],
        "observed": at["surv"], "lower95": at["lower"], "upper95": at["upper"],
        "n_risk": at["n_risk"],
    }, index=at.index)
    if expected is not None:
        out["expected"] = [expected.get(str(g), np.nan) for g in out.index]
        out["observed_minus_expected"] = out["observed"] - out["expected"]
    return out


# --------------------------------------------------------------------------- Brier score


@dataclass(frozen=True)
class BrierResult:
    """IPCW Brier score and integrated Brier score at each time (R ``riskRegression::Score``
    with ``cens.model="km"``, ``summary="ibs"``)."""

    times: np.ndarray
    brier: np.ndarray
    ibs: np.ndarray  # integrated Brier score from 0 to each time
    brier_null: np.ndarray  # Kaplan–Meier (no covariates) reference
    ibs_null: np.ndarray
    n: int
    events: int

    def to_frame(self) -> pd.DataFrame:
        """One row per time: Brier, IBS, and the Kaplan–Meier reference."""
        return pd.DataFrame({"time": self.times, "brier": self.brier, "ibs": self.ibs,
                             "brier_null": self.brier_null, "ibs_null": self.ibs_null})

    def to_dict(self) -> dict[str, object]:
        """JSON: per time, and the method in words."""
        return {"n": self.n, "events": self.events,
                "method": "inverse probability of censoring weights, Kaplan–Meier censoring "
                          "model; IBS: step integral over the requested times divided by the "
                          "time (riskRegression)",
                "times": {f"{t:g}": {"brier": b, "ibs": i, "brier_null": bn, "ibs_null": inull}
                          for t, b, i, bn, inull in zip(self.times, self.brier, self.ibs,
                                                        self.brier_null, self.ibs_null,
                                                        strict=True)}}


def _step(times: np.ndarray, values: np.ndarray, at: np.ndarray, left: bool) -> np.ndarray:
    """A right-continuous step function (1 before the first time), or its left limit."""
    idx = np.searchsorted(times, at, side="left" if left else "right") - 1
    return np.concatenate(([1.0], values))[idx + 1]


def brier_score(time: np.ndarray, event: np.ndarray, risk: np.ndarray,
                times: np.ndarray) -> np.ndarray:
    """IPCW Brier score of predicted risks ``risk`` (n × len(times)) at ``times``.

    BS(t) = 1/n Σ [ 1(Tᵢ ≤ t, δᵢ = 1) (1 − Fᵢ(t))² / G(Tᵢ−) + 1(Tᵢ > t) Fᵢ(t)² / G(t) ], G the
    Kaplan–Meier estimate of the censoring survival (Graf et al. 1999; riskRegression).
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    risk = np.asarray(risk, dtype=float).reshape(time.size, -1)
    g_time, g_surv = censoring_survival(time, event, events_first=True)
    g_subject = _step(g_time, g_surv, time, left=True)
    out = np.empty(len(times))
    for k, t in enumerate(times):
        case = (time <= t) & (event == 1)
        alive = time > t
        g_t = _step(g_time, g_surv, np.array([t]), left=False)[0]
        terms = np.where(case, (1 - risk[:, k]) ** 2 / np.where(case, g_subject, 1.0), 0.0)
        terms += np.where(alive, risk[:, k] ** 2 / g_t, 0.0)
        out[k] = terms.mean()
    return out


def integrated_brier(times: np.ndarray, brier: np.ndarray) -> np.ndarray:
    """IBS(t_k) = (1/t_k) Σ_{j<k} BS(t_j)(t_{j+1} − t_j) over the grid (0, t₁, …) with BS(0) = 0
    — the step integral riskRegression's ``Score(summary="ibs")`` reports."""
    x = np.concatenate(([0.0], np.asarray(times, dtype=float)))
    y = np.concatenate(([0.0], np.asarray(brier, dtype=float)))
    areas = np.cumsum(y[:-1] * np.diff(x))
    return areas / x[1:]


def cox_brier(fit: object, df: pd.DataFrame, time: str, event: str,
              times: Sequence[float]) -> BrierResult:
    """Brier and integrated Brier score of a Cox model's predicted risks on ``df``, beside the
    Kaplan–Meier (null model) reference — ``Score(list(fit), ..., metrics="brier",
    summary="ibs", cens.model="km")``."""
    grid = np.sort(np.asarray(times, dtype=float))
    if grid.size == 0 or grid[0] <= 0:
        raise StatsInputError(None, "times must be positive")
    t, e = survival_outcome(df, time, event)
    risk = fit.predict_risk(df, grid)  # type: ignore[attr-defined]
    km_time, km_surv = km_survival(t, e)
    null_risk = np.tile(1.0 - _step(km_time, km_surv, grid, left=False), (t.size, 1))
    brier = brier_score(t, e, risk, grid)
    brier_null = brier_score(t, e, null_risk, grid)
    return BrierResult(grid, brier, integrated_brier(grid, brier), brier_null,
                       integrated_brier(grid, brier_null), int(t.size), int(e.sum()))


# --------------------------------------------------------------------------- calibration slope


@dataclass(frozen=True)
class CalibrationSlope:
    """Cox calibration slope: the coefficient of the linear predictor on validation data."""

    slope: float
    se: float
    n: int
    events: int

    @property
    def lower95(self) -> float:
        return self.slope - Z95 * self.se

    @property
    def upper95(self) -> float:
        return self.slope + Z95 * self.se

    def to_dict(self) -> dict[str, object]:
        """JSON: slope with SE and 95 % CI (1 = perfect; < 1 = predictions too extreme)."""
        return {"slope": self.slope, "se": self.se, "lower95": self.lower95,
                "upper95": self.upper95, "n": self.n, "events": self.events}


def calibration_slope(fit: object, df: pd.DataFrame, time: str, event: str) -> CalibrationSlope:
    """Slope of ``coxph(Surv(time, event) ~ lp)`` on ``df``, lp the fit's linear predictor
    (1 is ideal; below 1 the model over-fits)."""
    from crlm.stats.cox import cox_ph

    lp = fit.linear_predictor(df)  # type: ignore[attr-defined]
    frame = pd.DataFrame({"time": df[time].to_numpy(), "event": df[event].to_numpy(),
                          "lp": lp})
    refit = cox_ph(frame, "time", "event", ["lp"])
    return CalibrationSlope(float(refit.coef[0]), float(refit.se[0]), refit.n, refit.events)


# --------------------------------------------------------------------------- optimism


@dataclass(frozen=True)
class OptimismCorrectedC:
    """Harrell's bootstrap optimism correction of the apparent C of a Cox model."""

    apparent: float
    optimism: float
    corrected: float
    n_boot: int
    seed: int | None
    optimism_each: np.ndarray

    def to_dict(self) -> dict[str, object]:
        """JSON: apparent, optimism, corrected C and the bootstrap settings."""
        return {"apparent_c": self.apparent, "optimism": self.optimism,
                "corrected_c": self.corrected, "bootstrap_samples": self.n_boot,
                "seed": self.seed,
                "method": "Harrell: mean over bootstrap samples of C(boot model on the boot "
                          "sample) − C(boot model on the original data)"}


def optimism_corrected_c(df: pd.DataFrame, time: str, event: str, covariates: Sequence[str],
                         *, n_boot: int = 200, seed: int | None = 2026,
                         indices: Sequence[Sequence[int]] | None = None,
                         **cox_kwargs: object) -> OptimismCorrectedC:
    """Optimism-corrected Harrell's C of ``cox_ph(df, time, event, covariates)``.

    Each bootstrap sample (``numpy.random.default_rng(seed)``, or the 0-based row
    ``indices`` given) is refitted; optimism = mean(C on the sample − C of the same model on
    the original rows); corrected C = apparent C − optimism (Harrell, Lee & Mark 1996).
    Rows with a missing value in a model column are dropped first.
    """
    from crlm.stats._data import complete_cases
    from crlm.stats.cox import concordance, cox_ph

    for option in ("start", "weights", "offset"):
        if cox_kwargs.get(option) is not None:
            raise StatsInputError(str(cox_kwargs[option]), "the optimism correction is for "
                                  "right-censored, unweighted fits without an offset")
    extra = [c for c in (cox_kwargs.get("strata"),) if isinstance(c, str)]
    used, _dropped = complete_cases(df, [time, event, *covariates, *extra])
    used = used.reset_index(drop=True)
    fit = cox_ph(used, time, event, covariates, **cox_kwargs)  # type: ignore[arg-type]
    t, e = survival_outcome(used, time, event)
    if indices is None:
        if n_boot < 1:
            raise StatsInputError(None, "n_boot must be at least 1")
        rng = np.random.default_rng(seed)
        samples = [rng.integers(0, len(used), len(used)) for _ in range(n_boot)]
    else:
        samples = [np.asarray(ix, dtype=np.int64) for ix in indices]
        seed = None
    optimism = np.empty(len(samples))
    for k, ix in enumerate(samples):
        sample = used.iloc[ix]
        boot = cox_ph(sample, time, event, covariates, **cox_kwargs)  # type: ignore[arg-type]
        c_boot = concordance(t[ix], e[ix], boot.linear_predictor(sample), reverse=True,
                             strata=_strata(sample, cox_kwargs))[0]
        c_test = concordance(t, e, boot.linear_predictor(used), reverse=True,
                             strata=_strata(used, cox_kwargs))[0]
        optimism[k] = c_boot - c_test
    mean = float(optimism.mean())
    apparent = concordance(t, e, fit.linear_predictor(used), reverse=True,
                           strata=_strata(used, cox_kwargs))[0]
    return OptimismCorrectedC(apparent, mean, apparent - mean, len(samples), seed, optimism)


def _strata(rows: pd.DataFrame, cox_kwargs: Mapping[str, object]) -> np.ndarray | None:
    column = cox_kwargs.get("strata")
    return pd.factorize(rows[column])[0] if isinstance(column, str) else None


# --------------------------------------------------------------------------- score validation



@dataclass(frozen=True)
class TimeAUC:
    """Cumulative/dynamic AUC at one horizon with a bootstrap percentile 95 % CI."""

    horizon: float
    auc: float
    lower95: float
    upper95: float
    draws: int


def time_dependent_auc_ci(df: pd.DataFrame, time: str, event: str, score: str, horizon: float,
                          *, draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED
                          ) -> TimeAUC:
    """:func:`time_dependent_auc` with a percentile bootstrap CI (``draws`` resamples, ``seed``).

    A resample without cases or controls at the horizon is skipped; the CI is missing (NaN)
    when ``draws`` is 0 or fewer than half the resamples could be evaluated.
    """
    used, _dropped = complete_cases(df, [time, event, score])
    auc = time_dependent_auc(used, time, event, score, horizon)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        sample = used.iloc[rng.integers(0, len(used), len(used))]
        try:
            values.append(time_dependent_auc(sample, time, event, score, horizon))
        except StatsInputError:
            continue
    if draws == 0 or len(values) < draws / 2:
        return TimeAUC(horizon, auc, float("nan"), float("nan"), draws)
    lo, hi = np.quantile(values, [0.025, 0.975])
    return TimeAUC(horizon, auc, float(lo), float(hi), draws)


@dataclass(frozen=True)
class Calibration:
    """A score's published survival at a horizon against the cohort (van Houwelingen 2000).

    * calibration-in-the-large: observed risk 1 − KM(τ) over the mean expected risk
      1 − S_pub(τ) (O/E; 95 % CI from the KM's Greenwood SE, delta method on log O/E);
    * calibration slope: the Cox coefficient of cloglog(1 − S_pub(τ)) with follow-up truncated
      at τ (1 = the published spread is right; < 1 = too extreme);
    * recalibrated baseline: α with mean(1 − S_pub^exp(α)) equal to the observed risk; the
      recalibrated survival of each score value is S_pub^exp(α).
    """

    horizon: float
    n: int
    events: int
    expected_risk: float
    observed_risk: float
    observed_lower95: float
    observed_upper95: float
    oe_ratio: float
    oe_lower95: float
    oe_upper95: float
    slope: float
    slope_lower95: float
    slope_upper95: float
    alpha: float
    table: pd.DataFrame  # per score value: n, published, observed (95 % CI), recalibrated


def _cloglog_risk(survival: np.ndarray) -> np.ndarray:
    return np.log(-np.log(survival))


def _with_published(df: pd.DataFrame, time: str, event: str, score: str,
                    published: Mapping[float, float]) -> pd.DataFrame:
    """Complete cases whose score value has a published survival, in column ``_expected``."""
    used, _dropped = complete_cases(df, [time, event, score])
    pub = pd.to_numeric(used[score], errors="coerce").map(
        lambda v: published.get(float(v), np.nan))
    used = used[pub.notna()].assign(_expected=pub[pub.notna()].astype(float))
    if len(used) < 2 or used["_expected"].nunique() < 2:
        raise StatsInputError(score, "fewer than two score values with a published survival")
    s_pub = used["_expected"].to_numpy(float)
    if ((s_pub <= 0) | (s_pub >= 1)).any():
        raise StatsInputError(score, "published survival must lie strictly between 0 and 1")
    return used


def _calibration_slope(t: np.ndarray, e: np.ndarray, s_pub: np.ndarray, horizon: float
                       ) -> tuple[float, float]:
    """Cox coefficient of cloglog(1 − S_pub) and its SE, follow-up truncated at ``horizon``."""
    from crlm.stats.cox import cox_ph

    truncated = pd.DataFrame({"t": np.minimum(t, horizon), "e": e * (t <= horizon),
                              "x": _cloglog_risk(s_pub)})
    fit = cox_ph(truncated, "t", "e", ["x"])
    return float(fit.coef[0]), float(np.sqrt(fit.var[0, 0]))


def _recalibration_alpha(s_pub: np.ndarray, observed: float) -> float:
    """α with mean(1 − S_pub^exp(α)) equal to the observed risk (NaN if the risk is 0 or 1)."""
    from scipy.optimize import brentq

    if not 0 < observed < 1:
        return float("nan")
    return float(brentq(lambda a: float((1 - s_pub ** np.exp(a)).mean()) - observed, -10, 10,
                        xtol=1e-14))


def _by_value(used: pd.DataFrame, time: str, event: str, score: str,
              published: Mapping[float, float], horizon: float, alpha: float) -> pd.DataFrame:
    """Per score value: n, published, observed KM survival (95 % CI), recalibrated survival."""
    rows = []
    for value in sorted(set(used[score].astype(float))):
        part = used[used[score].astype(float) == value]
        row = km_curve(*survival_outcome(part, time, event)).at([horizon]).iloc[0]
        rows.append({"value": value, "n": len(part), "published": float(published[value]),
                     "observed": float(row["surv"]), "observed_lower95": float(row["lower"]),
                     "observed_upper95": float(row["upper"]),
                     "recalibrated": float(published[value]) ** np.exp(alpha)})
    return pd.DataFrame(rows)


def calibration_against_published(
    df: pd.DataFrame, time: str, event: str, score: str, published: Mapping[float, float],
    horizon: float,
) -> Calibration:
    """Calibration of ``score`` against published survival ``published[value]`` at ``horizon``.

    Only patients whose score value has a published survival take part (``n``).
    """
    used = _with_published(df, time, event, score, published)
    t, e = survival_outcome(used, time, event)
    s_pub = used["_expected"].to_numpy(float)
    at = km_curve(t, e).at([horizon]).iloc[0]
    if not np.isfinite(at["surv"]):
        raise StatsInputError(time, f"no follow-up reaches the horizon {horizon:g}")
    observed, expected = 1.0 - float(at["surv"]), float((1 - s_pub).mean())
    oe = observed / expected
    log_se = float(at["std_err"]) / observed if observed > 0 else float("nan")
    slope, slope_se = _calibration_slope(t, e, s_pub, horizon)
    alpha = _recalibration_alpha(s_pub, observed)
    return Calibration(
        horizon, len(used), int(e.sum()), expected, observed,
        1.0 - float(at["upper"]), 1.0 - float(at["lower"]),
        oe, oe * math.exp(-Z95 * log_se), oe * math.exp(Z95 * log_se),
        slope, slope - Z95 * slope_se, slope + Z95 * slope_se, alpha,
        _by_value(used, time, event, score, published, horizon, alpha))


@dataclass(frozen=True)
class ScoreValidation:
    """Several scores validated side by side on the same cohort."""

    names: list[str]
    concordance: dict[str, Concordance]
    auc: dict[str, list[TimeAUC]]
    calibration: dict[str, Calibration | None]
    versus_first: dict[str, ScoreComparison]

    def to_frame(self) -> pd.DataFrame:
        """One row per score: n, events, C (95 % CI), AUC(τ) per horizon, O/E and slope."""
        rows = []
        for name in self.names:
            c = self.concordance[name]
            row: dict[str, object] = {"score": name, "n": c.n, "events": c.events, "c": c.c,
                                      "c_lower95": c.lower95, "c_upper95": c.upper95}
            for a in self.auc[name]:
                row[f"auc_{a.horizon:g}"] = a.auc
                row[f"auc_{a.horizon:g}_lower95"] = a.lower95
                row[f"auc_{a.horizon:g}_upper95"] = a.upper95
            cal = self.calibration.get(name)
            if cal is not None:
                row |= {"oe_ratio": cal.oe_ratio, "oe_lower95": cal.oe_lower95,
                        "oe_upper95": cal.oe_upper95, "slope": cal.slope,
                        "slope_lower95": cal.slope_lower95, "slope_upper95": cal.slope_upper95}
            rows.append(row)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: per score C, AUC by horizon, calibration, difference in C to the first."""
        out: dict[str, object] = {}
        for name in self.names:
            c = self.concordance[name]
            cal = self.calibration.get(name)
            cmp = self.versus_first.get(name)
            out[name] = {
                "n": c.n, "events": c.events,
                "concordance": {"c": c.c, "se": c.se, "lower95": c.lower95,
                                "upper95": c.upper95},
                "auc": [{"time": a.horizon, "auc": a.auc, "lower95": a.lower95,
                         "upper95": a.upper95} for a in self.auc[name]],
                "calibration": None if cal is None else {
                    k: v for k, v in vars(cal).items() if k != "table"}
                | ({"by_value": cal.table.to_dict(orient="records")} if cal else {}),
                "difference_vs_first": None if cmp is None else {
                    "difference": cmp.difference, "se": cmp.se, "lower95": cmp.lower95,
                    "upper95": cmp.upper95, "p": cmp.p},
            }
        return out


def validate_scores(
    df: pd.DataFrame, time: str, event: str, scores: list[str], horizons: list[float], *,
    published: Mapping[str, tuple[Mapping[float, float], float]] | None = None,
    draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED,
) -> ScoreValidation:
    """Harrell's C (95 % CI), AUC(τ) per horizon and calibration of each score column.

    ``published[score] = (survival by score value, horizon)``; the first score is the
    comparator of the others (difference in C on their common complete cases).
    """
    conc, aucs, cals, versus = {}, {}, {}, {}
    for s in scores:
        conc[s] = harrell_c(df, time, event, s)
        aucs[s] = [time_dependent_auc_ci(df, time, event, s, h, draws=draws, seed=seed)
                   for h in horizons]
        spec = (published or {}).get(s)
        cals[s] = (calibration_against_published(df, time, event, s, spec[0], spec[1])
                   if spec else None)
        if s != scores[0]:
            versus[s] = compare_scores(df, time, event, s, scores[0])
    return ScoreValidation(list(scores), conc, aucs, cals, versus)
