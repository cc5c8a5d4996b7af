"""The FastAPI application factory: JSON API under ``/api/v1`` and server-rendered pages."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from crlm.web.deps import forget_all_users, user_cache
from crlm.web.errors import install_exception_handlers
from crlm.web.forms import value_label
from crlm.web.limits import DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware, upload_route_limits
from crlm.web.logs import RequestLogMiddleware
from crlm.web.records import cohort_cache
from crlm.web.revocation import RevocationWatch
from crlm.web.revocation import revocation_check_s as revocation_check
from crlm.web.security import (
    SESSION_MAX_AGE_S,
    ApiTokens,
    LoginLimits,
    LoginRateLimiter,
    SecurityHeadersMiddleware,
    csrf_token,
)
from crlm.web.settings import resolve_secret_key

HERE = Path(__file__).resolve().parent
API_PREFIX = "/api/v1"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"
DOCS_URL = f"{API_PREFIX}/docs"
REDOC_URL = f"{API_PREFIX}/redoc"
SESSION_COOKIE = "crlm_session"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["csrf_token"] = lambda request: csrf_token(request.session)
    templates.env.globals["vlabel"] = value_label
    return templates


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Served start-up: move everything built so far out of the cyclic GC's reach.

    The app, templates, rule catalogue and imported modules live as long as the process, yet
    every full collection would walk them while a request waits; frozen, the collector only
    scans what requests allocate (a tail-latency fix, measured in benchmarks/RESULTS.md).
    """
    gc.collect()
    gc.freeze()
    yield


def create_app(
    database_url: str | None = None,
    *,
    secret_key: str | None = None,
    testing: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    route_body_limits: dict[str, int] | None = None,
    login_limits: LoginLimits | None = None,
    revocation_check_s: float | None = None,
) -> FastAPI:
    """Build the web app on ``database_url`` (default: ``CRLM_DATABASE_URL`` or ./crlm.db).

    The database is migrated to the newest schema. ``secret_key`` overrides ``CRLM_SECRET_KEY``
    and the key file. ``testing`` is recorded on ``app.state.testing`` and changes no behaviour:
    tests run every security check the served app runs. ``max_body_bytes`` bounds every request
    body and ``route_body_limits`` (path → bytes) the upload routes (default: the import page);
    ``login_limits`` the login attempts (:class:`crlm.web.security.LoginLimits`).
    ``revocation_check_s`` bounds how long a revocation made by another worker or the CLI
    takes to reach this one (default ``CRLM_REVOCATION_CHECK_S`` or 1 s; 0: every request).
    """
    from crlm.registry.db import database_url as resolve_url
    from crlm.registry.db import init_db, make_session_factory

    url = resolve_url(database_url)
    key = resolve_secret_key(url, secret_key)
    engine = init_db(url)

    app = FastAPI(
        title="crlm",
        summary="Colorectal liver metastases: registry, assessment and cohort analysis API.",
        version=_version(),
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        separate_input_output_schemas=False,
        lifespan=_lifespan,
    )
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.database_url = url
    app.state.testing = testing
    app.state.templates = _templates()
    app.state.login_limiter = LoginRateLimiter(engine, login_limits)
    app.state.api_tokens = ApiTokens(key)
    app.state.user_cache = user_cache()
    app.state.user_lookups = {}  # user id → the registry read in flight (one at a time)
    app.state.revocation_watch = RevocationWatch(
        engine,
        on_change=lambda: forget_all_users(app),
        interval_s=revocation_check() if revocation_check_s is None else revocation_check_s,
    )
    app.state.cohort_cache = cohort_cache()

    from crlm.web.api import router as api_router
    from crlm.web.health import router as health_router
    from crlm.web.pages import router as pages_router

    app.include_router(health_router)
    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(pages_router)
    app.mount("/static/api-docs", StaticFiles(directory=_api_docs_dir()), name="api-docs")
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get(DOCS_URL, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """Swagger UI, every asset served by this app (works without internet)."""
        return HTMLResponse((HERE / "static" / "docs.html").read_text(encoding="utf-8"))

    @app.get(REDOC_URL, include_in_schema=False)
    def api_redoc() -> HTMLResponse:
        """ReDoc, every asset served by this app."""
        return HTMLResponse((HERE / "static" / "redoc.html").read_text(encoding="utf-8"))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        """Browsers ask for /favicon.ico: the SVG icon."""
        return RedirectResponse("/static/favicon.svg", status_code=301)

    install_exception_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=max_body_bytes,
        route_limits=upload_route_limits() if route_body_limits is None else route_body_limits,
    )
    # Order: the session middleware runs inside the header middleware, so its cookie gets
    # the Secure flag added when the request came over HTTPS.
    app.add_middleware(
        SessionMiddleware,
        secret_key=key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_S,
        same_site="lax",
        https_only=False,
    )
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=frozenset({DOCS_URL, REDOC_URL}))
    # outermost: request ids and timing cover everything below
    app.add_middleware(RequestLogMiddleware, routes=lambda: app.routes)
    return app


def _api_docs_dir() -> str:
    """Swagger UI 5 and ReDoc as shipped by the ``fastapi-offline`` package (files only)."""
    import fastapi_offline

    return str(Path(fastapi_offline.__file__).resolve().parent / "static")


def _version() -> str:
    from crlm import __version__

    return __version__
