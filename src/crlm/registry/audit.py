"""The append-only audit log: who read or wrote what, when."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crlm.registry.models import AuditEvent

ACTIONS = frozenset(
    {"read", "create", "update", "delete", "import", "undo", "export", "aggregate", "login",
     "login_failed", "logout"}
)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int | None,
    detail: str | None = None,
) -> AuditEvent:
    """Add one audit event to the session (committed with the caller's transaction)."""
    event = AuditEvent(
        actor=actor[:64],
        action=action[:32],
        entity=entity[:32],
        entity_id=None if entity_id is None else str(entity_id)[:64],
        detail=detail,
    )
    session.add(event)
    return event


def list_events(
    session: Session,
    *,
    limit: int = 100,
    offset: int = 0,
    actor: str | None = None,
    entity_id: str | int | None = None,
) -> list[AuditEvent]:
    """Newest first, optionally filtered by actor or entity id."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == str(entity_id))
    return list(session.scalars(query.limit(limit).offset(offset)))
