"""Undo an import: restore the old values it overwrote and delete the patients it created.

Every audit row an import writes begins its ``detail`` with the import's id and holds the
version the write left and, for an update, the old and new value of each changed field
(:func:`crlm.registry.repository.change_detail`). An undo first checks that no patient the
import touched has changed since (its version is still the one the import left); if one has,
nothing is undone and the answer names them. Otherwise, in one transaction, updated patients
get their old values back (a new version, audited as an update of the undo) and created
patients are deleted. An import is undone at most once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from crlm.domain import parse_patient
from crlm.registry import audit, repository
from crlm.registry.models import AuditEvent

UNDO_BATCH = 1000  # audit rows read (and patients restored) at a time
SHOWN_CONFLICTS = 20


class UndoError(Exception):
    """The import cannot be undone (the message says why and names the patients)."""


@dataclass(frozen=True)
class UndoResult:
    """What an undo did."""

    import_id: str
    n_restored: int
    n_deleted: int


@dataclass(frozen=True)
class _Write:
    patient_id: int
    created: bool
    detail: dict[str, Any]


def _summary(session: Session, import_id: str, action: str) -> AuditEvent | None:
    return session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.entity == "import",
        AuditEvent.entity_id == import_id).limit(1)).first()


def _writes(session: Session, import_id: str) -> Iterator[list[_Write]]:
    """The import's patient writes, oldest first, ``UNDO_BATCH`` at a time."""
    prefix = repository.import_detail_prefix(import_id)
    last = 0
    while True:
        rows = session.execute(
            sa.select(AuditEvent.id, AuditEvent.action, AuditEvent.entity_id, AuditEvent.detail)
            .where(AuditEvent.entity == "patient", AuditEvent.id > last,
                   AuditEvent.action.in_(["create", "update"]),
                   AuditEvent.detail.like(prefix + "%"))
            .order_by(AuditEvent.id).limit(UNDO_BATCH)).all()
        if not rows:
            return
        last = rows[-1].id
        yield [_Write(int(r.entity_id), r.action == "create", json.loads(r.detail))
               for r in rows]


def _conflicts(session: Session, import_id: str) -> tuple[int, list[str]]:
    """How many patients the import wrote, and why each one changed since cannot be undone."""
    n, problems = 0, []
    for batch in _writes(session, import_id):
        n += len(batch)
        current = repository.stored_versions(session, [w.patient_id for w in batch], lock=True)
        for w in batch:
            left = w.detail["version"]
            now = current.get(w.patient_id)
            who = f"patient {w.detail.get('external_id')} (#{w.patient_id})"
            if now is None:
                problems.append(f"{who} was deleted since the import")
            elif now != left:
                problems.append(f"{who} was changed since the import (version {left} then, "
                                f"{now} now)")
    return n, problems


def _restored(doc: dict[str, Any], changes: dict[str, list[Any]]) -> dict[str, Any]:
    """``doc`` with every changed field set back to its old value (None: unknown)."""
    out = json.loads(json.dumps(doc))
    for path, (old, _new) in changes.items():
        *parents, leaf = path.split(".")
        target = out
        for part in parents:
            target = target.setdefault(part, {})
        if old is None:
            target.pop(leaf, None)
        else:
            target[leaf] = old
    return out


def undo_import(session: Session, import_id: str, *, actor: str) -> UndoResult:
    """Undo import ``import_id`` in the caller's transaction (no commit); :class:`UndoError`
    if there is no such import, it was undone already, or a patient changed since."""
    summary = _summary(session, import_id, "import")
    if summary is None:
        raise UndoError(f"no import with id {import_id!r} in the audit log")
    if _summary(session, import_id, "undo") is not None:
        raise UndoError(f"import {import_id} was undone already")
    detail = json.loads(summary.detail or "{}")
    for centre in detail.get("centres") or [detail.get("centre", "")]:  # sorted when written
        repository.lock_for_writers(session, centre)
    n, problems = _conflicts(session, import_id)
    if problems:
        shown = "\n".join(problems[:SHOWN_CONFLICTS])
        more = (f"\n… and {len(problems) - SHOWN_CONFLICTS} more"
                if len(problems) > SHOWN_CONFLICTS else "")
        raise UndoError(f"import {import_id} cannot be undone, nothing changed: "
                        f"{len(problems)} of its {n} patients changed since:\n{shown}{more}")
    restored = deleted = 0
    for batch in _writes(session, import_id):
        created = [w for w in batch if w.created]
        repository.delete_patients(session, [w.patient_id for w in created], actor=actor, details=[
            repository.change_detail(undo=import_id, external_id=w.detail.get("external_id"),
                                     version=w.detail["version"]) for w in created])
        updated = [w for w in batch if not w.created]
        current = repository.patients_by_id(session, [w.patient_id for w in updated])
        changes = []
        for w in updated:
            version, patient = current[w.patient_id]
            before = repository.patient_doc(patient)
            try:
                back = parse_patient(_restored(before, w.detail["changes"]))
            except ValidationError as exc:  # pragma: no cover  (old values were valid)
                raise UndoError(f"patient #{w.patient_id}: old values invalid: {exc}") from None
            changes.append(repository.PatientChange(
                w.patient_id, version, back,
                repository.changed_fields(before, repository.patient_doc(back))))
        repository.apply_changes(session, changes, actor=actor, undo=import_id)
        restored += len(updated)
        deleted += len(created)
    audit.record(session, actor=actor, action="undo", entity="import", entity_id=import_id,
                 detail=json.dumps({"restored": restored, "deleted": deleted}))
    session.flush()
    return UndoResult(import_id, restored, deleted)
