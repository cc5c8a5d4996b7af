"""``POST /api/v1/auth/token``: exchange a username and password for a bearer API token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from crlm.web.auth import MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, login
from crlm.web.deps import ApiUser, Db, Role, forget_user

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenRequest(BaseModel):
    """Credentials of a registry user."""

    username: str = Field(min_length=1, max_length=MAX_USERNAME_CHARS)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class TokenResponse(BaseModel):
    """A bearer token for the ``Authorization`` header."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Lifetime in seconds")


class Me(BaseModel):
    """The authenticated user."""

    username: str
    role: Role
    centre: str | None


@router.post(
    "/token",
    responses={401: {"description": "Wrong username or password"},
               403: {"description": "One-time password: choose a new one on the web page"},
               429: {"description": "Too many login attempts (per username and address, per "
                                    "address or per username)"}},
)
def issue_token(body: TokenRequest, request: Request, db: Db) -> TokenResponse:
    """Log in; answers a bearer token.

    Limits per 5 minutes: 5 attempts per username and address, 20 per address, 20 per
    username (successful logins give theirs back); over a limit → 429 with ``Retry-After``.
    """
    user = login(request, db, body.username, body.password)
    if user is None or user.id is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong username or password")
    if user.must_change_password:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="your password was reset: log in on the web page and choose a new one first",
        )
    tokens = request.app.state.api_tokens
    return TokenResponse(
        access_token=tokens.issue(user.id, user.generation), expires_in=tokens.max_age_s
    )


@router.post("/logout-everywhere", status_code=status.HTTP_204_NO_CONTENT)
def logout_everywhere(user: ApiUser, request: Request, db: Db) -> None:
    """End every session and API token of the caller (this token too)."""
    from crlm.registry import audit, users

    users.revoke_sessions(db, user.username)
    audit.record(db, actor=user.username, action="logout", entity="user",
                 entity_id=user.username, detail="every session and token")
    db.commit()
    forget_user(request, user.id)


@router.get("/me")
def whoami(user: ApiUser) -> Me:
    """Who the token or session belongs to."""
    return Me(username=user.username, role=user.role, centre=user.centre)
