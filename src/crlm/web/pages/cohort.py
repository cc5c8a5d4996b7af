"""Cohort page: Table 1 and Kaplan–Meier plot by a chosen grouping (every role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from crlm.web.cohort import GROUPINGS, Endpoint, GroupingName, SurvivalOrigin, summarise
from crlm.web.deps import Db, PageUser
from crlm.web.pages.common import render
from crlm.web.records import cohort_patients
from crlm.web.survival import kaplan_meier, plot_png

router = APIRouter(include_in_schema=False)

DEFAULT_GROUPING = "timing"
Grouping = Annotated[GroupingName, Query()]
EndpointQ = Annotated[Endpoint, Query()]
OriginQ = Annotated[SurvivalOrigin, Query()]
CentreQ = Annotated[str | None, Query(max_length=64)]


@router.get("/cohort")
def cohort_page(
    request: Request,
    user: PageUser,
    db: Db,
    grouping: Grouping = GroupingName(DEFAULT_GROUPING),
    endpoint: EndpointQ = Endpoint.overall_survival,
    origin: OriginQ = SurvivalOrigin.diagnosis,
    centre: CentreQ = None,
) -> HTMLResponse:
    """Table 1 by the grouping, and the KM curves (image from /cohort/km.png)."""
    patients = cohort_patients(db, user, centre=centre or None, purpose="cohort page")
    km = kaplan_meier(patients, grouping.value, endpoint, origin)
    query = request.url.query
    return render(
        request, "cohort.html", user, n=len(patients), centre=centre,
        summary=summarise(patients, grouping.value), km=km,
        groupings=GROUPINGS, grouping=grouping.value, endpoint=endpoint, origin=origin,
        endpoints=list(Endpoint), origins=list(SurvivalOrigin),
        plot_url="/cohort/km.png" + (f"?{query}" if query else ""),
    )


@router.get("/cohort/km.png")
def cohort_km_png(
    user: PageUser,
    db: Db,
    grouping: Grouping = GroupingName(DEFAULT_GROUPING),
    endpoint: EndpointQ = Endpoint.overall_survival,
    origin: OriginQ = SurvivalOrigin.diagnosis,
    centre: CentreQ = None,
) -> Response:
    """The KM plot as PNG."""
    patients = cohort_patients(db, user, centre=centre or None, purpose="Kaplan-Meier plot")
    png = plot_png(kaplan_meier(patients, grouping.value, endpoint, origin))
    return Response(png, media_type="image/png")
