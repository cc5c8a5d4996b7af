"""The prognostic scores of one analysis row (Fong, GAME, TBS, m-CS), from its columns.

Kept apart from :mod:`crlm.reports.score_validation` (which needs the statistics) so that the
registry can store each patient's scores in its analysis table when the patient is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from crlm.clinical.scores import (
    fong_clinical_risk_score,
    game_score,
    modified_clinical_score,
    tumour_burden_score,
)
from crlm.domain.patient import Mutation


def _flag(value: Any) -> bool | None:
    if value is True or value is False:  # as its text "true"/"false" below, without the text
        return value  # type: ignore[no-any-return]
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().lower()
    if text in {"true", "1", "1.0", "yes"}:
        return True
    if text in {"false", "0", "0.0", "no"}:
        return False
    return None


def _num(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _mutation(row: Mapping[str, Any], *columns: str) -> Mutation | None:
    for col in columns:
        if col not in row:
            continue
        value = row[col]
        if col.endswith("_mutant"):
            flag = _flag(value)
            return None if flag is None else (Mutation.mutant if flag else Mutation.wildtype)
        text = None if _num(value) is not None or pd.isna(value) else str(value).strip().lower()
        return {"mutant": Mutation.mutant, "wildtype": Mutation.wildtype}.get(text or "")
    return None


def _dfi(row: Mapping[str, Any]) -> float | None:
    if "disease_free_interval_months" in row and _num(row["disease_free_interval_months"]) \
            is not None:
        return _num(row["disease_free_interval_months"])
    return 0.0 if str(row.get("timing", "")).strip().lower() == "synchronous" else None


def _count(row: Mapping[str, Any]) -> int | None:
    n = _num(row.get("number_of_metastases"))
    return None if n is None else int(n)


_SCORE_OF: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "fong_crs": lambda r: fong_clinical_risk_score(
        _flag(r.get("node_positive")), _dfi(r), _count(r), _num(r.get("cea_ng_ml")),
        _num(r.get("largest_diameter_cm"))),
    "game": lambda r: game_score(
        _mutation(r, "kras", "ras_mutant", "ras"), _num(r.get("cea_ng_ml")),
        _flag(r.get("node_positive")), _num(r.get("largest_diameter_cm")), _count(r),
        _flag(r.get("extrahepatic_disease"))),
    "tumor_burden_score": lambda r: tumour_burden_score(_num(r.get("largest_diameter_cm")),
                                                       _count(r)),
    "mcs": lambda r: modified_clinical_score(
        _mutation(r, "ras", "ras_mutant", "kras"), _flag(r.get("node_positive")),
        _num(r.get("largest_diameter_cm"))),
}


def score_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """Score name → value (None: not computable) of one analysis row."""
    return {name: of(row).value for name, of in _SCORE_OF.items()}
