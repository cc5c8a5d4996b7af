"""De-identified analysis over the registry: cohort summary and Kaplan–Meier curves.

Open to every role (researchers included): answers hold only counts, medians and curves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from crlm.web.cohort import Endpoint, GroupingName, SurvivalOrigin, summarise
from crlm.web.deps import ApiUser, Db
from crlm.web.records import cohort_patients
from crlm.web.survival import KMResult, kaplan_meier

router = APIRouter(tags=["analysis"])

Centre = Annotated[
    str | None, Query(max_length=64, description="Restrict to one centre (default: all)")
]


class SummaryRowOut(BaseModel):
    """One Table 1 line."""

    label: str
    cells: list[str]


class CohortSummaryOut(BaseModel):
    """Table 1-like cohort summary (overall and by group)."""

    n: int
    grouping: str | None
    columns: list[str]
    column_n: list[int]
    rows: list[SummaryRowOut]


class KMRequest(BaseModel):
    """Which curves to estimate."""

    grouping: GroupingName = Field(description="Variable that splits the cohort")
    endpoint: Endpoint = Endpoint.overall_survival
    origin: SurvivalOrigin = SurvivalOrigin.diagnosis
    centre: str | None = Field(default=None, max_length=64)


@router.get("/cohort/summary")
def cohort_summary(
    user: ApiUser,
    db: Db,
    grouping: Annotated[GroupingName | None, Query()] = None,
    centre: Centre = None,
) -> CohortSummaryOut:
    """Table 1 of the registry cohort, optionally split by a grouping."""
    patients = cohort_patients(db, user, centre=centre, purpose="cohort summary")
    s = summarise(patients, grouping.value if grouping else None)
    return CohortSummaryOut(
        n=len(patients),
        grouping=s.grouping,
        columns=s.columns,
        column_n=s.column_n,
        rows=[SummaryRowOut(label=r.label, cells=r.cells) for r in s.rows],
    )


@router.post("/analysis/km")
def km_analysis(body: KMRequest, user: ApiUser, db: Db) -> KMResult:
    """Kaplan–Meier curves and log-rank test of the registry cohort by a grouping."""
    patients = cohort_patients(db, user, centre=body.centre, purpose="Kaplan-Meier analysis")
    return kaplan_meier(patients, body.grouping.value, body.endpoint, body.origin)
