"""Refused requests are written to the audit log (never their body).

Audited: every 401 and 403, every 429 (too many logins), and a 404 on a patient's address
(an unknown id and another centre's patient look the same to the caller, not to the log).
Actor: the user the request was made as, else the session's user, else ``anonymous``. A failed
login is already audited as ``login_failed`` and is not written twice.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from crlm.web.auth import AUDITED_FLAG, client_ip
from crlm.web.deps import SESSION_USER_KEY

AUDITED_STATUSES = frozenset({401, 403, 404, 429})
ANONYMOUS = "anonymous"

log = logging.getLogger(__name__)


def _actor(request: Request) -> str:
    user = getattr(request.state, "user", None)
    if user is not None:
        return str(user.username)
    name = request.session.get(SESSION_USER_KEY) if "session" in request.scope else None
    return name if isinstance(name, str) and name else ANONYMOUS


def _printable(text: str) -> str:
    """Control characters (a NUL cannot even be stored by PostgreSQL) become "?"."""
    return "".join(c if c.isprintable() else "?" for c in text)


def refusal_event(request: Request, status_code: int) -> dict[str, Any] | None:
    """The audit event of a refused request, or None when this refusal is not audited."""
    patient_id = request.path_params.get("patient_id")
    if status_code not in AUDITED_STATUSES or getattr(request.state, AUDITED_FLAG, False):
        return None
    if status_code == 404 and patient_id is None:
        return None
    path = _printable(request.url.path)
    entity, entity_id = ("patient", _printable(str(patient_id))) if patient_id is not None \
        else ("request", path)
    return {"actor": _actor(request), "action": "refused", "entity": entity,
            "entity_id": entity_id,
            "detail": f"{status_code} {request.method} {path[:512]} from {client_ip(request)}"}


def _write(request: Request, event: dict[str, Any]) -> None:
    from crlm.registry import audit

    with request.app.state.session_factory() as db:
        audit.record(db, **event)
        db.commit()


async def audit_refusal(request: Request, status_code: int) -> None:
    """Write the refusal to the audit log (in its own transaction); a failure is logged."""
    event = refusal_event(request, status_code)
    if event is None:
        return
    try:
        await run_in_threadpool(_write, request, event)
    except Exception:  # the refusal still goes out; the log says why it is not audited
        log.exception("could not write a refused request to the audit log")
