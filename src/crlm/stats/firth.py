"""Firth-penalised logistic and Cox regression for small subgroups with (quasi-)separation.

Maximises ℓ(β) + ½ log|I(β)| (Firth 1993): finite estimates where ordinary maximum likelihood
diverges. Standard errors from the penalised information; Wald CIs (R ``logistf`` reports
profile-likelihood CIs by default, which are not reproduced here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crlm.stats._data import StatsInputError, complete_cases, design_matrix
from crlm.stats._estimates import ratio_table


@dataclass
class FirthResult:
    names: list[str]  # including "(Intercept)"
    coef: np.ndarray
    se: np.ndarray
    iterations: int
    n: int

    def to_frame(self) -> pd.DataFrame:
        return ratio_table(self.names, self.coef, self.se, "or")


def firth_fit(x: np.ndarray, y: np.ndarray, *, max_iter: int = 100, tol: float = 1e-10
              ) -> tuple[np.ndarray, np.ndarray, int]:
    """Penalised Newton–Raphson on design ``x`` (with intercept column); (β, cov, iterations)."""
    beta = np.zeros(x.shape[1])
    for it in range(1, max_iter + 1):
        p = 1 / (1 + np.exp(-(x @ beta)))
        w = p * (1 - p)
        info = x.T @ (x * w[:, None])
        cov = np.linalg.inv(info)
        xw = x * np.sqrt(w)[:, None]
        h = np.einsum("ij,jk,ik->i", xw, cov, xw)  # hat diagonal
        score = x.T @ (y - p + h * (0.5 - p))
        step = cov @ score
        # halve the step while it is very large (keeps the iteration stable)
        while np.max(np.abs(step)) > 5:
            step /= 2
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            p = 1 / (1 + np.exp(-(x @ beta)))
            w = p * (1 - p)
            return beta, np.linalg.inv(x.T @ (x * w[:, None])), it
    raise StatsInputError(None, "Firth logistic regression did not converge")


def firth_logistic(
    df: pd.DataFrame, outcome: str, covariates: Sequence[str], *,
    reference: Mapping[str, object] | None = None,
) -> FirthResult:
    """Firth logistic regression of a 0/1 ``outcome`` (complete cases)."""
    data, _dropped = complete_cases(df, [outcome, *covariates])
    y = pd.to_numeric(data[outcome].astype(float) if data[outcome].dtype == bool
                      else data[outcome], errors="coerce")
    if y.isna().any() or not set(np.unique(y)) <= {0, 1}:
        raise StatsInputError(outcome, "outcome must be coded 0/1")
    design = design_matrix(data, covariates, reference)
    x = np.column_stack([np.ones(len(y)), design.matrix])
    beta, cov, it = firth_fit(x, y.to_numpy(float))
    return FirthResult(["(Intercept)", *design.names], beta, np.sqrt(np.diag(cov)), it, len(y))


@dataclass
class FirthCoxResult:
    names: list[str]
    coef: np.ndarray
    se: np.ndarray
    penalized_loglik: float
    iterations: int
    n: int
    events: int

    def to_frame(self) -> pd.DataFrame:
        return ratio_table(self.names, self.coef, self.se, "hr")


def _cox_terms(x: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray
               ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Breslow log partial likelihood, score, information and ∂I/∂β (p × p × p)."""
    p = x.shape[1]
    risk = np.exp(x @ beta)
    loglik = 0.0
    score = np.zeros(p)
    info = np.zeros((p, p))
    dinfo = np.zeros((p, p, p))
    for u in np.unique(t[e == 1]):
        at = t >= u
        dead = (t == u) & (e == 1)
        d = dead.sum()
        w = risk[at]
        xr = x[at]
        s0 = w.sum()
        a = (w @ xr) / s0
        b = np.einsum("n,np,nq->pq", w, xr, xr) / s0
        c3 = np.einsum("n,np,nq,nr->pqr", w, xr, xr, xr) / s0
        loglik += float(x[dead].sum(axis=0) @ beta - d * np.log(s0))
        score += x[dead].sum(axis=0) - d * a
        info += d * (b - np.outer(a, a))
        da = b - np.outer(a, a)  # ∂a/∂β (column r = ∂a/∂β_r)
        db = c3 - np.einsum("pq,r->pqr", b, a)
        dinfo += d * (db - np.einsum("pr,q->pqr", da, a) - np.einsum("p,qr->pqr", a, da))
    return loglik, score, info, dinfo


def firth_cox(df: pd.DataFrame, time: str, event: str, covariates: Sequence[str], *,
              reference: Mapping[str, object] | None = None, max_iter: int = 100
              ) -> FirthCoxResult:
    """Firth-penalised Cox regression (Heinze & Schemper 2001), Breslow ties.

    Maximises ℓ(β) + ½ log|I(β)|; finite hazard ratios under monotone likelihood (e.g. no event
    in one group). Meant for small subgroups: the cost grows with events × patients.
    """
    from crlm.stats._data import survival_outcome

    data, _dropped = complete_cases(df, [time, event, *covariates])
    t, e = survival_outcome(data, time, event)
    design = design_matrix(data, covariates, reference)
    x = design.matrix
    beta = np.zeros(x.shape[1])
    for it in range(1, max_iter + 1):
        loglik, score, info, dinfo = _cox_terms(x, t, e, beta)
        inv = np.linalg.inv(info)
        modified = score + 0.5 * np.einsum("pq,qpr->r", inv, dinfo)
        step = inv @ modified
        while np.max(np.abs(step)) > 2:
            step /= 2
        beta = beta + step
        if np.max(np.abs(step)) < 1e-9:
            loglik, _score, info, _ = _cox_terms(x, t, e, beta)
            penalised = loglik + 0.5 * float(np.linalg.slogdet(info)[1])
            return FirthCoxResult(design.names, beta, np.sqrt(np.diag(np.linalg.inv(info))),
                                  penalised, it, len(t), int(e.sum()))
    raise StatsInputError(None, "Firth Cox regression did not converge")
