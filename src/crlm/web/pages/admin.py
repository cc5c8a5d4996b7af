"""Admin pages: users (list, add, role, enable/disable, password, delete) and the audit log.

Every change that ends a user's sessions (see :mod:`crlm.registry.users`) also drops the user
from this process's user cache, so it takes effect on their next request.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import Annotated, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from crlm.registry.audit import AuditFilter
from crlm.safe_output import safe_csv_writer
from crlm.web.deps import CurrentUser, Db, Role, forget_user, page_roles
from crlm.web.pages.common import render, require_csrf
from crlm.web.settings import centre_timezone

router = APIRouter(include_in_schema=False)

Admin = Annotated[CurrentUser, page_roles(Role.admin)]
AUDIT_PAGE_SIZE = 100
#: Session key of the message shown once on the users page after a change (never a password).
FLASH_KEY = "users_flash"


def _users_page(
    request: Request,
    user: CurrentUser,
    db: Db,
    error: str | None = None,
    status_code: int = 200,
    messages: list[str] | None = None,
    one_time: tuple[str, str] | None = None,
) -> HTMLResponse:
    from crlm.registry import users

    return render(
        request, "users.html", user, status_code=status_code, users=users.list_users(db),
        roles=[r.value for r in Role], error=error, min_password_chars=users.MIN_PASSWORD_CHARS,
        messages=messages or [], one_time=one_time,
    )


@router.get("/users")
def users_page(request: Request, user: Admin, db: Db) -> HTMLResponse:
    """Every user with role and centre."""
    flash = request.session.pop(FLASH_KEY, None)
    return _users_page(request, user, db, messages=[flash] if isinstance(flash, str) else None)


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
        created = users.add_user(db, username, password, role.value, centre.strip() or None)
    except users.UserError as exc:  # weak password, taken name, clinician without centre
        db.rollback()
        return _users_page(request, user, db, str(exc).capitalize() + ".", 422)
    audit.record(db, actor=user.username, action="create", entity="user",
                 entity_id=created.username, detail=f"role={role.value}")
    db.commit()
    return RedirectResponse("/users", status_code=303)


def _target(db: Db, user_id: int):  # type: ignore[no-untyped-def]
    from crlm.registry import users

    target = users.get_user_by_id(db, user_id)
    if target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such user.")
    return target


def _changed(
    request: Request,
    admin: CurrentUser,
    db: Db,
    user_id: int,
    change: Callable[[str], object],
    action: str,
    detail: str,
    done: str,
) -> Response:
    """Apply ``change(username)``, audit it, drop the user from the cache; the users page."""
    from crlm.registry import audit, users

    name = _target(db, user_id).username
    try:
        change(name)
    except users.UserError as exc:
        db.rollback()
        return _users_page(request, admin, db, str(exc).capitalize() + ".", 422)
    audit.record(db, actor=admin.username, action=action, entity="user", entity_id=name,
                 detail=detail)
    db.commit()
    forget_user(request, user_id)
    if user_id == admin.id:  # the admin changed their own account: this session has ended
        return RedirectResponse("/login", status_code=303)
    request.session[FLASH_KEY] = done.format(name=name)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/role", dependencies=[Depends(require_csrf)])
def change_role(
    request: Request,
    user: Admin,
    db: Db,
    user_id: int,
    role: Annotated[Role, Form()],
    centre: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Change a user's role and centre (their sessions end)."""
    from crlm.registry import users

    return _changed(
        request, user, db, user_id,
        lambda name: users.set_role(db, name, role.value, centre.strip()),
        "update", f"role={role.value} centre={centre.strip() or '-'}",
        "{name} is now " + role.value + (f" at {centre.strip()}" if centre.strip() else "") + ".",
    )


@router.post("/users/{user_id}/active", dependencies=[Depends(require_csrf)])
def change_active(
    request: Request,
    user: Admin,
    db: Db,
    user_id: int,
    active: Annotated[Literal["yes", "no"], Form()],
) -> Response:
    """Enable or disable a user (disabling ends their sessions and tokens)."""
    from crlm.registry import users

    on = active == "yes"
    return _changed(
        request, user, db, user_id, lambda name: users.set_active(db, name, on),
        "update", "enabled" if on else "disabled",
        "{name} is " + ("enabled." if on else "disabled: their sessions and tokens have ended."),
    )


@router.post("/users/{user_id}/password", dependencies=[Depends(require_csrf)])
def change_password(
    request: Request,
    user: Admin,
    db: Db,
    user_id: int,
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    """Set a user's password (their sessions end)."""
    from crlm.registry import users

    return _changed(
        request, user, db, user_id, lambda name: users.set_password(db, name, password),
        "update", "password set by an admin", "New password set for {name}.",
    )


@router.post("/users/{user_id}/logout-everywhere", dependencies=[Depends(require_csrf)])
def revoke(request: Request, user: Admin, db: Db, user_id: int) -> Response:
    """End every session and API token of a user."""
    from crlm.registry import users

    return _changed(
        request, user, db, user_id, lambda name: users.revoke_sessions(db, name),
        "logout", "every session and token ended by an admin",
        "Every session and API token of {name} has ended.",
    )


@router.post("/users/{user_id}/reset-password", dependencies=[Depends(require_csrf)])
def reset_password(request: Request, user: Admin, db: Db, user_id: int) -> Response:
    """Give a user a one-time password, shown once on the answer page."""
    from crlm.registry import audit, users

    name = _target(db, user_id).username
    password = users.reset_password(db, name)
    audit.record(db, actor=user.username, action="update", entity="user", entity_id=name,
                 detail="one-time password issued")
    db.commit()
    forget_user(request, user_id)
    if user_id == user.id:
        request.session.clear()
    return _users_page(request, user, db, one_time=(name, password))


@router.post("/users/{user_id}/delete", dependencies=[Depends(require_csrf)])
def delete_user(
    request: Request,
    user: Admin,
    db: Db,
    user_id: int,
    confirm: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Delete a user after the admin has typed the username again."""
    from crlm.registry import users

    name = _target(db, user_id).username
    if confirm.strip().casefold() != name:
        return _users_page(
            request, user, db, f"Type the username {name} to confirm the deletion.", 422
        )
    return _changed(
        request, user, db, user_id, lambda n: users.delete_user(db, n),
        "delete", "user deleted", "{name} is deleted; their sessions and tokens have ended.",
    )


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
def audit_csv(request: Request, user: Admin, db: Db, q: Audit) -> StreamingResponse:
    """Every event matching the filters as CSV, streamed as it is read (the export itself is
    audited first, with the number of events it holds; it is not part of its own file)."""
    from crlm.registry import audit

    zone = _zone(user)
    f = q.to_filter(zone)
    up_to = audit.last_seq(db)
    total = audit.count_events(db, f)
    audit.record(db, actor=user.username, action="export", entity="audit", entity_id=None,
                 detail=f"{total} events; filters {q.params() or 'none'}")
    db.commit()
    factory = request.app.state.session_factory

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = safe_csv_writer(out)
        writer.writerow(AUDIT_CSV_COLUMNS)
        with factory() as session:
            for n, e in enumerate(audit.iter_events(session, f, up_to=up_to), start=1):
                writer.writerow([_local(e.at, zone), str(zone), e.actor, e.action, e.entity,
                                 e.entity_id or "", e.detail or ""])
                if n % 1000 == 0:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
        yield out.getvalue()

    stamp = dt.datetime.now(zone).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        lines(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="crlm-audit-{stamp}.csv"'},
    )
