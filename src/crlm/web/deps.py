"""Request dependencies: database session, the logged-in user, role and centre checks.

Authentication: pages use the signed session cookie set by ``POST /login``. The JSON API accepts
either an ``Authorization: Bearer <token>`` API token (from ``POST /api/v1/auth/token``) or the
same session cookie; with the cookie, state-changing API calls must also send the session's CSRF
token in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import asyncio
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

SESSION_USER_KEY = "uid"
SESSION_GENERATION_KEY = "gen"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class CurrentUser:
    """The authenticated user of one request."""

    username: str
    role: Role
    centre: str | None
    id: int | None = None
    generation: int = 0
    must_change_password: bool = False

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


def load_user(db: Session, user_id: int) -> CurrentUser | None:
    """The registry user ``user_id`` as a :class:`CurrentUser`, or None if unknown/inactive."""
    from crlm.registry import users

    user = users.get_user_by_id(db, user_id)
    if user is None or not user.active:
        return None
    return CurrentUser(
        username=user.username, role=Role(user.role), centre=user.centre, id=user.id,
        generation=user.generation, must_change_password=user.must_change_password,
    )


#: Known users, so that each request need not query the registry. Changes made through this
#: process (admin pages, account page) drop the entry at once (:func:`forget_user`); a change
#: that ends sessions or tokens made elsewhere (the CLI, another worker) empties the cache within
#: the revocation check interval (:mod:`crlm.web.revocation`, 1 s by default); other changes
#: are seen within 10 s. Unknown ids are never cached.
USER_CACHE_TTL_S = 10.0


def user_cache(
    ttl_s: float = USER_CACHE_TTL_S, clock: Callable[[], float] = time.monotonic
) -> TtlCache[int, CurrentUser]:
    """A cache of :class:`CurrentUser` by user id."""
    return TtlCache(ttl_s=ttl_s, max_entries=10_000, clock=clock)


def forget_user(request: Request, user_id: int | None) -> None:
    """Drop a changed user from this process's cache (their next request reads the registry)."""
    if user_id is not None:
        request.app.state.user_cache.discard(user_id)


#: A cached user is re-read in the background once this share of its TTL has passed, so that
#: under steady traffic the entry is renewed before it expires and no request waits for it.
REFRESH_AHEAD_SHARE = 0.8


async def cached_user(request: Request, user_id: object, generation: object) -> CurrentUser | None:
    """The active user ``user_id`` if still at ``generation`` (user cache, else the registry).

    A cached user is never used past the cache's TTL. Near the end of it (the last 20 %) the
    next request starts one background registry read that renews the entry, so under load no
    request waits; a user not cached (or expired, or forgotten after a change made in this
    process) is read before answering, one read shared by concurrent requests.
    """
    if type(user_id) is not int or type(generation) is not int:
        return None
    await request.app.state.revocation_watch.ensure_fresh()
    cache: TtlCache[int, CurrentUser] = request.app.state.user_cache
    user, remaining = cache.get_with_remaining(user_id)
    if user is None or user.generation < generation:  # unknown here, or changed elsewhere
        user = await asyncio.shield(_refresh_user(request, user_id))
    elif remaining < (1 - REFRESH_AHEAD_SHARE) * cache.ttl_s:
        _refresh_user(request, user_id)
    if user is None or user.generation != generation:
        return None
    return user


def _refresh_user(request: Request, user_id: int) -> asyncio.Future[CurrentUser | None]:
    """The registry read of ``user_id`` in flight (started if none), which updates the cache."""
    pending: dict[int, asyncio.Future[CurrentUser | None]] = request.app.state.user_lookups
    future = pending.get(user_id)
    if future is not None:
        return future
    cache: TtlCache[int, CurrentUser] = request.app.state.user_cache
    factory = request.app.state.session_factory
    watch = request.app.state.revocation_watch

    def lookup() -> CurrentUser | None:
        with factory() as db:
            return load_user(db, user_id)

    async def refresh() -> CurrentUser | None:
        epoch = watch.epoch
        user = await run_in_threadpool(lookup)
        if watch.epoch == epoch:  # else a revocation was noticed meanwhile: the read may be stale
            if user is None:
                cache.discard(user_id)
            else:
                cache.put(user_id, user)
        return user

    def done(_future: asyncio.Future[CurrentUser | None]) -> None:
        if pending.get(user_id) is future:
            del pending[user_id]

    future = asyncio.ensure_future(refresh())
    pending[user_id] = future
    future.add_done_callback(done)
    return future


def forget_all_users(app: object) -> None:
    """Empty the user cache and drop the reads in flight (a revocation was noticed)."""
    state = app.state  # type: ignore[attr-defined]
    state.user_cache.clear()
    state.user_lookups.clear()


def session_user_claims(request: Request) -> tuple[object, object]:
    """(user id, generation) stored in the session cookie."""
    return request.session.get(SESSION_USER_KEY), request.session.get(SESSION_GENERATION_KEY)


def start_session(request: Request, user: CurrentUser) -> None:
    """Log ``user`` in on this session (a fresh session: nothing carries over)."""
    from crlm.web.security import csrf_token

    request.session.clear()
    request.session[SESSION_USER_KEY] = user.id
    request.session[SESSION_GENERATION_KEY] = user.generation
    csrf_token(request.session)


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
        claims = request.app.state.api_tokens.claims(credentials.credentials)
        user = (
            await cached_user(request, claims.user_id, claims.generation) if claims else None
        )
        if user is None:
            raise unauthorized
        request.state.user = user  # names the actor if the request is refused later
        _refuse_one_time_password(user)
        return user
    user = await cached_user(request, *session_user_claims(request))
    if user is None:
        raise unauthorized
    request.state.user = user
    _refuse_one_time_password(user)
    if request.method not in SAFE_METHODS and not csrf_valid(
        request.session, request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"missing or invalid {CSRF_HEADER} header"
        )
    return user


def _refuse_one_time_password(user: CurrentUser) -> None:
    if user.must_change_password:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="your password was reset: log in on the web page and choose a new one first",
        )


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


#: Pages a user with a one-time password may open (everything else leads to the first).
PASSWORD_CHANGE_PATH = "/account/password"
ONE_TIME_PASSWORD_PATHS = frozenset({PASSWORD_CHANGE_PATH, "/account", "/logout"})


class PasswordChangeRequiredError(Exception):
    """The user logged in with a one-time password; the handler redirects to the change page."""


async def page_user(request: Request) -> CurrentUser:
    """The logged-in user of a page; redirects to /login when there is none."""
    user = await cached_user(request, *session_user_claims(request))
    if user is None:
        request.session.pop(SESSION_USER_KEY, None)
        request.session.pop(SESSION_GENERATION_KEY, None)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(target)
    request.state.user = user  # names the actor if the request is refused later
    if user.must_change_password and request.url.path not in ONE_TIME_PASSWORD_PATHS:
        raise PasswordChangeRequiredError()
    return user


PageUser = Annotated[CurrentUser, Depends(page_user)]


def page_roles(*roles: Role):
    """Dependency: the page user, who must hold one of ``roles`` (else a 403 page)."""

    def dependency(user: PageUser) -> CurrentUser:
        if user.role not in roles:
            raise PageForbiddenError(f"Your role ({user.role.value}) may not open this page.")
        return user

    return Depends(dependency)
