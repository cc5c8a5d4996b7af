"""Admin pages: users (list, add) and the audit log."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crlm.registry.audit import AuditFilter
from crlm.web.deps import CurrentUser, Db, Role, page_roles
from crlm.web.pages.common import render, require_csrf
from crlm.web.settings import centre_timezone

router = APIRouter(include_in_schema=False)

Admin = Annotated[CurrentUser, page_roles(Role.admin)]
AUDIT_PAGE_SIZE = 100


def _users_page(
    request: Request, user: CurrentUser, db: Db, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    from crlm.registry import users

    return render(
        request, "users.html", user, status_code=status_code, users=users.list_users(db),
        roles=[r.value for r in Role], error=error, min_password_chars=users.MIN_PASSWORD_CHARS,
    )


@router.get("/users")
def users_page(request: Request, user: Admin, db: Db) -> HTMLResponse:
    """Every user with role and centre."""
    return _users_page(request, user, db)


@router.post("/users", dependencies=[Depends(require_csrf)])
def add_user(
    request: Request,
    user: Admin,
    db: Db,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[Role, Form()],
    centre: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Create a user (the registry hashes the password with argon2)."""
    from crlm.registry import audit, users

    try:
        users.add_user(db, username, password, role.value, centre.strip() or None)
    except users.UserError as exc:  # short password, taken name, clinician without centre
        db.rollback()
        return _users_page(request, user, db, str(exc).capitalize() + ".", 422)
    audit.record(db, actor=user.username, action="create", entity="user", entity_id=username,
                 detail=f"role={role.value}")
    db.commit()
    return RedirectResponse("/users", status_code=303)


DAY = r"^(\d{4}-\d{2}-\d{2})?$"


class AuditQuery:
    """The audit page's filters, read from the query string; dates are days in the zone."""

    def __init__(
        self,
        since: Annotated[str | None, Query(alias="from", pattern=DAY)] = None,
        until: Annotated[str | None, Query(alias="to", pattern=DAY)] = None,
        actor: Annotated[str | None, Query(max_length=64)] = None,
        action: Annotated[str | None, Query(max_length=32)] = None,
        patient: Annotated[str | None, Query(pattern=r"^\s*#?\d{0,18}\s*$")] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    ) -> None:
        try:
            self.since = dt.date.fromisoformat(since) if since else None
            self.until = dt.date.fromisoformat(until) if until else None
        except ValueError:
            raise HTTPException(422, detail="Dates are year-month-day, e.g. 2026-11-30.") from None
        self.page, self.actor, self.action = page, actor or None, action or None
        digits = (patient or "").strip().lstrip("#")
        self.patient = int(digits) if digits else None

    def params(self) -> dict[str, str]:
        """The filters as query parameters (for page and export links)."""
        raw = {"from": self.since, "to": self.until, "actor": self.actor,
               "action": self.action, "patient": self.patient}
        return {k: str(v) for k, v in raw.items() if v is not None}

    def to_filter(self, zone: ZoneInfo) -> AuditFilter:
        """UTC bounds: from the start of ``from`` to the end of ``to`` in the zone."""
        def start(day: dt.date) -> dt.datetime:
            return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)

        return AuditFilter(
            since=start(self.since) if self.since else None,
            until=start(self.until + dt.timedelta(days=1)) if self.until else None,
            actor=self.actor, action=self.action, patient_id=self.patient,
        )


Audit = Annotated[AuditQuery, Depends()]


def _zone(user: CurrentUser) -> ZoneInfo:
    return ZoneInfo(centre_timezone(user.centre))


def _local(at: dt.datetime, zone: ZoneInfo) -> str:
    """A stored timestamp in the zone, to the second (SQLite returns naive UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


@router.get("/audit")
def audit_page(request: Request, user: Admin, db: Db, q: Audit) -> HTMLResponse:
    """Audit events, newest first, filtered by date range, user, action and patient."""
    from crlm.registry import audit

    zone = _zone(user)
    f = q.to_filter(zone)
    total = audit.count_events(db, f)
    events = audit.find_events(db, f, limit=AUDIT_PAGE_SIZE, offset=(q.page - 1) * AUDIT_PAGE_SIZE)
    params = q.params()

    def page_url(n: int) -> str:
        return "/audit?" + urlencode({**params, "page": n})

    return render(
        request, "audit.html", user, q=q, total=total, zone=str(zone),
        rows=[(_local(e.at, zone), e) for e in events], actions=sorted(audit.ACTIONS),
        export_url="/audit.csv" + (f"?{urlencode(params)}" if params else ""),
        prev_url=page_url(q.page - 1) if q.page > 1 else None,
        next_url=page_url(q.page + 1) if q.page * AUDIT_PAGE_SIZE < total else None,
    )


AUDIT_CSV_COLUMNS = ["time", "time_zone", "user", "action", "entity", "entity_id", "detail"]


@router.get("/audit.csv")
def audit_csv(user: Admin, db: Db, q: Audit) -> Response:
    """Every event matching the filters as CSV (the export itself is audited)."""
    from crlm.registry import audit

    zone = _zone(user)
    events = audit.find_events(db, q.to_filter(zone), limit=None)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_CSV_COLUMNS)
    for e in events:
        writer.writerow([_local(e.at, zone), str(zone), e.actor, e.action, e.entity,
                         e.entity_id or "", e.detail or ""])
    audit.record(db, actor=user.username, action="export", entity="audit", entity_id=None,
                 detail=f"{len(events)} events; filters {q.params() or 'none'}")
    db.commit()
    stamp = dt.datetime.now(zone).strftime("%Y%m%d-%H%M%S")
    return Response(
        out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="crlm-audit-{stamp}.csv"'},
    )
