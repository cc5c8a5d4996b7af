"""Security pieces of the web app: login rate limit, CSRF tokens, API tokens, HTTP headers.

- Login rate limit: at most ``max_failures`` failed logins per (username, client IP) in a
  sliding window; further attempts answer 429 until the window has passed.
- CSRF: synchronizer token kept in the signed session; every POST form carries it in the
  hidden field ``csrf_token`` and API calls authenticated by the session cookie send it in the
  ``X-CSRF-Token`` header. Compared in constant time.
- API tokens: ``itsdangerous`` timed signatures over the username, valid for ``TOKEN_MAX_AGE_S``.
  A verified token is remembered (token → username and expiry time) so that its signature is
  not recomputed on every request; the expiry is still checked on every request. The user is
  looked up again through the user cache (``crlm.web.deps.USER_CACHE_TTL_S``), so a deleted,
  deactivated or re-roled user's token follows within that bound.
- Headers: a CSP without inline scripts, ``X-Frame-Options: DENY``, ``nosniff``, no referrer,
  ``Cache-Control: no-store`` on pages and API answers; ``Secure`` on cookies over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
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


class LoginRateLimiter:
    """Count failed logins per key in a sliding window (thread-safe, in process memory)."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.max_failures = max_failures
        self.max_keys = max_keys
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(username: str, client_ip: str) -> tuple[str, str]:
        """Rate-limit key: case-folded username and client address."""
        return (username.strip().casefold(), client_ip)

    def _prune(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def retry_after_s(self, username: str, client_ip: str) -> int:
        """Seconds until another attempt is allowed; 0 when not blocked."""
        key = self.key(username, client_ip)
        now = self._clock()
        with self._lock:
            times = self._prune(key, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, int(self.window_s - (now - times[0])) + 1)

    def record_failure(self, username: str, client_ip: str) -> None:
        """Count one failed attempt (and forget expired keys when many have piled up)."""
        key = self.key(username, client_ip)
        now = self._clock()
        with self._lock:
            times = self._prune(key, now)
            times.append(now)
            self._failures[key] = times
            if len(self._failures) > self.max_keys:
                window = self.window_s
                stale = [k for k, t in self._failures.items() if not t or now - t[-1] >= window]
                for k in stale:
                    del self._failures[k]

    def reset(self, username: str, client_ip: str) -> None:
        """Forget the failures of a key after a successful login."""
        with self._lock:
            self._failures.pop(self.key(username, client_ip), None)


class TooManyLoginAttemptsError(Exception):
    """Raised when a (username, IP) pair is over its failed-login budget."""

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


class ApiTokens:
    """Issue and check signed, expiring bearer tokens naming a user.

    ``clock`` (wall-clock seconds, like the tokens' signed timestamps) decides whether a
    remembered token has expired.
    """

    def __init__(
        self,
        secret_key: str,
        max_age_s: int = TOKEN_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="crlm.api-token")
        self.max_age_s = max_age_s
        self._clock = clock
        self._verified: TtlCache[str, tuple[str, float]] = TtlCache(
            ttl_s=VERIFIED_TOKEN_TTL_S, max_entries=10_000
        )

    def issue(self, username: str) -> str:
        """A token for ``username``."""
        return self._serializer.dumps({"sub": username, "n": secrets.token_hex(4)})

    def username(self, token: str) -> str | None:
        """The username a valid, unexpired token names; None otherwise."""
        known = self._verified.get(token)
        if known is not None:
            username, expires_at = known
            return username if self._clock() <= expires_at else None
        try:
            data, signed_at = self._serializer.loads(
                token, max_age=self.max_age_s, return_timestamp=True
            )
        except (BadSignature, SignatureExpired):
            return None
        sub = data.get("sub") if isinstance(data, dict) else None
        if not isinstance(sub, str):
            return None
        self._verified.put(token, (sub, signed_at.timestamp() + self.max_age_s))
        return sub


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
