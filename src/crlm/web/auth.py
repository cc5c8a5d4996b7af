"""Password login shared by the login page and the API token endpoint (rate-limited, audited)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from crlm.web.deps import CurrentUser, load_user
from crlm.web.security import LoginRateLimiter, TooManyLoginAttemptsError

MAX_USERNAME_CHARS = 64  # registry users.username and audit actor are VARCHAR(64)
MAX_PASSWORD_CHARS = 1024
#: ``request.state`` flag: this request's refusal is in the audit log already (``login_failed``)
AUDITED_FLAG = "audited_refusal"


def client_ip(request: Request) -> str:
    """The peer address (uvicorn resolves trusted proxy headers when asked to)."""
    return request.client.host if request.client else "unknown"


def login(request: Request, db: Session, username: str, password: str) -> CurrentUser | None:
    """Check a username and password; None when wrong. Raises :class:`TooManyLoginAttemptsError`.

    Every attempt is written to the audit log (action ``login`` or ``login_failed``).
    """
    from crlm.registry import audit, users

    limiter: LoginRateLimiter = request.app.state.login_limiter
    ip = client_ip(request)
    wait = limiter.retry_after_s(username, ip)
    if wait:
        raise TooManyLoginAttemptsError(wait)
    user = None
    if 0 < len(username) <= MAX_USERNAME_CHARS and len(password) <= MAX_PASSWORD_CHARS:
        found = users.authenticate(db, username, password)
        user = load_user(db, found.username) if found is not None else None
    if user is None:
        limiter.record_failure(username, ip)
        audit.record(
            db,
            actor=username[:MAX_USERNAME_CHARS] or "(empty)",
            action="login_failed",
            entity="user",
            entity_id=username[:MAX_USERNAME_CHARS],
            detail=f"from {ip}",
        )
        db.commit()
        setattr(request.state, AUDITED_FLAG, True)  # the 401 that follows is this row already
        return None
    limiter.reset(username, ip)
    audit.record(
        db, actor=user.username, action="login", entity="user", entity_id=user.username,
        detail=f"from {ip}",
    )
    db.commit()
    return user
