"""Cohort page: Table 1 and Kaplan–Meier plot by a chosen grouping (every role)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from crlm.web.cohort import (
    GROUPINGS,
    Endpoint,
    GroupingName,
    SurvivalOrigin,
    competing_risks,
    summarise,
    validate_scores,
)
from crlm.web.deps import Db, PageUser
from crlm.web.pages.common import render
from crlm.web.records import cohort_patients
from crlm.web.survival import KMResult, kaplan_meier, plot_png

router = APIRouter(include_in_schema=False)

DEFAULT_GROUPING = "sex"
CentreQ = Annotated[str | None, Query(max_length=64)]


@dataclass(frozen=True)
class CohortQuery:
    """Query parameters shared by the cohort page and its plot."""

    grouping: GroupingName
    endpoint: Endpoint
    origin: SurvivalOrigin
    centre: str | None


def cohort_query(
    grouping: Annotated[GroupingName, Query()] = GroupingName(DEFAULT_GROUPING),
    endpoint: Annotated[Endpoint, Query()] = Endpoint.overall_survival,
    origin: Annotated[SurvivalOrigin, Query()] = SurvivalOrigin.diagnosis,
    centre: CentreQ = None,
) -> CohortQuery:
    """Dependency: the validated cohort query."""
    return CohortQuery(grouping, endpoint, origin, centre or None)


Cohort = Annotated[CohortQuery, Depends(cohort_query)]


def _km(
    request: Request, db: Db, user: PageUser, q: CohortQuery, purpose: str
) -> tuple[int, Any, KMResult]:
    patients = cohort_patients(
        db, user, centre=q.centre, purpose=purpose, cache=request.app.state.cohort_cache
    )
    km = kaplan_meier(patients, q.grouping.value, q.endpoint, q.origin)
    return len(patients), patients, km


@router.get("/cohort")
def cohort_page(request: Request, user: PageUser, db: Db, q: Cohort) -> HTMLResponse:
    """Table 1 by the grouping, and the KM curves (image from /cohort/km.png)."""
    n, patients, km = _km(request, db, user, q, "cohort page")
    query = request.url.query
    return render(
        request, "cohort.html", user, n=n, centre=q.centre,
        summary=summarise(patients, q.grouping.value), km=km,
        scores=validate_scores(patients, q.endpoint, q.origin),
        competing=competing_risks(patients, q.grouping.value, q.origin),
        groupings=GROUPINGS, grouping=q.grouping.value, endpoint=q.endpoint, origin=q.origin,
        endpoints=list(Endpoint), origins=list(SurvivalOrigin),
        plot_url="/cohort/km.png" + (f"?{query}" if query else ""),
    )


@router.get("/cohort/km.png")
def cohort_km_png(request: Request, user: PageUser, db: Db, q: Cohort) -> Response:
    """The KM plot as PNG (reuses the cohort read of the page that embeds it)."""
    km = _km(request, db, user, q, "Kaplan-Meier plot")[2]
    return Response(plot_png(km), media_type="image/png")
