"""Cohort page: Table 1 and Kaplan–Meier plot by a chosen grouping (every role)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from crlm.web.cohort import (
    GROUPINGS,
    Endpoint,
    GroupingName,
    ScoreTable,
    SurvivalOrigin,
    competing_risks,
    page_columns,
    summarise,
    suppress_small_cells,
    validate_scores,
)
from crlm.web.deps import Db, PageUser
from crlm.web.pages.common import render
from crlm.web.records import CohortScope, cohort_frame, cohort_scope, known_centres
from crlm.web.survival import KMResult, kaplan_meier, plot_png, suppress_small_groups

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
    request: Request, db: Db, user: PageUser, q: CohortQuery, purpose: str,
    audit_reuse: bool = True,
) -> tuple[CohortScope, Any, KMResult, int]:
    """The scope, its cohort frame, the KM curves shown and how many small groups were
    hidden."""
    scope = cohort_scope(user, q.centre)
    cohort = cohort_frame(
        db, user, page_columns(q.grouping.value, q.endpoint, q.origin), centre=scope.centre,
        purpose=purpose,
        cache=request.app.state.cohort_cache, audit_reuse=audit_reuse,
    )
    km = kaplan_meier(cohort, q.grouping.value, q.endpoint, q.origin)
    hidden = 0
    if scope.small_cell_min is not None:
        km, hidden = suppress_small_groups(km, scope.small_cell_min)
    return scope, cohort, km, hidden


def _small_groups_dropped(table: ScoreTable, cohort: Any, grouping: str,
                          minimum: int | None) -> ScoreTable:
    """The competing-risks table without groups of fewer than ``minimum`` patients."""
    if minimum is None or table.problem:
        return table
    counts = Counter(GROUPINGS[grouping].groups(cohort))
    rows = [r for r in table.rows if counts.get(r[0], 0) >= minimum]
    if len(rows) == len(table.rows):
        return table
    return ScoreTable(table.columns, rows, [*table.footnotes, f"Groups of fewer than {minimum} "
                                            "patients are not shown."])


@router.get("/cohort")
def cohort_page(request: Request, user: PageUser, db: Db, q: Cohort) -> HTMLResponse:
    """Table 1 by the grouping, and the KM curves (image from /cohort/km.png)."""
    scope, cohort, km, hidden = _km(request, db, user, q, "cohort page")
    summary = summarise(cohort, q.grouping.value)
    if scope.small_cell_min is not None:
        summary = suppress_small_cells(summary, scope.small_cell_min)
    query = request.url.query
    n = len(cohort)
    return render(
        request, "cohort.html", user, n=n, centre=scope.centre, scope=scope,
        n_shown=n if scope.small_cell_min is None or n >= scope.small_cell_min else None,
        hidden_groups=hidden, summary=summary, km=km,
        centres=known_centres(db) if user.role.value != "clinician" else [],
        scores=validate_scores(cohort, q.endpoint, q.origin),
        competing=_small_groups_dropped(
            competing_risks(cohort, q.grouping.value, q.origin), cohort, q.grouping.value,
            scope.small_cell_min),
        groupings=GROUPINGS, grouping=q.grouping.value, endpoint=q.endpoint, origin=q.origin,
        endpoints=list(Endpoint), origins=list(SurvivalOrigin),
        plot_url="/cohort/km.png" + (f"?{query}" if query else ""),
    )


@router.get("/cohort/km.png")
def cohort_km_png(request: Request, user: PageUser, db: Db, q: Cohort) -> Response:
    """The KM plot as PNG (reuses the cohort read of the page that embeds it, and the page's
    audit event; a plot without a recent page read reads and writes its own)."""
    km = _km(request, db, user, q, "Kaplan-Meier plot", audit_reuse=False)[2]
    return Response(plot_png(km), media_type="image/png")
