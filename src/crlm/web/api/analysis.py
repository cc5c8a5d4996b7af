"""De-identified analysis over the registry: cohort summary and Kaplan–Meier curves.

Open to every role (researchers included): answers hold only counts, medians and curves.
Governance as on the cohort page (:func:`crlm.web.records.cohort_scope`): a clinician's answer
covers their own centre; a researcher's hides counts under the small-cell minimum.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from crlm.web.cohort import (
    Endpoint,
    GroupingName,
    SurvivalOrigin,
    km_columns,
    summarise,
    summary_columns,
    suppress_small_cells,
)
from crlm.web.deps import ApiUser, Db
from crlm.web.records import cohort_frame, cohort_scope
from crlm.web.survival import KMResult, kaplan_meier, suppress_small_groups

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
    scope = cohort_scope(user, centre)
    cohort = cohort_frame(db, user, summary_columns(grouping.value), centre=scope.centre,
                          purpose="cohort summary")
    s = summarise(cohort, grouping.value)
    if scope.small_cell_min is not None:
        s = suppress_small_cells(s, scope.small_cell_min)
    return CohortSummaryOut(
        n=len(cohort), grouping=s.grouping, columns=s.columns, rows=s.rows,
        footnotes=s.footnotes, problem=s.problem,
    )


@router.post("/analysis/km")
def km_analysis(body: KMRequest, user: ApiUser, db: Db) -> KMResult:
    """Kaplan–Meier curves and log-rank test of the registry cohort by a grouping."""
    scope = cohort_scope(user, body.centre)
    cohort = cohort_frame(db, user, km_columns(body.grouping.value, body.endpoint, body.origin),
                          centre=scope.centre,
                          purpose="Kaplan-Meier analysis")
    km = kaplan_meier(cohort, body.grouping.value, body.endpoint, body.origin)
    if scope.small_cell_min is not None:
        km = suppress_small_groups(km, scope.small_cell_min)[0]
    return km
