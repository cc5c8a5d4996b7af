"""Password login shared by the login page and the API token endpoint (rate-limited, audited)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from crlm.registry.passwords import MAX_USERNAME_CHARS, PolicyError, normalise_username
from crlm.web.deps import CurrentUser, load_user
from crlm.web.security import LoginRateLimiter

MAX_PASSWORD_CHARS = 1024
#: ``request.state`` flag: this request's refusal is in the audit log already (``login_failed``)
AUDITED_FLAG = "audited_refusal"

__all__ = ["MAX_PASSWORD_CHARS", "MAX_USERNAME_CHARS", "client_ip", "login", "printable"]


def client_ip(request: Request) -> str:
    """The peer address (uvicorn resolves trusted proxy headers when asked to)."""
    return request.client.host if request.client else "unknown"


def printable(text: str, limit: int = MAX_USERNAME_CHARS) -> str:
    """``text`` with control and invisible characters escaped (for the audit log)."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)[:limit]


def login(request: Request, db: Session, username: str, password: str) -> CurrentUser | None:
    """Check a username and password; None when wrong. Raises ``TooManyLoginAttemptsError``.

    The attempt is counted by the shared rate limiter before any password is checked, so an
    attempt over the limit costs no argon2 verification; below it, an unknown username costs
    the same verification as a known one. Every checked attempt is written to the audit log
    (action ``login`` or ``login_failed``).
    """
    from crlm.registry import audit, users

    limiter: LoginRateLimiter = request.app.state.login_limiter
    ip = client_ip(request)
    try:
        key = normalise_username(username)
    except PolicyError:
        key = username
    attempt = limiter.acquire(key, ip)
    user = None
    if 0 < len(username) <= MAX_USERNAME_CHARS and len(password) <= MAX_PASSWORD_CHARS:
        found = users.authenticate(db, username, password)
        user = load_user(db, found.id) if found is not None else None
    if user is None:
        audit.record(
            db,
            actor=printable(username) or "(empty)",
            action="login_failed",
            entity="user",
            entity_id=printable(username),
            detail=f"from {ip}",
        )
        db.commit()
        setattr(request.state, AUDITED_FLAG, True)  # the 401 that follows is this row already
        return None
    audit.record(
        db, actor=user.username, action="login", entity="user", entity_id=user.username,
        detail=f"from {ip}",
    )
    db.commit()  # before the limiter writes: SQLite allows one writer at a time
    limiter.succeeded(attempt)
    request.app.state.user_cache.put(user.id, user)
    return user
