"""The append-only audit log: who read or wrote what, when."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crlm.registry.models import AuditEvent

ACTIONS = frozenset(
    {"read", "create", "update", "delete", "import", "export", "aggregate", "login",
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


@dataclass(frozen=True)
class AuditFilter:
    """What a data manager looks for: a time window (UTC, end exclusive), user, action, patient."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str | None = None
    action: str | None = None
    patient_id: int | None = None


def _where(query: Select, f: AuditFilter) -> Select:  # type: ignore[type-arg]
    if f.since is not None:
        query = query.where(AuditEvent.at >= f.since)
    if f.until is not None:
        query = query.where(AuditEvent.at < f.until)
    if f.actor:
        query = query.where(AuditEvent.actor == f.actor)
    if f.action:
        query = query.where(AuditEvent.action == f.action)
    if f.patient_id is not None:
        query = query.where(AuditEvent.entity == "patient",
                            AuditEvent.entity_id == str(f.patient_id))
    return query


def find_events(
    session: Session, f: AuditFilter, *, limit: int | None = 100, offset: int = 0
) -> list[AuditEvent]:
    """Events matching ``f``, newest first (``limit=None``: all, for an export)."""
    query = _where(select(AuditEvent), f).order_by(AuditEvent.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_events(session: Session, f: AuditFilter) -> int:
    """How many events match ``f``."""
    return int(session.scalar(_where(select(func.count()).select_from(AuditEvent), f)) or 0)
