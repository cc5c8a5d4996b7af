"""Login, logout and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crlm.web.auth import login
from crlm.web.deps import SESSION_USER_KEY, Db, PageUser
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
    request.session.clear()  # no session fixation: nothing carries over from before login
    request.session[SESSION_USER_KEY] = user.username
    csrf_token(request.session)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", include_in_schema=False, dependencies=[Depends(require_csrf)])
def logout(request: Request, db: Db) -> RedirectResponse:
    """End the session (audited)."""
    from crlm.registry import audit

    username = request.session.get(SESSION_USER_KEY)
    if isinstance(username, str):
        audit.record(db, actor=username, action="logout", entity="user", entity_id=username)
        db.commit()
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
