"""Default settings and choices of the analyses, importable before any analysis (fast CLI)."""

from typing import Literal

#: bootstrap draws and seed of the optimism-corrected C and the score comparisons
BOOTSTRAP_SEED = 20231
BOOTSTRAP_DRAWS = 200

#: statistical disclosure control: the smallest count an aggregate shown beyond its centre
#: releases (web cross-centre cohort pages, federated node answers; 0 is released as 0)
SMALL_CELL_MIN = 5

#: tie handling of the Cox partial likelihood (R ``coxph(ties=)``)
Ties = Literal["efron", "breslow"]
#: CI and p-value method of the Firth models (profile penalised likelihood or Wald)
CiMethod = Literal["profile", "wald"]
#: scale of the Kaplan–Meier and predicted-survival CIs (R ``survfit(conf.type=)``)
ConfType = Literal["log", "log-log", "plain", "logit", "arcsin"]
#: unit of a follow-up time column
TimeUnit = Literal["days", "months", "years"]
#: time zero of the registry's survival times (Maki 2023a: last hepatectomy; Shimizu 2024:
#: first hepatectomy; or diagnosis)
SurvivalOrigin = Literal["last_hepatectomy", "first_hepatectomy", "diagnosis"]
#: the model of a univariable → multivariable regression table
ModelKind = Literal["cox", "logistic"]
