"""CLI adapter: ``crlm serve`` runs the web app with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


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
) -> None:
    """Serve the web app and JSON API (docs at /api/v1/docs).

    The signing key comes from CRLM_SECRET_KEY, else from a 0600 key file next to the SQLite
    database (created on first start).
    """
    import os

    import uvicorn

    from crlm.cli._common import fail_bad_input
    from crlm.registry.db import database_url
    from crlm.web.settings import SecretKeyError, resolve_secret_key

    url = database_url(db)
    try:
        resolve_secret_key(url)  # fail early, before uvicorn starts, on an unsafe key file
    except SecretKeyError as exc:
        fail_bad_input(str(exc))
    os.environ["CRLM_DATABASE_URL"] = url  # the factory (also in --reload workers) reads it
    typer.echo(f"crlm: serving {_redact(url)} on http://{host}:{port}/ (API docs /api/v1/docs)")
    uvicorn.run(
        "crlm.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        proxy_headers=proxy_headers,
        forwarded_allow_ips="127.0.0.1" if proxy_headers else None,
        log_level="info",
    )


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
