"""Admin pages: users (list, add) and the audit log."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crlm.web.deps import CurrentUser, Db, Role, page_roles
from crlm.web.pages.common import render, require_csrf

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


@router.get("/audit")
def audit_page(
    request: Request,
    user: Admin,
    db: Db,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Audit events, newest first."""
    from crlm.registry import audit

    events = audit.list_events(
        db, limit=AUDIT_PAGE_SIZE + 1, offset=(page - 1) * AUDIT_PAGE_SIZE,
        actor=actor or None, entity_id=entity_id or None,
    )
    params = {k: v for k, v in {"actor": actor, "entity_id": entity_id}.items() if v}

    def page_url(n: int) -> str:
        return "/audit?" + urlencode({**params, "page": n})

    return render(
        request, "audit.html", user, events=events[:AUDIT_PAGE_SIZE], actor=actor,
        entity_id=entity_id,
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if len(events) > AUDIT_PAGE_SIZE else None,
    )
