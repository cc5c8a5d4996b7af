"""Request dependencies: database session, the logged-in user, role and centre checks.

Authentication: pages use the signed session cookie set by ``POST /login``. The JSON API accepts
either an ``Authorization: Bearer <token>`` API token (from ``POST /api/v1/auth/token``) or the
same session cookie; with the cookie, state-changing API calls must also send the session's CSRF
token in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from crlm.registry.users import Role
from crlm.web.cache import TtlCache
from crlm.web.security import CSRF_HEADER, csrf_valid

SESSION_USER_KEY = "user"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class CurrentUser:
    """The authenticated user of one request."""

    username: str
    role: Role
    centre: str | None

    @property
    def sees_identifiable_data(self) -> bool:
        """Clinicians and admins see patient records; researchers see de-identified data only."""
        return self.role in (Role.clinician, Role.admin)

    def may_access_centre(self, centre: str | None) -> bool:
        """Admins reach every centre; clinicians only their own; researchers none."""
        if self.role == Role.admin:
            return True
        return self.role == Role.clinician and centre is not None and centre == self.centre

    @property
    def centre_filter(self) -> str | None:
        """Centre to restrict listings to (None: all centres, for admins)."""
        return None if self.role == Role.admin else self.centre


def get_db(request: Request) -> Iterator[Session]:
    """One SQLAlchemy session per request; handlers commit what they change."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


Db = Annotated[Session, Depends(get_db)]


def load_user(db: Session, username: str) -> CurrentUser | None:
    """The registry user ``username`` as a :class:`CurrentUser`, or None if unknown/inactive."""
    from crlm.registry import users

    user = users.get_user(db, username)
    if user is None or not getattr(user, "active", True):
        return None
    return CurrentUser(username=user.username, role=Role(user.role), centre=user.centre)


#: Known users, so that each request need not query the registry. A deleted, deactivated or
#: re-roled user is seen within 10 s. Unknown usernames are never cached.
USER_CACHE_TTL_S = 10.0


def user_cache(
    ttl_s: float = USER_CACHE_TTL_S, clock: Callable[[], float] = time.monotonic
) -> TtlCache[str, CurrentUser]:
    """A cache of :class:`CurrentUser` by username."""
    return TtlCache(ttl_s=ttl_s, max_entries=10_000, clock=clock)


async def cached_user(request: Request, username: str) -> CurrentUser | None:
    """The user ``username`` from the app's user cache, else from the registry."""
    cache: TtlCache[str, CurrentUser] = request.app.state.user_cache
    user = cache.get(username)
    if user is not None:
        return user

    def lookup() -> CurrentUser | None:
        with request.app.state.session_factory() as db:
            return load_user(db, username)

    user = await run_in_threadpool(lookup)
    if user is not None:
        cache.put(username, user)
    return user


# ---------------------------------------------------------------------------- API


_bearer = HTTPBearer(auto_error=False, description="API token from POST /api/v1/auth/token")


async def api_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> CurrentUser:
    """The API caller from a bearer token or the session cookie; 401 when neither is valid."""
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="authentication required (Bearer API token or session cookie)",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is not None:
        username = request.app.state.api_tokens.username(credentials.credentials)
        user = await cached_user(request, username) if username else None
        if user is None:
            raise unauthorized
        request.state.user = user  # names the actor if the request is refused later
        return user
    username = request.session.get(SESSION_USER_KEY)
    user = await cached_user(request, username) if isinstance(username, str) else None
    if user is None:
        raise unauthorized
    request.state.user = user
    if request.method not in SAFE_METHODS and not csrf_valid(
        request.session, request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"missing or invalid {CSRF_HEADER} header"
        )
    return user


ApiUser = Annotated[CurrentUser, Depends(api_user)]


def api_roles(*roles: Role):
    """Dependency: the API caller, who must hold one of ``roles`` (else 403)."""

    def dependency(user: ApiUser) -> CurrentUser:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {user.role.value} may not use this endpoint",
            )
        return user

    return Depends(dependency)


# ---------------------------------------------------------------------------- pages


class LoginRequiredError(Exception):
    """A page needs a logged-in user; the handler redirects to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PageForbiddenError(Exception):
    """The logged-in user's role may not see this page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def page_user(request: Request) -> CurrentUser:
    """The logged-in user of a page; redirects to /login when there is none."""
    username = request.session.get(SESSION_USER_KEY)
    user = await cached_user(request, username) if isinstance(username, str) else None
    if user is None:
        request.session.pop(SESSION_USER_KEY, None)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(target)
    request.state.user = user  # names the actor if the request is refused later
    return user


PageUser = Annotated[CurrentUser, Depends(page_user)]


def page_roles(*roles: Role):
    """Dependency: the page user, who must hold one of ``roles`` (else a 403 page)."""

    def dependency(user: PageUser) -> CurrentUser:
        if user.role not in roles:
            raise PageForbiddenError(f"Your role ({user.role.value}) may not open this page.")
        return user

    return Depends(dependency)
