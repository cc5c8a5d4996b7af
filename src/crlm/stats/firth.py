"""Firth-penalised logistic and Cox regression for small subgroups with (quasi-)separation.

Maximises ℓ*(β) = ℓ(β) + ½ log|I(β)| (Firth 1993): finite estimates where ordinary maximum
likelihood diverges. By default (``ci="profile"``) CIs and p values are those of R ``logistf``
and ``coxphf`` (Heinze & Schemper 2001, 2002), which stay valid under separation:

* the CI for β_j holds the values b with 2{ℓ*(β̂) − max over the other coefficients of
  ℓ*(β_j = b, ·)} ≤ χ²₁(level) (profile penalised likelihood); each bound is found by bracketing
  outward from β̂_j and :func:`scipy.optimize.brentq`, every constrained fit warm-started;
* the p value is the penalised likelihood-ratio test of β_j = 0: the same constrained fit at
  b = 0 (the other coefficients free, the penalty from the information of the full model).

A bound is reported as ±inf, with a note, when the profile does not reach χ²₁(level) before the
term would move the linear predictor across the data by more than :data:`MAX_LINEAR_SPAN`.
``ci="wald"`` gives β̂ ± z·SE and Wald p values (not valid under separation). SEs are always
the inverse information at β̂ (logistf ≥ 1.26 prints smaller SEs, from the information of its
IRLS augmented data; estimates, profile CIs and p values agree to its print precision).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg, optimize, stats
from scipy.special import expit

from crlm.stats import defaults as _defaults
from crlm.stats._data import DroppedRows, StatsInputError, complete_cases, design_matrix
from crlm.stats._estimates import ratio_table, wald

CiMethod = _defaults.CiMethod
CI_METHODS: tuple[CiMethod, ...] = ("profile", "wald")
CI_DESCRIPTIONS: dict[str, str] = {
    "profile": "profile penalised-likelihood CIs, penalised likelihood-ratio p values",
    "wald": "Wald CIs and p values (not valid under separation)",
}
# Widest search for a profile bound: |b − β̂_j| · (range of x_j) ≤ 200, an odds or hazard ratio
# of e²⁰⁰ between the extreme patients (200 on the coefficient for a constant column). Bounds
# that far out occur when a continuous covariate separates the outcome.
MAX_LINEAR_SPAN = 200.0
BOUND_CHECK_TOL = 1e-6  # |deviance − χ²₁(level)| accepted at a returned bound

Terms = Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]]


class _FitFailedError(ArithmeticError):
    """A (constrained) penalised fit did not converge or met a singular information matrix."""


def _chol_logdet_inverse(info: np.ndarray) -> tuple[float, np.ndarray]:
    """log|I| and I⁻¹ by Cholesky; :class:`_FitFailedError` when I is not positive definite."""
    try:
        factor = linalg.cho_factor(info, lower=True)
    except linalg.LinAlgError as exc:
        raise _FitFailedError("information matrix not positive definite") from exc
    logdet = 2.0 * float(np.sum(np.log(np.diag(factor[0]))))
    return logdet, linalg.cho_solve(factor, np.eye(len(info)))


def _logistic_terms(x: np.ndarray, y: np.ndarray) -> Terms:
    """β ↦ (ℓ*(β), ∂ℓ*/∂β, I(β)) for logistic regression on design ``x`` (with intercept)."""

    def terms(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        eta = x @ beta
        p = expit(eta)
        w = p * (1 - p)
        info = x.T @ (x * w[:, None])
        logdet, cov = _chol_logdet_inverse(info)
        loglik = float(y @ eta - np.logaddexp(0.0, eta).sum())
        h = w * np.einsum("ij,ij->i", x @ cov, x)  # hat diagonal
        grad = x.T @ (y - p + h * (0.5 - p))  # Firth's modified score = ∂ℓ*/∂β
        return loglik + 0.5 * logdet, grad, info

    return terms


def _hessian(terms: Terms, beta: np.ndarray, grad: np.ndarray, info: np.ndarray,
             free: np.ndarray) -> np.ndarray:
    """∂²ℓ*/∂β² over ``free`` by central differences of the exact gradient (steps ≈ 1e-4 SE)."""
    idx = np.flatnonzero(free)
    hess = np.empty((len(idx), len(idx)))
    for col, k in enumerate(idx):
        h = 1e-4 / math.sqrt(info[k, k])
        up, down = beta.copy(), beta.copy()
        up[k] += h
        down[k] -= h
        hess[:, col] = (terms(up)[1][idx] - terms(down)[1][idx]) / (2 * h)
    return (hess + hess.T) / 2


def _maximise(terms: Terms, beta: np.ndarray, free: np.ndarray, *, max_step: float,
              max_iter: int = 200, tol: float = 1e-10
              ) -> tuple[np.ndarray, float, np.ndarray, int]:
    """Maximise ℓ* over the coordinates ``free`` (the others held): (β, ℓ*, I, iterations).

    Fisher scoring (information as curvature, as logistf) until it stalls — a step had to be
    halved, or the step shrank by less than half, as when the penalty's curvature makes it
    overshoot — then Newton–Raphson on the Hessian of ℓ* wherever that is negative definite. A
    step is capped at ``max_step`` and halved while ℓ* would fall. Converged when the step is
    below ``tol``.
    """
    beta = np.asarray(beta, dtype=float).copy()
    value, grad, info = terms(beta)
    if not free.any():
        return beta, value, info, 0
    newton, last_size = False, math.inf
    for it in range(1, max_iter + 1):
        g = grad[free]
        step = None
        if newton:
            try:
                step = linalg.cho_solve(
                    linalg.cho_factor(-_hessian(terms, beta, grad, info, free)), g)
            except (linalg.LinAlgError, _FitFailedError):
                step = None
        if step is None:
            step = np.linalg.solve(info[np.ix_(free, free)], g)
        size = float(np.max(np.abs(step)))
        newton = newton or size > 0.5 * last_size
        last_size = size
        if not math.isfinite(size):
            raise _FitFailedError("non-finite Newton step")
        if size > max_step:
            step *= max_step / size
        for _halving in range(40):
            trial = beta.copy()
            trial[free] += step
            try:
                t_value, t_grad, t_info = terms(trial)
            except _FitFailedError:
                t_value = -math.inf
            if t_value >= value - 1e-13 * (1.0 + abs(value)):
                break
            step /= 2
            newton = True
        else:
            raise _FitFailedError("step halving did not increase the penalised likelihood")
        beta, value, grad, info = trial, t_value, t_grad, t_info
        if size < tol:
            return beta, value, info, it
    raise _FitFailedError(f"no convergence in {max_iter} iterations")


@dataclass
class _Inference:
    lower: np.ndarray
    upper: np.ndarray
    p: np.ndarray
    notes: list[str]


def _wald(coef: np.ndarray, se: np.ndarray, level: float) -> _Inference:
    return _Inference(*wald(coef, se, level), [])


class _ProfileCurve:
    """deviance(b) = 2{ℓ*(β̂) − max ℓ*(β_j = b, others)}.

    The constrained ℓ* can have more than one local maximum, so each b is fitted twice: from the
    nearest b already fitted (warm start) and from β̂; the higher maximum is kept.
    """

    def __init__(self, terms: Terms, beta_hat: np.ndarray, value_hat: float, j: int,
                 max_step: float) -> None:
        self.terms, self.beta_hat, self.value_hat = terms, beta_hat, value_hat
        self.j, self.max_step = j, max_step
        self.free = np.ones(len(beta_hat), dtype=bool)
        self.free[j] = False
        self.solved: dict[float, np.ndarray] = {float(beta_hat[j]): beta_hat}
        self.values: dict[float, float] = {float(beta_hat[j]): 0.0}

    def deviance(self, b: float) -> float:
        b = float(b)
        if b in self.values:
            return self.values[b]
        nearest = min(self.solved, key=lambda s: abs(s - b))
        best: tuple[np.ndarray, float] | None = None
        failure: _FitFailedError | None = None
        for origin in {id(self.solved[nearest]): self.solved[nearest],
                       id(self.beta_hat): self.beta_hat}.values():
            start = origin.copy()
            start[self.j] = b
            try:
                beta, value, _info, _it = _maximise(self.terms, start, self.free,
                                                    max_step=self.max_step)
            except _FitFailedError as exc:
                failure = exc
                continue
            if best is None or value > best[1]:
                best = (beta, value)
        if best is None:
            assert failure is not None
            raise failure
        self.solved[b] = best[0]
        self.values[b] = 2.0 * (self.value_hat - best[1])
        return self.values[b]


def _profile_bound(curve: _ProfileCurve, b_hat: float, se: float, direction: int,
                   chi2_crit: float, limit: float) -> tuple[float, str | None]:
    """The bound on one side of β̂_j; (±inf, why) when the profile does not reach χ²."""
    side = "upper" if direction > 0 else "lower"
    step = se * math.sqrt(chi2_crit) if math.isfinite(se) and se > 0 else 1.0
    step = min(step, limit)
    inner = b_hat
    while True:
        outer = b_hat + direction * step
        try:
            dev = curve.deviance(outer)
        except _FitFailedError as exc:
            return (direction * math.inf,
                    f"{side} bound not found: the constrained fit failed at {outer:.4g} ({exc})")
        if dev > chi2_crit:
            break
        if step >= limit:
            return (direction * math.inf,
                    f"no {side} bound: the profile penalised likelihood falls by less than "
                    f"χ²₁ = {chi2_crit:.3f} up to {outer:.4g}")
        inner = outer
        step = min(2 * step, limit)
    try:
        root = float(optimize.brentq(lambda b: curve.deviance(b) - chi2_crit,
                                     min(inner, outer), max(inner, outer), xtol=1e-12))
        miss = abs(curve.deviance(root) - chi2_crit)
    except _FitFailedError as exc:
        return direction * math.inf, f"{side} bound not found: a constrained fit failed ({exc})"
    if miss > BOUND_CHECK_TOL:
        return (direction * math.inf,
                f"{side} bound not found: the profile is discontinuous near {root:.4g}")
    return root, None


def _profile(terms: Terms, beta_hat: np.ndarray, value_hat: float, se: np.ndarray,
             x: np.ndarray, names: Sequence[str], level: float, max_step: float) -> _Inference:
    """Profile penalised-likelihood CIs and penalised LR p values, coefficient by coefficient."""
    k = len(beta_hat)
    chi2_crit = float(stats.chi2.ppf(level, 1))
    lower, upper, p = np.empty(k), np.empty(k), np.empty(k)
    notes: list[str] = []
    for j in range(k):
        curve = _ProfileCurve(terms, beta_hat, value_hat, j, max_step)
        span = float(np.ptp(x[:, j]))
        limit = MAX_LINEAR_SPAN / span if span > 0 else MAX_LINEAR_SPAN
        try:
            p[j] = float(stats.chi2.sf(max(curve.deviance(0.0), 0.0), 1))
        except _FitFailedError as exc:
            p[j] = math.nan
            notes.append(f"{names[j]}: penalised LR test not computed ({exc})")
        for direction, out in ((-1, lower), (1, upper)):
            out[j], why = _profile_bound(curve, float(beta_hat[j]), float(se[j]), direction,
                                         chi2_crit, limit)
            if why:
                notes.append(f"{names[j]}: {why}; reported as "
                             f"{'-inf' if direction < 0 else 'inf'}")
    return _Inference(lower, upper, p, notes)


def _check_options(ci: str, level: float) -> None:
    if ci not in CI_METHODS:
        raise StatsInputError(None, f"ci must be 'profile' or 'wald', not {ci!r}")
    if not 0 < level < 1:
        raise StatsInputError(None, f"level must be in (0, 1), not {level!r}")


@dataclass
class FirthResult:
    """A Firth logistic fit; ``lower``/``upper``/``p`` by ``ci_method`` at ``level``."""

    names: list[str]  # including "(Intercept)"
    coef: np.ndarray
    se: np.ndarray
    iterations: int
    n: int
    lower: np.ndarray  # CI bounds on the coefficient (log odds ratio) scale
    upper: np.ndarray
    p: np.ndarray
    ci_method: CiMethod = "profile"
    level: float = 0.95
    penalized_loglik: float = math.nan
    events: int = 0
    notes: list[str] = field(default_factory=list)
    dropped: DroppedRows | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per term: coef, se, or, lower/upper (odds ratio scale), p."""
        return ratio_table(self.names, self.coef, self.se, "or", lower=self.lower,
                           upper=self.upper, p=self.p, ci_method=self.ci_method,
                           level=self.level)

    def to_dict(self) -> dict[str, object]:
        return _result_dict(self, "firth_logistic")


def _result_dict(fit: FirthResult | FirthCoxResult, model: str) -> dict[str, object]:
    frame = fit.to_frame()
    return {
        "model": model, "ci_method": fit.ci_method, "level": fit.level, "n": fit.n,
        "events": fit.events, "penalized_loglik": fit.penalized_loglik,
        "coefficients": {t: {k: float(v) for k, v in row.items()} for t, row in frame.iterrows()},
        "notes": list(fit.notes),
        "dropped": fit.dropped.to_dict() if fit.dropped else None,
    }


def _fit(terms: Terms, n_coef: int, *, max_step: float, max_iter: int, model: str
         ) -> tuple[np.ndarray, float, np.ndarray, int]:
    """Maximise ℓ* from β = 0: (β, ℓ*, I, iterations); an input error when it fails."""
    try:
        return _maximise(terms, np.zeros(n_coef), np.ones(n_coef, dtype=bool),
                         max_step=max_step, max_iter=max_iter, tol=1e-10)
    except _FitFailedError as exc:
        raise StatsInputError(None, f"{model} did not converge ({exc})") from exc


def firth_logistic(
    df: pd.DataFrame, outcome: str, covariates: Sequence[str], *,
    reference: Mapping[str, object] | None = None, ci: CiMethod = "profile",
    level: float = 0.95,
) -> FirthResult:
    """Firth logistic regression of a 0/1 ``outcome`` (complete cases), as R ``logistf``."""
    _check_options(ci, level)
    data, dropped = complete_cases(df, [outcome, *covariates])
    y = pd.to_numeric(data[outcome].astype(float) if data[outcome].dtype == bool
                      else data[outcome], errors="coerce")
    if y.isna().any() or not set(np.unique(y)) <= {0, 1}:
        raise StatsInputError(outcome, "outcome must be coded 0/1")
    design = design_matrix(data, covariates, reference)
    x = np.column_stack([np.ones(len(y)), design.matrix])
    yv = y.to_numpy(float)
    terms = _logistic_terms(x, yv)
    beta, value, info, it = _fit(terms, x.shape[1], max_step=5.0, max_iter=200,
                                 model="Firth logistic regression")
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    names = ["(Intercept)", *design.names]
    inf = (_profile(terms, beta, value, se, x, names, level, max_step=5.0) if ci == "profile"
           else _wald(beta, se, level))
    return FirthResult(names, beta, se, it, len(yv), inf.lower, inf.upper, inf.p, ci, level,
                       value, int(yv.sum()), inf.notes, dropped)


@dataclass
class FirthCoxResult:
    """A Firth Cox fit (Breslow ties); ``lower``/``upper``/``p`` by ``ci_method`` at ``level``."""

    names: list[str]
    coef: np.ndarray
    se: np.ndarray
    penalized_loglik: float
    iterations: int
    n: int
    events: int
    lower: np.ndarray  # CI bounds on the coefficient (log hazard ratio) scale
    upper: np.ndarray
    p: np.ndarray
    ci_method: CiMethod = "profile"
    level: float = 0.95
    notes: list[str] = field(default_factory=list)
    dropped: DroppedRows | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per term: coef, se, hr, lower/upper (hazard ratio scale), p."""
        return ratio_table(self.names, self.coef, self.se, "hr", lower=self.lower,
                           upper=self.upper, p=self.p, ci_method=self.ci_method,
                           level=self.level)

    def to_dict(self) -> dict[str, object]:
        return _result_dict(self, "firth_cox")


def _cox_terms(x: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray
               ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Breslow log partial likelihood, score, information and ∂I/∂β (p × p × p).

    Risk-set sums are reverse cumulative sums over the patients sorted by time, so the cost is
    linear in patients (times p³ for ∂I/∂β).
    """
    eta = x @ beta
    shift = float(eta.max())  # risk weights relative to the largest: no overflow
    w = np.exp(eta - shift)
    order = np.argsort(-t, kind="stable")  # latest first: a risk set is a prefix
    xs, ws = x[order], w[order]
    s0 = np.cumsum(ws)
    s1 = np.cumsum(ws[:, None] * xs, axis=0)
    s2 = np.cumsum(np.einsum("n,np,nq->npq", ws, xs, xs), axis=0)
    s3 = np.cumsum(np.einsum("n,np,nq,nr->npqr", ws, xs, xs, xs), axis=0)
    event_times, which, d = np.unique(t[e == 1], return_inverse=True, return_counts=True)
    last = np.searchsorted(-t[order], -event_times, side="right") - 1  # risk set = [0, last]
    s0, s1, s2, s3 = s0[last], s1[last], s2[last], s3[last]
    a = s1 / s0[:, None]
    b = s2 / s0[:, None, None]
    c3 = s3 / s0[:, None, None, None]
    da = b - np.einsum("kp,kq->kpq", a, a)  # ∂a/∂β (column r = ∂a/∂β_r)
    x_dead = np.zeros((len(event_times), x.shape[1]))
    np.add.at(x_dead, which, x[e == 1])
    loglik = float(eta[e == 1].sum() - np.sum(d * (np.log(s0) + shift)))
    score = x_dead.sum(axis=0) - d @ a
    info = np.einsum("k,kpq->pq", d, da)
    db = c3 - np.einsum("kpq,kr->kpqr", b, a)
    dinfo = np.einsum("k,kpqr->pqr", d, db - np.einsum("kpr,kq->kpqr", da, a)
                      - np.einsum("kp,kqr->kpqr", a, da))
    return loglik, score, info, dinfo


def _cox_penalised_terms(x: np.ndarray, t: np.ndarray, e: np.ndarray) -> Terms:
    """β ↦ (ℓ*(β), ∂ℓ*/∂β, I(β)) for the Breslow partial likelihood."""

    def terms(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        loglik, score, info, dinfo = _cox_terms(x, t, e, beta)
        logdet, inv = _chol_logdet_inverse(info)
        grad = score + 0.5 * np.einsum("pq,qpr->r", inv, dinfo)
        return loglik + 0.5 * logdet, grad, info

    return terms


def firth_cox(df: pd.DataFrame, time: str, event: str, covariates: Sequence[str], *,
              reference: Mapping[str, object] | None = None, max_iter: int = 200,
              ci: CiMethod = "profile", level: float = 0.95) -> FirthCoxResult:
    """Firth-penalised Cox regression (Heinze & Schemper 2001), Breslow ties, as R ``coxphf``.

    Maximises ℓ(β) + ½ log|I(β)|; finite hazard ratios under monotone likelihood (e.g. no event
    in one group). Meant for small subgroups: the cost grows with events × patients, and profile
    CIs refit the model a few dozen times per coefficient.
    """
    from crlm.stats._data import survival_outcome

    _check_options(ci, level)
    data, dropped = complete_cases(df, [time, event, *covariates])
    t, e = survival_outcome(data, time, event)
    if not e.any():
        raise StatsInputError(event, "no events: a Cox model cannot be fitted")
    design = design_matrix(data, covariates, reference)
    x = design.matrix
    terms = _cox_penalised_terms(x, t, e)
    beta, value, info, it = _fit(terms, x.shape[1], max_step=2.0, max_iter=max_iter,
                                 model="Firth Cox regression")
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    inf = (_profile(terms, beta, value, se, x, design.names, level, max_step=2.0)
           if ci == "profile" else _wald(beta, se, level))
    return FirthCoxResult(design.names, beta, se, value, it, len(t), int(e.sum()), inf.lower,
                          inf.upper, inf.p, ci, level, inf.notes, dropped)
