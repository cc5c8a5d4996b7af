"""Structured logs of the web server: request ids, an access log, JSON or text, no patient data.

- Every request gets an id: the client's ``X-Request-ID`` when it is a plain token (letters,
  digits, ``._:-``, at most 128 characters), else a new random one. It is returned in the
  response's ``X-Request-ID`` header and is on every log line written while the request runs
  (a context variable read by :class:`RequestIdFilter`; the thread pool copies it).
- The access log (logger ``crlm.access``) has the method, the *route template*
  (``/api/v1/patients/{patient_id}``, never the concrete path, never the query string: both may
  carry identifiers or search terms), the status and the duration. uvicorn's own access log is
  switched off by ``crlm serve`` because it writes the concrete path and query.
- Exceptions are logged with their type and traceback but without their message, which may
  quote stored values (SQLAlchemy, pydantic): see :func:`exception_text`.
- ``crlm serve --log-format json|text`` (``CRLM_LOG_FORMAT``) picks the format; the same
  configuration is handed to uvicorn, so every worker process logs alike.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.config
import re
import time
import traceback
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the module is imported by every worker's logging set-up: keep it light
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_LOGGER = "crlm.access"
LOG_FORMAT_ENV = "CRLM_LOG_FORMAT"
#: Routes polled by health checks: logged at DEBUG so that they do not drown the access log.
QUIET_ROUTES = frozenset({"/healthz", "/readyz"})
#: Fields the access log adds to its records (JSON keys as well).
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")

_REQUEST_ID_OK = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("crlm_request_id", default=None)


#: The formats :func:`logging_config` writes.
LOG_FORMATS = ("json", "text")


def current_request_id() -> str | None:
    """The id of the request being handled (None outside a request)."""
    return _request_id.get()


def accepted_request_id(presented: str | None) -> str:
    """The client's request id when it is a plain token, else a fresh random one."""
    if presented and _REQUEST_ID_OK.fullmatch(presented):
        return presented
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Put the current request id on every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or "-"
        return True


def exception_text(exc_info: Any) -> str:
    """Type and traceback of an exception, without its message (it may quote patient data)."""
    exc_type, _exc, tb = exc_info
    frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
    name = getattr(exc_type, "__qualname__", str(exc_type))
    return f"Traceback (most recent call last):\n{frames}{name} (message not logged)"


class TextFormatter(logging.Formatter):
    """``time level logger [request id] message``; exceptions without their message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
                         defaults={"request_id": "-"})

    def format(self, record: logging.LogRecord) -> str:
        cached = record.exc_text  # another handler's full text, message included: not ours
        record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return exception_text(ei)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id (+ access
    fields)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id.get(),
        }
        for key in ACCESS_FIELDS:
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exception"] = exception_text(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def logging_config(log_format: str = "text", level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for crlm and uvicorn (uvicorn's ``log_config``)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
    formatter = f"crlm.web.logs.{'Json' if log_format == 'json' else 'Text'}Formatter"
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
               "formatter": "crlm", "filters": ["request_id"]}
    level_name = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "crlm.web.logs.RequestIdFilter"}},
        "formatters": {"crlm": {"()": formatter}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "crlm": {"level": level_name},
            "uvicorn": {"level": level_name},
            "uvicorn.error": {"level": level_name},
            # concrete paths and query strings: replaced by crlm.access
            "uvicorn.access": {"level": "WARNING", "propagate": False, "handlers": []},
        },
    }


def configure_logging(log_format: str = "text", level: str = "info") -> None:
    """Install :func:`logging_config` in this process."""
    logging.config.dictConfig(logging_config(log_format, level))


class RouteTemplates:
    """The route template of a handled request: ``/api/v1/patients/{patient_id}``.

    The matched route is in ``scope["route"]``; with routers included lazily (FastAPI ≥ 0.13x)
    its own path lacks the prefix, so the full templates are looked up once from the app's
    route table. Static files give their mount (``/static/{path}``); a request no route
    matched gives ``(no route)``.
    """

    def __init__(self, routes: Callable[[], list[Any]]) -> None:
        self._routes = routes
        self._full: dict[int, str] | None = None

    def _table(self) -> dict[int, str]:
        try:
            from fastapi.routing import iter_route_contexts
        except ImportError:  # FastAPI before lazy inclusion: every route holds its full path
            routes = self._routes()
            return {id(r): r.path for r in routes if isinstance(getattr(r, "path", None), str)}
        return {id(c.original_route): c.path for c in iter_route_contexts(self._routes())}

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            if self._full is None:
                self._full = self._table()
            path = self._full.get(id(route), getattr(route, "path", None))
            if isinstance(path, str):
                return path
        from starlette.staticfiles import StaticFiles

        if isinstance(scope.get("endpoint"), StaticFiles):
            return f"{scope.get('root_path', '')}/{{path}}"
        return "(no route)"


_access = logging.getLogger(ACCESS_LOGGER)


class RequestLogMiddleware:
    """Request ids in and out, and one access log line per request (outermost middleware)."""

    def __init__(self, app: ASGIApp, routes: Callable[[], list[Any]] = list) -> None:
        from starlette.datastructures import MutableHeaders

        self.app = app
        self.route_template = RouteTemplates(routes)
        self._headers = MutableHeaders

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                presented = value.decode("latin-1")
                break
        request_id = accepted_request_id(presented)
        _request_id.set(request_id)  # each request runs in its own task (context)
        started = time.perf_counter()
        status = 500
        status_sent: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status = status_sent = message["status"]
                self._headers(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if status_sent is None:  # answer 500 here, so that the answer names the request
                await _send_500(send, request_id)
            raise  # uvicorn logs the traceback (this request's id, message left out)
        finally:
            route = self.route_template(scope)
            level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
            if _access.isEnabledFor(level):
                duration_ms = round((time.perf_counter() - started) * 1000, 2)
                method = scope.get("method", "")
                record = logging.LogRecord(  # not Logger.log: no caller lookup per request
                    ACCESS_LOGGER, level, __file__, 0, "%s %s %d %.1f ms",
                    (method, route, status, duration_ms), None,
                )
                record.method, record.route, record.status = method, route, status
                record.duration_ms, record.request_id = duration_ms, request_id
                _access.handle(record)


async def _send_500(send: Send, request_id: str) -> None:
    body = f"Internal Server Error (request id {request_id})\n".encode()
    await send({
        "type": "http.response.start",
        "status": 500,
        "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
            (b"cache-control", b"no-store"),
        ],
    })
    await send({"type": "http.response.body", "body": body})
