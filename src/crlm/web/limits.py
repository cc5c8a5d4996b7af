"""Bounded request bodies: a global limit enforced while the body is read, larger per route.

:class:`BodyLimitMiddleware` answers **413** before the application runs when the declared
``Content-Length`` is over the route's limit, and otherwise counts the bytes the application
actually receives: the first chunk past the limit ends the request with 413, so a body sent
without a length (chunked) is never read, let alone buffered, beyond the limit. The 413 answer
closes the connection, so the server stops reading the rest of the upload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Every route: JSON patient bodies (1 MB, :mod:`crlm.web.api.body`), forms, login.
DEFAULT_MAX_BODY_BYTES = 2_000_000
#: Multipart overhead allowed on top of an upload's file size.
MULTIPART_SLACK_BYTES = 1_000_000


def upload_route_limits() -> dict[str, int]:
    """Larger limits of the upload routes, by exact path."""
    from crlm.web.pages.imports import MAX_UPLOAD_BYTES

    return {"/import": MAX_UPLOAD_BYTES + MULTIPART_SLACK_BYTES}


class BodyTooLargeError(Exception):
    """The request body went past its limit while being read."""


class BodyLimitMiddleware:
    """413 for request bodies over ``max_body_bytes`` (or the route's own limit)."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        route_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.route_limits = dict(route_limits or {})

    def limit_for(self, path: str) -> int:
        """The body limit of ``path``."""
        return self.route_limits.get(path, self.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_413(scope, send, limit)
            return

        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLargeError
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded and not response_started:
                return  # the application's answer to the interrupted read is replaced by 413
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or response_started:
                raise
        if exceeded and not response_started:
            await _send_413(scope, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(scope: Scope, send: Send, limit: int) -> None:
    detail = f"request body is larger than {limit:,} bytes".replace(",", " ")
    if str(scope.get("path", "")).startswith("/api/"):
        body = json.dumps({"detail": detail, "errors": []}).encode()
        content_type = b"application/json"
    else:
        body = f"413 Request body too large: {detail}.\n".encode()
        content_type = b"text/plain; charset=utf-8"
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    })
    await send({"type": "http.response.body", "body": body})
