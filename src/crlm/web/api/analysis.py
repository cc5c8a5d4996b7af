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


class CohortSummaryOut(BaseModel):
    """Table 1 of the cohort by a grouping (``crlm.stats.table1``)."""

    n: int
    grouping: str
    columns: list[str]
    rows: list[list[str]]
    footnotes: list[str]
    problem: str | None = Field(description="Why no table could be made (e.g. < 2 groups)")


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
    grouping: Annotated[GroupingName, Query()] = GroupingName("sex"),
    centre: Centre = None,
) -> CohortSummaryOut:
    """Table 1 of the registry cohort by a grouping, with an Overall column and tests."""
    patients = cohort_patients(db, user, centre=centre, purpose="cohort summary")
    s = summarise(patients, grouping.value)
    return CohortSummaryOut(
        n=len(patients), grouping=s.grouping, columns=s.columns, rows=s.rows,
        footnotes=s.footnotes, problem=s.problem,
    )


@router.post("/analysis/km")
def km_analysis(body: KMRequest, user: ApiUser, db: Db) -> KMResult:
    """Kaplan–Meier curves and log-rank test of the registry cohort by a grouping."""
    patients = cohort_patients(db, user, centre=body.centre, purpose="Kaplan-Meier analysis")
    return kaplan_meier(patients, body.grouping.value, body.endpoint, body.origin)
