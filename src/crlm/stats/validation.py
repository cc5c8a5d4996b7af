"""Validating a prognostic score on one's own cohort (e.g. GAME vs Fong, as AHPBA guideline 2025
reports).

* :func:`harrell_c` — Harrell's C with R ``concordance``'s infinitesimal-jackknife 95 % CI.
* :func:`compare_scores` — two scores on the same patients: both C's, their difference and its
  CI/p from the joint influence (as R ``concordance(fit1, fit2)``).
* :func:`time_dependent_auc` — cumulative/dynamic AUC at a horizon with IPCW (Uno 2007).
* :func:`calibration_by_group` — observed KM survival at a horizon per risk group beside the
  published expectation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from crlm.stats._data import StatsInputError, complete_cases, survival_outcome
from crlm.stats.cox import _concordance_influence, concordance_dfbeta
from crlm.stats.survival import kaplan_meier, km_curve

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
    G is the Kaplan–Meier estimate of the censoring distribution. Score ties count ½.
    """
    t, e, (s,), _n = _prepare(df, time, event, [score])
    if horizon <= 0:
        raise StatsInputError(None, "horizon must be > 0")
    g_curve = km_curve(t, 1 - e)  # censoring "survival"

    def g(at: np.ndarray, left: bool) -> np.ndarray:
        idx = np.searchsorted(g_curve.time, at, side="left" if left else "right") - 1
        surv = np.concatenate([[1.0], g_curve.surv])
        return surv[idx + 1]

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
