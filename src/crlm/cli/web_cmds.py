"""CLI adapter: ``crlm serve`` runs the web app with uvicorn."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class LogFormat(StrEnum):
    """How log lines are written (see :mod:`crlm.web.logs`)."""

    json = "json"
    text = "text"


class LogLevel(StrEnum):
    """Lowest level of the log lines written."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


#: Seconds a worker may take to start (and to answer the supervisor) before it is restarted.
WORKER_START_TIMEOUT_S = 60


def register(app: typer.Typer) -> None:
    """Add the web commands to the main app."""
    app.command()(serve)


def serve(
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (default: CRLM_DATABASE_URL or sqlite:///./crlm.db)"),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    reload: Annotated[bool, typer.Option("--reload", help="Restart on code changes (dev)")] = False,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers",
            help="Trust X-Forwarded-Proto/For from 127.0.0.1 (behind a TLS reverse proxy)",
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            envvar="CRLM_FORWARDED_ALLOW_IPS",
            help="Addresses or networks (comma-separated, e.g. 172.18.0.0/16) of reverse "
            "proxies whose X-Forwarded-Proto/For are trusted; implies --proxy-headers",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(min=1, envvar="CRLM_WORKERS",
                     help="Worker processes (shared state lives in the database)"),
    ] = 1,
    log_format: Annotated[
        LogFormat,
        typer.Option(envvar="CRLM_LOG_FORMAT", help="Log lines as JSON objects or text"),
    ] = LogFormat.text,
    log_level: Annotated[
        LogLevel, typer.Option(envvar="CRLM_LOG_LEVEL", help="Lowest level logged")
    ] = LogLevel.info,
) -> None:
    """Serve the web app and JSON API (docs at /api/v1/docs; health at /healthz, /readyz).

    The signing key comes from CRLM_SECRET_KEY, else from a 0600 key file next to the SQLite
    database (created on first start). The database is migrated before the workers start.
    Logs go to stderr: one access line per request (method, route template, status, duration,
    request id), never a patient's data.
    """
    import inspect
    import os

    import uvicorn

    from crlm.cli._common import fail_bad_input
    from crlm.registry.db import database_url, init_db
    from crlm.web.logs import configure_logging, logging_config
    from crlm.web.settings import SecretKeyError, resolve_secret_key

    url = database_url(db)
    if workers > 1 and reload:
        fail_bad_input("--workers: cannot be combined with --reload")
    if workers > 1 and _in_memory(url):
        fail_bad_input("--workers: an in-memory database cannot be shared by several workers")
    try:
        resolve_secret_key(url)  # fail early, before uvicorn starts, on an unsafe key file
    except SecretKeyError as exc:
        fail_bad_input(str(exc))
    configure_logging(log_format.value, log_level.value)
    init_db(url).dispose()  # migrate once here, not in every worker at the same moment
    os.environ["CRLM_DATABASE_URL"] = url  # the factory (also in --reload workers) reads it
    trusted = forwarded_allow_ips or ("127.0.0.1" if proxy_headers else None)
    typer.echo(f"crlm: serving {_redact(url)} on http://{host}:{port}/ (API docs /api/v1/docs)")
    extra = {}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.run).parameters:
        # a worker imports the app before answering the supervisor's pings: on a busy host
        # that takes longer than uvicorn's 5 s, and the worker would be killed and restarted
        extra["timeout_worker_healthcheck"] = WORKER_START_TIMEOUT_S
    uvicorn.run(
        "crlm.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        proxy_headers=trusted is not None,
        forwarded_allow_ips=trusted,
        log_config=logging_config(log_format.value, log_level.value),
        log_level=log_level.value,
        access_log=False,  # crlm.access logs route templates instead of concrete paths
        **extra,
    )


def _in_memory(url: str) -> bool:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database or ""
    return parsed.get_backend_name() == "sqlite" and (
        not name or name == ":memory:" or "mode=memory" in url
    )


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
