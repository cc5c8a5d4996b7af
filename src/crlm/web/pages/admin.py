"""Admin pages: users (list, add, role, enable/disable, password, delete) and the audit log.

Every change that ends a user's sessions (see :mod:`crlm.registry.users`) also drops the user
from this process's user cache, so it takes effect on their next request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crlm.web.deps import CurrentUser, Db, Role, forget_user, page_roles
from crlm.web.pages.common import render, require_csrf

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
