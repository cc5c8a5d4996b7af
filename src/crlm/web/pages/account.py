"""The user's own account: change the password, log out everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crlm.registry.passwords import MIN_PASSWORD_CHARS
from crlm.web.auth import MAX_PASSWORD_CHARS
from crlm.web.deps import Db, PageUser, forget_user, load_user, start_session
from crlm.web.pages.common import render, require_csrf

router = APIRouter(include_in_schema=False)


def _account_page(
    request: Request, user: PageUser, error: str | None = None, status_code: int = 200,
    messages: list[str] | None = None,
) -> HTMLResponse:
    return render(
        request, "account.html", user, status_code=status_code, error=error,
        messages=messages or [], min_password_chars=MIN_PASSWORD_CHARS,
    )


@router.get("/account")
def account_page(request: Request, user: PageUser) -> HTMLResponse:
    """Change the password; log out everywhere."""
    return _account_page(request, user)


@router.get("/account/password")
def password_page(request: Request, user: PageUser) -> HTMLResponse:
    """The password form (where a one-time password leads)."""
    return _account_page(request, user)


@router.post("/account/password", dependencies=[Depends(require_csrf)])
def change_password(
    request: Request,
    user: PageUser,
    db: Db,
    current: Annotated[str, Form(max_length=MAX_PASSWORD_CHARS)] = "",
    new: Annotated[str, Form(max_length=MAX_PASSWORD_CHARS)] = "",
    again: Annotated[str, Form(max_length=MAX_PASSWORD_CHARS)] = "",
) -> Response:
    """Check the current password, set the new one; other sessions and tokens end."""
    from crlm.registry import audit, users

    if users.authenticate(db, user.username, current) is None:
        db.rollback()
        return _account_page(request, user, "The current password is wrong.", 422)
    if new != again:
        return _account_page(request, user, "The two new passwords differ.", 422)
    if new == current:
        return _account_page(request, user, "Choose a password you have not used here.", 422)
    try:
        users.set_password(db, user.username, new)
    except users.UserError as exc:
        db.rollback()
        return _account_page(request, user, str(exc).capitalize() + ".", 422)
    audit.record(db, actor=user.username, action="update", entity="user",
                 entity_id=user.username, detail="password changed")
    db.commit()
    forget_user(request, user.id)
    fresh = load_user(db, user.id) if user.id is not None else None
    if fresh is not None:
        start_session(request, fresh)  # this session goes on; every other one has ended
    return _account_page(
        request, fresh or user,
        messages=["Password changed. Every other session and API token has ended."],
    )


@router.post("/account/logout-everywhere", dependencies=[Depends(require_csrf)])
def logout_everywhere(request: Request, user: PageUser, db: Db) -> RedirectResponse:
    """End every session and API token of this user, this one too."""
    from crlm.registry import audit, users

    users.revoke_sessions(db, user.username)
    audit.record(db, actor=user.username, action="logout", entity="user",
                 entity_id=user.username, detail="every session and token")
    db.commit()
    forget_user(request, user.id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
