"""Login, logout and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crlm.web.auth import login
from crlm.web.deps import (
    PASSWORD_CHANGE_PATH,
    Db,
    PageUser,
    load_user,
    session_user_claims,
    start_session,
)
from crlm.web.pages.common import render, require_csrf, safe_next
from crlm.web.security import csrf_token

router = APIRouter()


@router.get("/", include_in_schema=False)
def home(user: PageUser) -> RedirectResponse:
    """Patients for clinical users, the cohort page for researchers."""
    return RedirectResponse("/patients" if user.sees_identifiable_data else "/cohort", 303)


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The login form."""
    csrf_token(request.session)
    return render(request, "login.html", None, next=safe_next(next))


@router.post("/login", include_in_schema=False, dependencies=[Depends(require_csrf)])
def login_submit(
    request: Request,
    db: Db,
    username: Annotated[str, Form(max_length=1024)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """Check the password; on success start a fresh session (new CSRF token)."""
    user = login(request, db, username, password)
    if user is None:
        return render(
            request, "login.html", None, status_code=401,
            error="Wrong username or password.", username=username, next=safe_next(next),
        )
    start_session(request, user)  # no session fixation: nothing carries over from before login
    if user.must_change_password:
        return RedirectResponse(PASSWORD_CHANGE_PATH, status_code=303)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", include_in_schema=False, dependencies=[Depends(require_csrf)])
def logout(request: Request, db: Db) -> RedirectResponse:
    """End the session (audited)."""
    from crlm.registry import audit

    user_id, _generation = session_user_claims(request)
    user = load_user(db, user_id) if type(user_id) is int else None
    if user is not None:
        audit.record(
            db, actor=user.username, action="logout", entity="user", entity_id=user.username
        )
        db.commit()
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
