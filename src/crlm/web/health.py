"""``/healthz`` (the process answers; no database) and ``/readyz`` (database reachable, schema
at the newest migration). Neither needs a login; neither says anything about patients."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """Liveness: the process serves requests (the database is not touched)."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when the database answers and its schema is at the newest migration."""
    from crlm.registry.db import current_revision

    engine = request.app.state.engine
    try:
        revision = current_revision(engine)
    except Exception:  # any failure to reach the database means "not ready"
        return _unready("the database cannot be reached")
    head = _head_revision(request)
    if revision != head:
        return _unready("the database schema is not at the newest version "
                        "(run: crlm db migrate)")
    return JSONResponse({"status": "ready"})


def _unready(reason: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "detail": reason}, status_code=503)


def _head_revision(request: Request) -> str | None:
    """The newest migration this code ships (read once per process)."""
    state = request.app.state
    if getattr(state, "schema_head", None) is None:
        from alembic.script import ScriptDirectory

        from crlm.registry.db import alembic_config

        state.schema_head = ScriptDirectory.from_config(
            alembic_config(state.engine)
        ).get_current_head()
    return state.schema_head
