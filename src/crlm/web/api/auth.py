"""``POST /api/v1/auth/token``: exchange a username and password for a bearer API token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from crlm.web.auth import MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, login
from crlm.web.deps import ApiUser, Db, Role

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
               429: {"description": "Too many failed logins for this username and address"}},
)
def issue_token(body: TokenRequest, request: Request, db: Db) -> TokenResponse:
    """Log in; answers a bearer token (5 failed logins per username and IP in 5 min → 429)."""
    user = login(request, db, body.username, body.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong username or password")
    tokens = request.app.state.api_tokens
    return TokenResponse(access_token=tokens.issue(user.username), expires_in=tokens.max_age_s)


@router.get("/me")
def whoami(user: ApiUser) -> Me:
    """Who the token or session belongs to."""
    return Me(username=user.username, role=user.role, centre=user.centre)
