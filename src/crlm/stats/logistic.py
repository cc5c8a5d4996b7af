"""Logistic regression with an odds-ratio table (Newton–Raphson; matches R ``glm(binomial)``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

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


class _SeparationError(Exception):
    """The maximum-likelihood estimate does not exist (a coefficient runs to infinity)."""


MAX_ITER = 100
#: fitted probabilities this close to 0 or 1 for every row mean complete separation
PERFECT_FIT = 1e-10


def _loglik(x: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    eta = x @ beta
    return float(y @ eta - np.logaddexp(0.0, eta).sum())


def _newton(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """ML fit by Newton–Raphson with step halving (R ``glm.fit``'s IRLS to full precision).

    Returns coefficients, standard errors (inverse information) and the log-likelihood;
    raises :class:`_SeparationError` when the coefficients do not converge or fit every row.
    """
    beta = np.zeros(x.shape[1])
    loglik = _loglik(x, y, beta)
    for _ in range(MAX_ITER):
        p = expit(x @ beta)
        info = x.T @ (x * (p * (1 - p))[:, None])
        try:
            step = np.linalg.solve(info, x.T @ (y - p))
        except np.linalg.LinAlgError:
            if np.any(np.minimum(p, 1 - p) < PERFECT_FIT):  # rows fitted exactly: diverging
                raise _SeparationError from None
            raise
        new_beta, new_loglik = beta + step, _loglik(x, y, beta + step)
        halvings = 0
        while new_loglik < loglik - 1e-12 * abs(loglik) and halvings < 30:
            step /= 2
            new_beta, new_loglik = beta + step, _loglik(x, y, beta + step)
            halvings += 1
        converged = np.max(np.abs(step)) <= 1e-10 * (1 + np.max(np.abs(new_beta)))
        beta, loglik = new_beta, new_loglik
        if converged:
            break
    else:
        raise _SeparationError
    p = expit(x @ beta)
    if np.all(np.abs(p - y) < PERFECT_FIT):
        raise _SeparationError
    info = x.T @ (x * (p * (1 - p))[:, None])
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    return beta, se, loglik


def logistic_regression(
    df: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    *,
    reference: Mapping[str, object] | None = None,
    categorical: Sequence[str] = (),
) -> LogisticResult:
    """Fit ``outcome ~ covariates`` by maximum likelihood (complete cases, reported)."""
    if not covariates:
        raise StatsInputError(None, "at least one covariate is needed")
    data, dropped = complete_cases(df, [outcome, *covariates])
    y = _outcome(data[outcome].astype("float") if data[outcome].dtype == bool
                 else data[outcome], outcome)
    design = design_matrix(data, covariates, reference, categorical)
    x = np.column_stack([np.ones(len(y)), np.asarray(design.matrix, dtype=float)])
    if y.sum() in (0, len(y)):
        raise StatsInputError(outcome, "outcome has a single value: nothing to model")
    separation = StatsInputError(
        None, "separation: the outcome is perfectly predicted, so a coefficient is infinite; "
              "use a Firth-penalised model")
    try:
        beta, se, loglik = _newton(x, y)
    except _SeparationError:
        raise separation from None
    except np.linalg.LinAlgError as exc:
        raise StatsInputError(None, f"model cannot be fitted: {exc}") from None
    null = float(np.sum(y * np.log(y.mean()) + (1 - y) * np.log(1 - y.mean())))
    return LogisticResult(
        names=design.names, coef=beta[1:], se=se[1:],
        intercept=float(beta[0]), intercept_se=float(se[0]), loglik=loglik,
        loglik_null=null, n=len(y), events=int(y.sum()), dropped=dropped, terms=design.terms,
        references=design.references,
    )
