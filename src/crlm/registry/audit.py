"""The append-only, hash-chained audit log: who read or wrote what, when.

Every row has its place in one chain (``seq`` = 1, 2, 3, …), the hash of the row before it
(``prev_hash``; the first row links to :data:`GENESIS`) and its own hash (``row_hash``):
SHA-256 over :func:`canonical`, a fixed JSON text of the row's fields and ``prev_hash``.

:func:`record` queues an event on the session; the queue is appended when the session commits
(or earlier, once it holds :data:`PENDING_LIMIT` events), under a lock that serialises appends
(PostgreSQL: a transaction-scoped advisory lock; SQLite: ``BEGIN IMMEDIATE``), so two writers
never fork the chain and the lock is held only from the append to the commit. A database
trigger accepts a row only if it follows the chain's anchor (``audit_chain_head``: count and
last hash) and advances the anchor in the same step. :func:`verify` walks the chain and compares
its end with the anchor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from crlm.registry import bulk
from crlm.registry.models import AuditChainHead, AuditEvent

ACTIONS = frozenset(
    {"read", "create", "update", "delete", "import", "undo", "export", "aggregate", "login",
     "login_failed", "logout", "refused"}
)

GENESIS = "0" * 64  #: the previous hash of the first row
PENDING_LIMIT = 5_000  #: queued events per transaction before they are appended early
CHAIN_LOCK_KEY = 0x63726C6D61756474  #: PostgreSQL advisory lock id ("crlmaudt")
_PENDING = "crlm_audit_pending"
_FIELDS = ("actor", "action", "entity", "entity_id", "detail")
_LIMITS = {"actor": 64, "action": 32, "entity": 32, "entity_id": 64}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def instant(at: dt.datetime) -> str:
    """The time of a row as hashed: UTC, microseconds (a naive time is taken as UTC)."""
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(sep=" ", timespec="microseconds")


def canonical(row: Mapping[str, Any], prev_hash: str) -> bytes:
    """The bytes a row's hash covers: sorted-key ASCII JSON of its fields and the previous hash."""
    doc = {name: row[name] for name in _FIELDS}
    doc.update(seq=int(row["seq"]), at=instant(row["at"]), prev_hash=prev_hash)
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_hash(row: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of :func:`canonical`."""
    return hashlib.sha256(canonical(row, prev_hash)).hexdigest()


def _event(actor: str, action: str, entity: str, entity_id: str | int | None,
           detail: str | None, at: dt.datetime) -> dict[str, Any]:
    values = {"actor": actor, "action": action, "entity": entity,
              "entity_id": None if entity_id is None else str(entity_id)}
    out: dict[str, Any] = {k: v if v is None else v[:_LIMITS[k]] for k, v in values.items()}
    out.update(detail=detail, at=at)
    return out


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int | None,
    detail: str | None = None,
) -> None:
    """Queue one audit event in the session's transaction (appended when it commits)."""
    _queue(session, [_event(actor, action, entity, entity_id, detail, _utcnow())])


def record_many(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_ids: Iterable[str | int | None],
    details: Iterable[str | None],
) -> None:
    """Queue one audit event per entity id (same actor, action and time)."""
    now = _utcnow()
    _queue(session, [_event(actor, action, entity, eid, detail, now)
                     for eid, detail in zip(entity_ids, details, strict=True)])


def _queue(session: Session, events: list[dict[str, Any]]) -> None:
    if not session.in_transaction():  # as Session.add does: the events belong to this one
        session.begin()
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    pending += events
    if len(pending) >= PENDING_LIMIT:
        append_pending(session)


def _lock_chain(session: Session) -> None:
    """Serialise appends until this transaction ends."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        if raw is not None and not raw.in_transaction:  # else this transaction already writes
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _head(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(AuditChainHead.n, AuditChainHead.last_hash).where(AuditChainHead.id == 1)
    ).first()
    if row is None:
        raise RuntimeError("the audit chain anchor is missing (run crlm db migrate)")
    return int(row.n), str(row.last_hash)


def append_pending(session: Session) -> int:
    """Append the session's queued events to the chain now; how many were appended."""
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not pending:
        return 0
    _lock_chain(session)
    n, last = _head(session)
    for row in pending:
        n += 1
        row["seq"], row["prev_hash"] = n, last
        row["row_hash"] = last = chain_hash(row, row["prev_hash"])
    _insert(session, pending)
    return len(pending)


_COLUMNS = {"seq": "bigint", "at": "timestamptz", "actor": "text", "action": "text",
            "entity": "text", "entity_id": "text", "detail": "text", "prev_hash": "text",
            "row_hash": "text"}
_UNNEST = sa.text(
    f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _COLUMNS.items()) + ")"
)


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    """SQLite: one executemany (its trigger works row by row). PostgreSQL: one COPY (or,
    through another driver, one INSERT of arrays), so its statement-level trigger checks and
    advances the anchor once per batch."""
    if bulk.uses_copy(session):
        bulk.copy_rows(session, AuditEvent.__table__,  # type: ignore[arg-type]
                       {name: [row[name] for row in rows] for name in _COLUMNS})
    elif session.get_bind().dialect.name == "postgresql":
        session.execute(_UNNEST, {name: [row[name] for row in rows] for name in _COLUMNS})
    else:
        session.execute(sa.insert(AuditEvent.__table__), rows)


@event.listens_for(Session, "before_commit")
def _append_before_commit(session: Session) -> None:
    append_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    """Events queued in a transaction that ends without commit are dropped with it."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def list_events(
    session: Session,
    *,
    limit: int = 100,
    offset: int = 0,
    actor: str | None = None,
    entity_id: str | int | None = None,
) -> list[AuditEvent]:
    """Newest first (this transaction's own events included), optionally by actor or entity."""
    append_pending(session)
    query = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == str(entity_id))
    return list(session.scalars(query.limit(limit).offset(offset)))


# ---------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify` found: rows walked, the last hash, and the first problem if any."""

    rows: int
    last_hash: str
    anchor_rows: int | None
    problem: str | None = None
    first_bad_row: int | None = None

    @property
    def intact(self) -> bool:
        """True when every row, every link and the anchor agree."""
        return self.problem is None


class _Break(Exception):  # noqa: N818 - internal control flow, not an error
    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row


def _describe(row: Any) -> str:
    return f"row {row.seq} (written {instant(row.at)[:19]} UTC by {row.actor})"


def _check_row(row: Any, expected: int, prev: str) -> None:
    if row.seq != expected:
        if row.seq > expected:
            gap = f"row {expected}" if row.seq == expected + 1 else \
                f"rows {expected} to {row.seq - 1}"
            start = "starts" if expected == 1 else f"jumps from row {expected - 1} to"
            raise _Break(expected, f"{gap} missing: the chain {start} row {row.seq} "
                                   "(rows deleted)")
        raise _Break(expected, f"a row numbered {row.seq} is out of place (row inserted)")
    if row.prev_hash != prev:
        raise _Break(row.seq, f"{_describe(row)} does not link to row {row.seq - 1}: "
                              "a row was inserted, replaced or deleted here")
    if chain_hash(row._mapping, prev) != row.row_hash:
        raise _Break(row.seq, f"{_describe(row)} was changed after it was written: "
                              "its content no longer matches its hash")


def _check_anchor(anchor: Any, n: int, last: str) -> None:
    if anchor is None:
        raise _Break(n + 1, "the chain anchor (row count and last hash) is missing")
    if anchor.n > n:
        cut = f"row {n + 1}" if anchor.n == n + 1 else f"rows {n + 1} to {anchor.n}"
        counted = "1 row" if anchor.n == 1 else f"{anchor.n} rows"
        raise _Break(n + 1, f"the anchor records {counted} but the chain ends at row {n}: "
                            f"{cut} removed (log cut short or emptied)")
    if anchor.n < n:
        added = f"row {n} was" if n == anchor.n + 1 else f"rows {anchor.n + 1} to {n} were"
        raise _Break(anchor.n + 1, f"{added} added without advancing the anchor (written with "
                                   "the database's protection off)")
    if anchor.last_hash != last:
        raise _Break(n, f"the anchor's last hash does not match row {n}: "
                        "the end of the log was rewritten")


def verify(db: Session | sa.Engine, expected: Mapping[int, str] | None = None) -> ChainReport:
    """Walk the whole committed chain in order; ``expected`` maps row numbers to hashes kept
    elsewhere.

    Each row must carry the next number, link to the hash of the row before and match its own
    hash; the end of the chain must match the anchor; each expected row must have its hash.
    Reads one snapshot of the log and its anchor on a connection of its own.
    """
    engine = db.get_bind() if isinstance(db, Session) else db
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        elif conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")  # one read transaction: one snapshot
        try:
            return _walk(conn, dict(expected or {}))
        finally:
            conn.rollback()


def _walk(conn: sa.Connection, expected: dict[int, str]) -> ChainReport:
    anchor = conn.execute(select(AuditChainHead.n, AuditChainHead.last_hash)
                          .where(AuditChainHead.id == 1)).first()
    columns = [AuditEvent.seq, AuditEvent.at, *(getattr(AuditEvent, f) for f in _FIELDS),
               AuditEvent.prev_hash, AuditEvent.row_hash]
    rows = conn.execution_options(yield_per=2000).execute(
        select(*columns).order_by(AuditEvent.seq))
    n, last = 0, GENESIS
    try:
        for row in rows:
            _check_row(row, n + 1, last)
            n, last = row.seq, row.row_hash
            if n in expected and expected.pop(n) != last:
                raise _Break(n, f"row {n} does not have the hash recorded outside the database: "
                                f"the log was rewritten up to row {n}")
        _check_anchor(anchor, n, last)
        if expected:
            first = min(expected)
            raise _Break(first, f"row {first}, recorded outside the database, is not in the log")
    except _Break as broken:
        rows.close()
        return ChainReport(rows=n, last_hash=last, anchor_rows=anchor.n if anchor else None,
                           problem=str(broken), first_bad_row=broken.row)
    return ChainReport(rows=n, last_hash=last, anchor_rows=anchor.n)


# ---------------------------------------------------------------------------- search


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
    """Events matching ``f``, newest first (``limit=None``: all, for an export); this
    transaction's own events included."""
    append_pending(session)
    query = _where(select(AuditEvent), f).order_by(AuditEvent.seq.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def last_seq(session: Session) -> int:
    """The number of the newest event (this transaction's own events included); 0 if none."""
    append_pending(session)
    return int(session.scalar(select(func.max(AuditEvent.seq))) or 0)


def iter_events(session: Session, f: AuditFilter, *, up_to: int, chunk: int = 2000
                ) -> Iterator[Any]:
    """Events matching ``f`` numbered ``up_to`` or less, newest first, fetched ``chunk`` rows
    at a time (a server-side cursor on PostgreSQL): for exports of any length."""
    columns = [AuditEvent.seq, AuditEvent.at, *(getattr(AuditEvent, n) for n in _FIELDS)]
    query = _where(select(*columns), f).where(AuditEvent.seq <= up_to).order_by(
        AuditEvent.seq.desc())
    yield from session.execute(query, execution_options={"yield_per": chunk})


def count_events(session: Session, f: AuditFilter) -> int:
    """How many events match ``f``."""
    append_pending(session)
    return int(session.scalar(_where(select(func.count()).select_from(AuditEvent), f)) or 0)
