"""Security pieces of the web app: login rate limit, CSRF tokens, API tokens, HTTP headers.

- Login rate limit: attempts counted in the database before the password is checked (one
  atomic upsert per key, shared by every worker), per (username, client IP), per client IP and
  per username; over a limit the answer is 429 without any password check.
- CSRF: synchronizer token kept in the signed session; every POST form carries it in the
  hidden field ``csrf_token`` and API calls authenticated by the session cookie send it in the
  ``X-CSRF-Token`` header. Compared in constant time.
- API tokens: ``itsdangerous`` timed signatures over the user's id and generation, valid for
  ``TOKEN_MAX_AGE_S``. A verified token is remembered (token → claims and expiry time) so that
  its signature is not recomputed on every request; the expiry is still checked on every
  request, and the claims are compared with the user (``crlm.web.deps``): raising the user's
  generation or deleting the user ends the token.
- Headers: a CSP without inline scripts, ``X-Frame-Options: DENY``, ``nosniff``, no referrer,
  ``Cache-Control: no-store`` on pages and API answers; ``Secure`` on cookies over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crlm.web.cache import TtlCache

CSRF_SESSION_KEY = "csrf"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_MAX_AGE_S = 8 * 3600
SESSION_MAX_AGE_S = 8 * 3600

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Swagger UI and ReDoc are served from this site (fastapi-offline's files): no CDN. ReDoc
#: writes its styles into <style> elements and renders in a blob: worker; the docs pages hold
#: no patient data.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S)


def csp_allowing_styles(html: str) -> str:
    """The page CSP plus the SHA-256 hashes of the document's inline ``<style>`` blocks."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in _STYLE_BLOCK.findall(html)
    )
    return PAGE_CSP.replace("style-src 'self'", f"style-src 'self' {hashes}".rstrip())


# ---------------------------------------------------------------------------- rate limit


@dataclass(frozen=True)
class LoginLimits:
    """Login attempts allowed per key in one window (the attempt being made counts)."""

    per_user_and_ip: int = 5
    per_ip: int = 20
    per_user: int = 20
    window_s: float = 300.0


@dataclass(frozen=True)
class LoginAttempt:
    """The keys one attempt was counted under (refunded on success)."""

    user_and_ip: str
    ip: str
    user: str


def _throttle_key(*parts: str) -> str:
    """A fixed-length key; usernames and addresses are not stored in clear."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class LoginRateLimiter:
    """Count login attempts per (username, IP), per IP and per username in the database.

    Every attempt is counted *before* the password is checked, with one atomic upsert per key
    (``INSERT … ON CONFLICT DO UPDATE … RETURNING``) in one short transaction: parallel
    requests cannot all slip under the limit, and every worker shares the same counters. A
    successful login forgets its (username, IP) counter and gives back its per-IP and
    per-username attempt, so only failures and refused attempts use up the budget. Windows are
    fixed: a key's window starts with its first attempt and lasts ``limits.window_s``.
    """

    #: Expired rows are deleted every this many attempts (per process).
    PRUNE_EVERY = 256

    def __init__(
        self,
        engine: Engine,
        limits: LoginLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.limits = limits or LoginLimits()
        self._clock = clock
        self._calls = 0
        self._lock = threading.Lock()

    @staticmethod
    def attempt_keys(username_key: str, client_ip: str) -> LoginAttempt:
        """The three keys of an attempt (``username_key`` is the normalised username)."""
        return LoginAttempt(
            user_and_ip=_throttle_key("user+ip", username_key, client_ip),
            ip=_throttle_key("ip", client_ip),
            user=_throttle_key("user", username_key),
        )

    def _upsert(self, conn: Connection, key: str, now: float) -> tuple[int, float]:
        from crlm.registry.models import LoginThrottle

        table = LoginThrottle.__table__
        expired = table.c.window_start <= now - self.limits.window_s
        insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
        stmt = (
            insert(table)
            .values(key=key, window_start=now, attempts=1)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "attempts": sa.case((expired, 1), else_=table.c.attempts + 1),
                    "window_start": sa.case((expired, now), else_=table.c.window_start),
                },
            )
            .returning(table.c.attempts, table.c.window_start)
        )
        attempts, window_start = conn.execute(stmt).one()
        return int(attempts), float(window_start)

    def acquire(self, username_key: str, client_ip: str) -> LoginAttempt:
        """Count one attempt; raises :class:`TooManyLoginAttemptsError` when over any limit."""
        keys = self.attempt_keys(username_key, client_ip)
        limits = {
            keys.user_and_ip: self.limits.per_user_and_ip,
            keys.ip: self.limits.per_ip,
            keys.user: self.limits.per_user,
        }
        now = self._clock()
        wait = 0.0
        with self.engine.begin() as conn:
            for key in sorted(limits):  # one lock order for every transaction: no deadlock
                attempts, window_start = self._upsert(conn, key, now)
                if attempts > limits[key]:
                    wait = max(wait, window_start + self.limits.window_s - now)
        self._maybe_prune(now)
        if wait > 0:
            raise TooManyLoginAttemptsError(max(1, math.ceil(wait)))
        return keys

    def succeeded(self, attempt: LoginAttempt) -> None:
        """A successful login: forget its (username, IP) failures, give back the others."""
        from crlm.registry.models import LoginThrottle

        table = LoginThrottle.__table__
        with self.engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.key == attempt.user_and_ip))
            conn.execute(
                sa.update(table)
                .where(table.c.key.in_([attempt.ip, attempt.user]), table.c.attempts > 0)
                .values(attempts=table.c.attempts - 1)
            )

    def _maybe_prune(self, now: float) -> None:
        with self._lock:
            self._calls += 1
            if self._calls % self.PRUNE_EVERY:
                return
        self.prune(now)

    def prune(self, now: float | None = None) -> int:
        """Delete counters whose window has passed; how many were deleted."""
        from crlm.registry.models import LoginThrottle

        table = LoginThrottle.__table__
        cutoff = (self._clock() if now is None else now) - self.limits.window_s
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(table).where(table.c.window_start <= cutoff)).rowcount


class TooManyLoginAttemptsError(Exception):
    """Raised when an attempt is over its budget (per username and IP, IP, or username)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


# ---------------------------------------------------------------------------- CSRF


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def csrf_valid(session: MutableMapping[str, Any], presented: object) -> bool:
    """True when ``presented`` equals the session's token (constant-time comparison)."""
    expected = session.get(CSRF_SESSION_KEY)
    if not isinstance(expected, str) or not expected or not isinstance(presented, str):
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


# ---------------------------------------------------------------------------- API tokens


#: Verified tokens remembered at most this long (each is refused from its own expiry on).
VERIFIED_TOKEN_TTL_S = 300.0


@dataclass(frozen=True)
class TokenClaims:
    """Whom a token was issued to: the user's id and generation at issue time."""

    user_id: int
    generation: int


class ApiTokens:
    """Issue and check signed, expiring bearer tokens naming a user id and generation.

    ``clock`` (wall-clock seconds, like the tokens' signed timestamps) decides whether a
    remembered token has expired. The caller compares the claims with the stored user, so a
    token dies with its user's generation (and a deleted user's id is never reused).
    """

    def __init__(
        self,
        secret_key: str,
        max_age_s: int = TOKEN_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="crlm.api-token.v2")
        self.max_age_s = max_age_s
        self._clock = clock
        self._verified: TtlCache[str, tuple[TokenClaims, float]] = TtlCache(
            ttl_s=VERIFIED_TOKEN_TTL_S, max_entries=10_000
        )

    def issue(self, user_id: int, generation: int) -> str:
        """A token for the user ``user_id`` at ``generation``."""
        return self._serializer.dumps(
            {"uid": user_id, "gen": generation, "n": secrets.token_hex(4)}
        )

    def claims(self, token: str) -> TokenClaims | None:
        """The claims of a valid, unexpired token; None otherwise."""
        known = self._verified.get(token)
        if known is not None:
            claims, expires_at = known
            return claims if self._clock() <= expires_at else None
        try:
            data, signed_at = self._serializer.loads(
                token, max_age=self.max_age_s, return_timestamp=True
            )
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict):
            return None
        uid, gen = data.get("uid"), data.get("gen")
        if type(uid) is not int or type(gen) is not int:
            return None
        claims = TokenClaims(uid, gen)
        self._verified.put(token, (claims, signed_at.timestamp() + self.max_age_s))
        return claims


# ---------------------------------------------------------------------------- headers


class SecurityHeadersMiddleware:
    """Add security headers to every HTTP response; mark cookies ``Secure`` over HTTPS."""

    def __init__(self, app: ASGIApp, docs_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        csp = DOCS_CSP if scope.get("path") in self.docs_paths else PAGE_CSP
        is_static = str(scope.get("path", "")).startswith("/static/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:  # a route may set a stricter one
                    headers["Content-Security-Policy"] = csp
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if not is_static:
                    headers["Cache-Control"] = "no-store"
                if https:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
                    cookies = headers.getlist("set-cookie")
                    if cookies:
                        del headers["set-cookie"]
                        for cookie in cookies:
                            secure = "secure" in cookie.lower().split("; ")
                            headers.append("set-cookie", cookie if secure else cookie + "; secure")
            await send(message)

        await self.app(scope, receive, send_wrapper)
