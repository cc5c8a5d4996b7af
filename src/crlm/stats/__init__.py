"""crlm.stats — survival and comparison analyses over pandas DataFrames, validated against R.

Survival core (each matches R ``survival`` 3.5 on the colon data; see tests/fixtures/r):

* :func:`cox_ph` → :class:`CoxResult` (Efron/Breslow ties, strata, robust/cluster sandwich
  SE, LR/Wald/score tests, Harrell's C with SE, ``ph_test()`` = ``cox.zph``, ``.to_frame()``).
* :func:`kaplan_meier` (log/log-log/plain CIs, median/quartiles, ``summary(times=)`` risk
  tables), :func:`logrank_test` (k groups, strata, trend), :func:`rmst` (with differences).
* :func:`concordance` — Harrell's C with R's infinitesimal-jackknife SE (any risk score).
* Beyond right-censored rows (:mod:`~crlm.stats.cox_counting`, survival 3.x on heart/colon):
  ``cox_ph(start=, weights=, offset=)`` (late entry, time-varying covariates, case weights —
  robust SE by default when non-integer, as R — offset), ``CoxResult.predict_survival`` /
  ``baseline_hazard`` / ``predict_risk`` (``survfit.coxph``, ``basehaz``);
  ``logrank_test(rho=)`` (``survdiff(rho=)``); KM logit/arcsin CIs at any ``conf_level``.
* :mod:`~crlm.stats.imputation` — Rubin's rules (``mice::pool``) and pooled Cox models.
* Input helpers shared by the analyses: :func:`complete_cases` (drop report per column),
  :func:`design_matrix` (``name[level]`` indicators, reference levels), :func:`survival_outcome`,
  :func:`factor_codes`, :func:`group_labels`; errors are :class:`StatsInputError` naming the column.

Tables and further analyses (submodules; R references in tests/fixtures/r):

* :mod:`~crlm.stats.table1` — Table 1 with χ²/Fisher (exact Freeman–Halton), rank or mean tests
  (R's two-group defaults: Welch, Yates, exact Mann–Whitney), SMD, missing-data footnotes,
  HTML/CSV/DOCX.
* :mod:`~crlm.stats.logistic`, :mod:`~crlm.stats.regression_table` — OR tables and
  univariable → multivariable tables (Cox or logistic).
* :mod:`~crlm.stats.roc` — ROC/DeLong/Youden and maximally selected log-rank cut-points.
* :mod:`~crlm.stats.validation` — Harrell's C with CI, two-score comparison, time-dependent AUC,
  calibration by group, IPCW Brier / integrated Brier score, calibration slope, Harrell's
  bootstrap optimism-corrected C; :mod:`~crlm.stats.landmark`; :mod:`~crlm.stats.firth`
  (logistic, Cox; profile penalised-likelihood CIs and penalised LR tests as R logistf/coxphf);
  :mod:`~crlm.stats.competing` — cumulative incidence, Gray's test, Fine–Gray.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# the names below are imported on first use (PEP 562): ``import crlm.stats.x`` and the CLI
# do not pay for pandas, scipy and the compiled loops until an analysis runs
_HOME = {
    "Design": "_data", "DroppedRows": "_data", "StatsInputError": "_data",
    "complete_cases": "_data", "design_matrix": "_data", "factor_codes": "_data",
    "group_labels": "_data", "survival_outcome": "_data",
    "ConvergenceError": "cox", "CoxResult": "cox", "ZphResult": "cox", "concordance": "cox",
    "cox_ph": "cox",
    "KMCurve": "survival", "KMResult": "survival", "LogrankResult": "survival",
    "RMSTResult": "survival", "kaplan_meier": "survival", "km_curve": "survival",
    "logrank_test": "survival", "rmst": "survival",
}

if TYPE_CHECKING:
    from crlm.stats._data import (
        Design,
        DroppedRows,
        StatsInputError,
        complete_cases,
        design_matrix,
        factor_codes,
        group_labels,
        survival_outcome,
    )
    from crlm.stats.cox import ConvergenceError, CoxResult, ZphResult, concordance, cox_ph
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


def __getattr__(name: str) -> Any:
    """Import the public names of the survival core on first use."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'crlm.stats' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"crlm.stats.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ConvergenceError",
    "CoxResult",
    "Design",
    "DroppedRows",
    "KMCurve",
    "KMResult",
    "LogrankResult",
    "RMSTResult",
    "StatsInputError",
    "ZphResult",
    "complete_cases",
    "concordance",
    "cox_ph",
    "design_matrix",
    "factor_codes",
    "group_labels",
    "kaplan_meier",
    "km_curve",
    "logrank_test",
    "rmst",
    "survival_outcome",
]
