"""Synthetic CRLM cohorts calibrated to published tables (no real patient data).

:func:`synthetic_rectal_cohort` follows Maki 2023a (Maki 2023): per-approach marginals of Table 1
and overall survival from a proportional-hazards model with the Table 2 multivariable hazard
ratios, baseline calibrated to the reported median survival (≈ 4.9 years).
:func:`synthetic_tsh_cohort` follows Shimizu 2024: > 10 nodules HR 4.28.
:func:`synthetic_multicentre_cohort`: the rectal cohort from several centres of unequal size and
case mix (a federated study's test data).
"""

from crlm.synth.cohorts import (
    RECTAL_HAZARD_RATIOS,
    TSH_HAZARD_RATIOS,
    synthetic_multicentre_cohort,
    synthetic_rectal_cohort,
    synthetic_tsh_cohort,
    to_patients,
)

__all__ = [
    "RECTAL_HAZARD_RATIOS",
    "TSH_HAZARD_RATIOS",
    "synthetic_multicentre_cohort",
    "synthetic_rectal_cohort",
    "synthetic_tsh_cohort",
    "to_patients",
]
