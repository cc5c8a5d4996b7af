"""Multiple imputation: Rubin's rules over analyses of completed data sets (R ``mice::pool``).

The imputation itself is done elsewhere (R ``mice``, or any tool writing m completed data
sets); crlm fits the same model on each and pools. :func:`rubin_pool` takes the m estimates
and their squared standard errors; :func:`cox_ph_pooled` fits :func:`crlm.stats.cox_ph` on
every completed data set and pools with the complete-data df of ``mice`` for ``coxph``
(events − coefficients).

Rubin's rules for one coefficient (m imputations, estimates Q_i, variances U_i):
Q̄ = mean Q_i; Ū = mean U_i; B = var(Q_i) (divisor m − 1); T = Ū + (1 + 1/m) B;
r = (1 + 1/m) B / Ū; λ = (1 + 1/m) B / T; df (Barnard & Rubin 1999):
ν_old = (m − 1)/λ², ν_obs = (ν_com + 1)/(ν_com + 3) · ν_com (1 − λ), ν = ν_old ν_obs /
(ν_old + ν_obs) (ν_old when ν_com is infinite; λ floored at 1e-4 as mice);
fmi = (r + 2/(ν + 3)) / (r + 1). CI and p use Student's t with ν df.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from crlm.stats._data import StatsInputError

LAMBDA_FLOOR = 1e-4  # mice's barnard.rubin floor on λ


@dataclass(frozen=True)
class PooledEstimates:
    """Rubin's-rules pooled coefficients (R ``pool(...)$pooled`` and ``summary(pool(...))``)."""

    names: list[str]
    m: int
    dfcom: float
    estimate: np.ndarray
    ubar: np.ndarray  # within-imputation variance
    b: np.ndarray  # between-imputation variance
    t: np.ndarray  # total variance
    df: np.ndarray  # Barnard–Rubin degrees of freedom
    riv: np.ndarray  # relative increase in variance
    lambda_: np.ndarray  # proportion of variance due to missingness
    fmi: np.ndarray  # fraction of missing information

    @property
    def se(self) -> np.ndarray:
        """Pooled standard errors √T."""
        return np.sqrt(self.t)

    def to_frame(self, level: float = 0.95, ratio: str | None = None) -> pd.DataFrame:
        """One row per coefficient: estimate, se, df, p, CI (t with df), riv, lambda, fmi.

        ``ratio`` (e.g. ``"hr"``) adds exp(estimate) and exponentiated CI columns.
        """
        q = stats.t.ppf(0.5 + level / 2.0, self.df)
        lo, hi = self.estimate - q * self.se, self.estimate + q * self.se
        p = 2.0 * stats.t.sf(np.abs(self.estimate / self.se), self.df)
        pct = f"{100 * level:g}"
        frame = pd.DataFrame({"estimate": self.estimate, "se": self.se, "df": self.df, "p": p,
                              f"lower{pct}": lo, f"upper{pct}": hi, "riv": self.riv,
                              "lambda": self.lambda_, "fmi": self.fmi},
                             index=pd.Index(self.names, name="term"))
        if ratio:
            frame.insert(1, ratio, np.exp(self.estimate))
            frame[f"{ratio}_lower{pct}"] = np.exp(lo)
            frame[f"{ratio}_upper{pct}"] = np.exp(hi)
        return frame

    def to_dict(self) -> dict[str, object]:
        """JSON: m, complete-data df and one object per coefficient."""
        frame = self.to_frame()
        return {"m": self.m, "dfcom": self.dfcom, "method": "Rubin's rules, Barnard–Rubin df",
                "coefficients": {str(k): {c: float(v) for c, v in row.items()}
                                 for k, row in frame.iterrows()}}


def barnard_rubin_df(m: int, b: np.ndarray, t: np.ndarray, dfcom: float) -> np.ndarray:
    """Barnard–Rubin (1999) small-sample degrees of freedom, as ``mice:::barnard.rubin``."""
    lam = np.maximum((1.0 + 1.0 / m) * b / t, LAMBDA_FLOOR)
    df_old = (m - 1) / lam**2
    if not np.isfinite(dfcom):
        return df_old
    df_obs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)
    return df_old * df_obs / (df_old + df_obs)


def rubin_pool(estimates: np.ndarray, variances: np.ndarray, *, dfcom: float = np.inf,
               names: Sequence[str] | None = None) -> PooledEstimates:
    """Pool m analyses: ``estimates`` and ``variances`` are (m, p) (or (m,) for one)."""
    q = np.atleast_2d(np.asarray(estimates, dtype=float).T).T
    u = np.atleast_2d(np.asarray(variances, dtype=float).T).T
    if q.shape != u.shape:
        raise StatsInputError(None, f"estimates {q.shape} and variances {u.shape} differ")
    m = q.shape[0]
    if m < 2:
        raise StatsInputError(None, "Rubin's rules need at least 2 imputations")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(u)) and np.all(u >= 0)):
        raise StatsInputError(None, "estimates and variances must be finite, variances ≥ 0")
    if not dfcom > 0:
        raise StatsInputError(None, f"complete-data df must be > 0, not {dfcom!r}")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    df = barnard_rubin_df(m, b, t, dfcom)
    riv = (1.0 + 1.0 / m) * b / ubar
    lam = (1.0 + 1.0 / m) * b / t
    fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
    labels = list(names) if names is not None else [f"b{k + 1}" for k in range(q.shape[1])]
    return PooledEstimates(labels, m, float(dfcom), qbar, ubar, b, t, df, riv, lam, fmi)


def split_imputations(df: pd.DataFrame, column: str = ".imp") -> list[pd.DataFrame]:
    """The completed data sets of a long table (R ``complete(imp, "long")``), by ``column``.

    Rows with ``column`` = 0 (the original, incomplete data in mice's long form) are left out.
    """
    if column not in df.columns:
        raise StatsInputError(column, "imputation number column not found")
    parts = [g.drop(columns=column) for k, g in df.groupby(column, sort=True) if k != 0]
    if len(parts) < 2:
        raise StatsInputError(column, f"needs at least 2 imputations, found {len(parts)}")
    return parts


def cox_ph_pooled(datasets: Sequence[pd.DataFrame], time: str, event: str,
                  covariates: Sequence[str], *, dfcom: float | None = None,
                  **kwargs: object) -> tuple[PooledEstimates, int, int]:
    """Cox model on each completed data set, pooled by Rubin's rules (``pool(with(imp,
    coxph(...)))``). Returns the pooled estimates, n and events (of the first data set).

    ``dfcom`` defaults to events − coefficients, as ``mice`` takes it for ``coxph``.
    Extra keyword arguments go to :func:`crlm.stats.cox_ph` (ties, strata, reference, ...).
    """
    from crlm.stats.cox import cox_ph

    fits = [cox_ph(d, time, event, covariates, **kwargs) for d in datasets]  # type: ignore[arg-type]
    names = fits[0].names
    for f in fits[1:]:
        if f.names != names:
            raise StatsInputError(None, "the completed data sets give different coefficients "
                                  f"({f.names} vs {names})")
    dropped = [f.dropped.n_dropped for f in fits if f.dropped.n_dropped]
    if dropped:
        raise StatsInputError(None, "a completed data set still has missing values "
                              f"({dropped[0]} rows would be dropped)")
    first = fits[0]
    df_com = float(first.events - len(names)) if dfcom is None else float(dfcom)
    pooled = rubin_pool(np.array([f.coef for f in fits]), np.array([f.se**2 for f in fits]),
                        dfcom=df_com, names=names)
    return pooled, first.n, first.events


def pooled_ratio_rows(pooled: PooledEstimates, level: float = 0.95) -> Mapping[str, dict]:
    """Hazard-ratio rows for display: HR, CI and p per term."""
    frame = pooled.to_frame(level, ratio="hr")
    pct = f"{100 * level:g}"
    return {str(k): {"hr": float(r["hr"]), "lower": float(r[f"hr_lower{pct}"]),
                     "upper": float(r[f"hr_upper{pct}"]), "p": float(r["p"]),
                     "fmi": float(r["fmi"])} for k, r in frame.iterrows()}
