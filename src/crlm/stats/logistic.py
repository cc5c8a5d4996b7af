"""Logistic regression with an odds-ratio table (statsmodels; matches R ``glm(binomial)``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from crlm.stats._data import DroppedRows, StatsInputError, complete_cases, design_matrix
from crlm.stats._estimates import ratio_table


@dataclass
class LogisticResult:
    """A fitted logistic model: ORs with Wald 95 % CIs and p values."""

    names: list[str]
    coef: np.ndarray
    se: np.ndarray
    intercept: float
    intercept_se: float
    loglik: float
    loglik_null: float
    n: int
    events: int
    dropped: DroppedRows
    terms: dict[str, list[str]]
    references: dict[str, str]

    @property
    def p(self) -> np.ndarray:
        return 2 * stats.norm.sf(np.abs(self.coef / self.se))

    def to_frame(self) -> pd.DataFrame:
        """One row per term: coef, se, odds ratio, 95 % CI, p."""
        return ratio_table(self.names, self.coef, self.se, "or")

    def to_dict(self) -> dict[str, object]:
        frame = self.to_frame()
        return {
            "n": self.n, "events": self.events, "loglik": self.loglik,
            "loglik_null": self.loglik_null,
            "intercept": {"coef": self.intercept, "se": self.intercept_se},
            "coefficients": {t: {k: float(v) for k, v in row.items()}
                             for t, row in frame.iterrows()},
            "dropped": self.dropped.to_dict(),
        }


def _outcome(series: pd.Series, name: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce")
    if values.isna().any() or not set(np.unique(values)) <= {0, 1}:
        raise StatsInputError(name, "outcome must be coded 0/1 (or false/true)")
    return values.to_numpy(dtype=float)


def logistic_regression(
    df: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    *,
    reference: Mapping[str, object] | None = None,
    categorical: Sequence[str] = (),
) -> LogisticResult:
    """Fit ``outcome ~ covariates`` by maximum likelihood (complete cases, reported)."""
    import warnings

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    if not covariates:
        raise StatsInputError(None, "at least one covariate is needed")
    data, dropped = complete_cases(df, [outcome, *covariates])
    y = _outcome(data[outcome].astype("float") if data[outcome].dtype == bool
                 else data[outcome], outcome)
    design = design_matrix(data, covariates, reference, categorical)
    x = sm.add_constant(design.matrix, has_constant="add")
    if y.sum() in (0, len(y)):
        raise StatsInputError(outcome, "outcome has a single value: nothing to model")
    separation = StatsInputError(
        None, "separation: the outcome is perfectly predicted, so a coefficient is infinite; "
              "use a Firth-penalised model")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fit = sm.Logit(y, x).fit(method="newton", maxiter=100, tol=1e-12, disp=False)
        except (PerfectSeparationError, PerfectSeparationWarning, ConvergenceWarning):
            raise separation from None
        except np.linalg.LinAlgError as exc:
            raise StatsInputError(None, f"model cannot be fitted: {exc}") from None
    if not np.all(np.isfinite(fit.bse)):
        raise separation
    null = float(np.sum(y * np.log(y.mean()) + (1 - y) * np.log(1 - y.mean())))
    return LogisticResult(
        names=design.names, coef=np.asarray(fit.params[1:]), se=np.asarray(fit.bse[1:]),
        intercept=float(fit.params[0]), intercept_se=float(fit.bse[0]), loglik=float(fit.llf),
        loglik_null=null, n=len(y), events=int(y.sum()), dropped=dropped, terms=design.terms,
        references=design.references,
    )
