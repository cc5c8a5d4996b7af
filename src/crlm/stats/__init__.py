"""crlm.stats — survival and comparison analyses over pandas DataFrames, validated against R.

Survival core: :func:`cox_ph` (Efron/Breslow ties, strata, robust/cluster sandwich variance,
concordance) and the Kaplan–Meier / log-rank / RMST functions of :mod:`crlm.stats.survival`.
"""

from crlm.stats._data import DroppedRows, StatsInputError, complete_cases, design_matrix
from crlm.stats.cox import ConvergenceError, CoxResult, concordance, cox_ph
from crlm.stats.survival import (
    KMCurve,
    KMResult,
    LogrankResult,
    RMSTResult,
    kaplan_meier,
    km_curve,
    logrank_test,
    rmst,
)

__all__ = [
    "ConvergenceError",
    "CoxResult",
    "DroppedRows",
    "KMCurve",
    "KMResult",
    "LogrankResult",
    "RMSTResult",
    "StatsInputError",
    "complete_cases",
    "concordance",
    "cox_ph",
    "design_matrix",
    "kaplan_meier",
    "km_curve",
    "logrank_test",
    "rmst",
]
