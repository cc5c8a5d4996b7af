"""Patients in the registry: store and load :class:`crlm.domain.Patient` losslessly.

Every read and write of a patient record writes an audit event in the same transaction.
Functions flush but do not commit: the caller owns the transaction (one import = one commit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crlm.domain import Patient, parse_patient
from crlm.registry import audit, bulk
from crlm.registry.models import (
    PATIENT_LISTS,
    PATIENT_SCALARS,
    SECTIONS,
    lesions,
    patient_analysis,
    patients,
)

LIST_TABLES = {"lesions": lesions, **PATIENT_LISTS}
#: every table holding rows of a patient (the analysis table last: it is derived from the rest)
CHILD_TABLES = [t for t, _ in SECTIONS.values()] + list(LIST_TABLES.values()) + [patient_analysis]
LISTED_COLUMNS = {f"{key}_listed" for key in PATIENT_LISTS}


class PatientNotFound(LookupError):  # noqa: N818  (name is the published API)
    """No patient with that registry id."""


class VersionConflictError(Exception):
    """Patients changed (or were deleted) since the caller read them.

    ``current`` maps each such registry id to its version now (None: deleted).
    """

    def __init__(self, current: dict[int, int | None]) -> None:
        self.current = current
        shown = ", ".join(f"#{pid}" for pid in list(current)[:20])
        super().__init__(f"changed since it was read: {shown}")


@dataclass(frozen=True)
class PatientRecord:
    """A stored patient with its registry metadata."""

    id: int
    external_id: str
    centre: str
    created_at: dt.datetime
    updated_at: dt.datetime
    patient: Patient
    version: int = 1


@dataclass(frozen=True)
class PatientChange:
    """A new state of a stored patient and what changed (field path → [old, new])."""

    patient_id: int
    version: int  # the stored version the change was made from
    patient: Patient
    changes: dict[str, list[Any]]


@dataclass(frozen=True)
class PatientSummary:
    """One line of the patient list."""

    id: int
    external_id: str
    centre: str
    age_years: float | None
    sex: str | None
    primary_site: str | None
    number_of_metastases: int | None
    updated_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_external_id() -> str:
    """A fresh external id for a patient entered without one."""
    return "P" + uuid.uuid4().hex[:12]


# ---------------------------------------------------------------------------- changes


def patient_doc(patient: Patient) -> dict[str, Any]:
    """The patient as JSON values, unknown fields left out."""
    return patient.model_dump(mode="json", exclude_none=True)


def flat_doc(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted field path → value of a patient document (a list is one value)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out |= flat_doc(value, f"{prefix}{key}.")
        else:
            out[prefix + key] = value
    return out


def changed_fields(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, list[Any]]:
    """Field path → [old value, new value] of every field that differs (None: unknown)."""
    before, after = flat_doc(old or {}), flat_doc(new)
    return {path: [before.get(path), after.get(path)]
            for path in sorted(before.keys() | after.keys())
            if before.get(path) != after.get(path)}


def change_detail(*, version: int, external_id: str | None = None, centre: str | None = None,
                  changes: dict[str, list[Any]] | None = None, import_id: str | None = None,
                  undo: str | None = None) -> str:
    """The JSON ``detail`` of a patient write's audit row.

    ``import`` comes first (an import's rows are found by the prefix ``{"import":"ID",``),
    then the undo it belongs to, the external id, the centre, the version the write left
    and the changed fields with their old and new values.
    """
    doc: dict[str, Any] = {}
    for key, value in (("import", import_id), ("undo", undo), ("external_id", external_id),
                       ("centre", centre)):
        if value is not None:
            doc[key] = value
    doc["version"] = version
    if changes is not None:
        doc["changes"] = changes
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def import_detail_prefix(import_id: str) -> str:
    """How every audit ``detail`` of one import begins."""
    return json.dumps({"import": import_id}, separators=(",", ":"))[:-1] + ","


# ---------------------------------------------------------------------------- mapping

SECTION_COLUMNS = {section: [c.name for c in table.c if c.name not in {"patient_id",
                                                                       "lesions_listed"}]
                   for section, (table, _model) in SECTIONS.items()}
LIST_COLUMNS = {key: [c.name for c in table.c if c.name not in {"id", "patient_id", "position"}]
                for key, table in LIST_TABLES.items()}


Columns = bulk.Columns  # column name → its value in each row


def _values(models: list[Any], names: list[str]) -> Columns:
    """The fields ``names`` of each pydantic model, column by column (python values: dates stay
    dates, enums stay enums, lists stay lists, as with ``model_dump(mode="python")``)."""
    fields = list(map(vars, models))  # a model keeps its field values in its __dict__
    return {name: list(map(operator.itemgetter(name), fields)) for name in names}


def _listed(lists: list[list[Any] | None]) -> list[int | None]:
    """Item counts, None where the list is unknown (stored apart from known-empty lists)."""
    return [None if x is None else len(x) for x in lists]


def _head_columns(batch: list[Patient]) -> Columns:
    """``patients`` table values of patients (all but the registry metadata)."""
    listed = {f"{key}_listed": _listed([getattr(p, key) for p in batch])
              for key in PATIENT_LISTS}
    return {**listed, **_values(batch, PATIENT_SCALARS)}


def _head_values(patient: Patient) -> dict[str, Any]:
    """``patients`` table values of one patient."""
    return {name: values[0] for name, values in _head_columns([patient]).items()}


def _child_columns(batch: list[Patient], ids: list[int]) -> dict[str, Columns]:
    """Section and list table values (table name → columns) of patients with ``ids``."""
    out: dict[str, Columns] = {}
    for section, (table, _model) in SECTIONS.items():
        models = list(map(operator.attrgetter(section), batch))
        out[table.name] = {"patient_id": ids, **_values(models, SECTION_COLUMNS[section])}
        if section == "liver":
            out[table.name]["lesions_listed"] = _listed([m.lesions for m in models])
    for key, table in LIST_TABLES.items():
        owners: list[int] = []
        positions: list[int] = []
        items: list[Any] = []
        lists = [p.liver.lesions for p in batch] if key == "lesions" else \
            [getattr(p, key) for p in batch]
        for pid, listed in zip(ids, lists, strict=True):
            if listed:
                owners += [pid] * len(listed)
                positions += range(len(listed))
                items += listed
        out[table.name] = {"patient_id": owners, "position": positions,
                           **_values(items, LIST_COLUMNS[key])}
    return out


def _execute_many(session: Session, statement: sa.Executable, columns: Columns) -> None:
    """Execute ``statement`` once per row of ``columns`` (python values by column name).

    SQLite gets the compiled SQL and the values converted column by column with the type
    processors SQLAlchemy applies, in one DBAPI executemany; other databases get the usual
    SQLAlchemy executemany of dicts.
    """
    keys = tuple(columns)
    n_rows = len(columns[keys[0]])
    if any(len(values) != n_rows for values in columns.values()):
        raise ValueError("columns of different lengths")
    if not n_rows:
        return
    dialect = session.connection().dialect
    plan = _sqlite_plan(dialect, statement, keys) if dialect.name == "sqlite" else None
    if plan is None:
        session.execute(statement, [dict(zip(keys, row, strict=True))
                                    for row in zip(*columns.values(), strict=True)])
        return
    if session.autoflush:  # as session.execute would: pending objects are written first
        session.flush()
    sql, order = plan
    ordered: list[Sequence[Any]] = []
    for name, process in order:
        values = columns[name]
        if process is None:
            pass
        elif values[0] is not None and all(v is values[0] for v in values):  # one clock value
            values = [process(values[0])] * n_rows
        else:
            values = [None if v is None else process(v) for v in values]
        ordered.append(values)
    session.connection().exec_driver_sql(sql, list(zip(*ordered, strict=True)))


_PLANS: dict[tuple[str, str, sa.Executable, tuple[str, ...]], Any] = {}


def _sqlite_plan(dialect: sa.Dialect, statement: sa.Executable, keys: tuple[str, ...]
                 ) -> tuple[str, list[tuple[str, Callable[[Any], Any] | None]]] | None:
    """SQL text and (key, bind processor) per positional parameter; None if the
    statement has parameters other than ``keys`` (then the generic path is taken).

    Plans are cached per statement object, so ``statement`` must be a module constant.
    """
    cache_key = (dialect.name, dialect.driver, statement, keys)
    if cache_key in _PLANS:
        return _PLANS[cache_key]  # type: ignore[no-any-return]
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = compiled.positiontup or []
    plan = None
    if set(names) <= set(keys) and dialect.paramstyle == "qmark":
        order = []
        for name in names:
            impl = compiled.binds[name].type.dialect_impl(dialect)
            order.append((name, impl.bind_processor(dialect)))
        plan = (compiled.string, order)
    _PLANS[cache_key] = plan
    return plan


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _clean(row: Any, skip: set[str]) -> dict[str, Any]:
    return {k: _json_value(v) for k, v in row._mapping.items() if k not in skip and v is not None}


def _load_many(session: Session, patient_ids: list[int]) -> dict[int, tuple[Any, Patient]]:
    """Heads and patients for ``patient_ids`` (at most CHUNK), one query per table."""
    heads = {r.id: r for r in session.execute(
        sa.select(patients).where(patients.c.id.in_(patient_ids)))}
    docs: dict[int, dict[str, Any]] = {}
    for pid, head in heads.items():
        doc: dict[str, Any] = {"id": head.external_id}
        doc.update(_clean(head, {"id", "centre", "external_id", "created_at", "updated_at",
                                 "version", *LISTED_COLUMNS}))
        docs[pid] = doc
    lesions_listed: dict[int, int | None] = {}
    for section, (table, _model) in SECTIONS.items():
        for row in session.execute(sa.select(table).where(table.c.patient_id.in_(list(heads)))):
            values = _clean(row, {"patient_id", "lesions_listed"})
            if section == "liver":
                lesions_listed[row.patient_id] = row.lesions_listed
            if values:
                docs[row.patient_id][section] = values
    for key, table in LIST_TABLES.items():
        items: dict[int, list[dict[str, Any]]] = {}
        for row in session.execute(sa.select(table).where(table.c.patient_id.in_(list(heads)))
                                   .order_by(table.c.patient_id, table.c.position)):
            items.setdefault(row.patient_id, []).append(
                _clean(row, {"id", "patient_id", "position"}))
        for pid, head in heads.items():
            listed = (lesions_listed.get(pid) if key == "lesions"
                      else getattr(head, f"{key}_listed"))
            if listed is None:
                continue
            if key == "lesions":
                docs[pid].setdefault("liver", {})["lesions"] = items.get(pid, [])
            else:
                docs[pid][key] = items.get(pid, [])
    return {pid: (heads[pid], parse_patient(doc)) for pid, doc in docs.items()}


def _load(session: Session, patient_id: int) -> tuple[Any, Patient]:
    found = _load_many(session, [patient_id])
    if patient_id not in found:
        raise PatientNotFound(f"no patient with id {patient_id}")
    return found[patient_id]


CHUNK = 500  # rows per IN (...) list
TABLES = {t.name: t for t in [patients, *CHILD_TABLES]}
_INSERT = {name: sa.insert(t) for name, t in TABLES.items()}
_INSERT_RETURNING_ID = sa.insert(patients).returning(patients.c.id, sort_by_parameter_order=True)
_UPDATE_PATIENT = sa.update(patients).where(patients.c.id == sa.bindparam("pid"))


def insert_rows(session: Session, table: sa.Table, columns: Columns) -> None:
    """Insert rows (python values by column name) into a patient table: one COPY on
    PostgreSQL, one executemany elsewhere."""
    if bulk.uses_copy(session):
        bulk.copy_rows(session, table, columns)
    else:
        _execute_many(session, _INSERT[table.name], columns)


def _write_children(session: Session, batch: list[Patient], ids: list[int],
                    versions: list[int], *, replace: bool) -> None:
    """Insert the section, list and analysis rows of many patients (one COPY or executemany
    per table); ``versions``: the versions the patients are stored at."""
    from crlm.registry import analysis

    if replace:
        for i in range(0, len(ids), CHUNK):
            for table in CHILD_TABLES:
                session.execute(sa.delete(table).where(table.c.patient_id.in_(ids[i:i + CHUNK])))
    for name, columns in _child_columns(batch, ids).items():
        insert_rows(session, TABLES[name], columns)
    analysis.write_rows(session, batch, ids, versions, replace=False)


def _audit_many(session: Session, actor: str, action: str, ids: list[int],
                details: list[str | None]) -> None:
    """One audit row per patient (appended to the chain when the transaction commits)."""
    audit.record_many(session, actor=actor, action=action, entity="patient", entity_ids=ids,
                      details=details)


# ---------------------------------------------------------------------------- API


def find_patient_id(session: Session, *, centre: str, external_id: str) -> int | None:
    """The registry id of ``external_id`` in ``centre``, or None (not audited: no data read)."""
    return session.scalar(
        sa.select(patients.c.id).where(
            patients.c.centre == centre, patients.c.external_id == external_id
        )
    )


def _existing_ids(session: Session, centre: str, external_ids: list[str | None]
                  ) -> dict[str, int]:
    """external id → registry id for those already stored in ``centre``."""
    found: dict[str, int] = {}
    for i in range(0, len(external_ids), CHUNK):
        rows = session.execute(sa.select(patients.c.external_id, patients.c.id).where(
            patients.c.centre == centre, patients.c.external_id.in_(external_ids[i:i + CHUNK])))
        found.update({r.external_id: r.id for r in rows})
    return found


def _ids_of(session: Session, centre: str, external_ids: list[str | None]) -> list[int]:
    """Registry ids of external ids in ``centre``, in the given order."""
    found = _existing_ids(session, centre, external_ids)
    return [found[x] for x in external_ids]  # type: ignore[index]


def patient_centre(session: Session, patient_id: int) -> str | None:
    """The centre a patient belongs to, or None if there is no such patient (not audited: no
    clinical data is read; used to check access before the audited read)."""
    return session.scalar(sa.select(patients.c.centre).where(patients.c.id == patient_id))


def _with_id(patient: Patient) -> Patient:
    return patient if patient.id is not None else patient.model_copy(
        update={"id": new_external_id()})


def lock_for_writers(session: Session, centre: str) -> None:
    """Make imports and undos into ``centre`` wait for each other (until this transaction ends).

    PostgreSQL: a transaction-level advisory lock per centre. SQLite: the database write lock
    (a write that changes nothing), so a second writer waits up to the busy timeout.
    """
    dialect = session.connection().dialect.name
    if dialect == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"crlm import {centre}".encode()).digest()[:8],
                             "big", signed=True)
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
    else:
        session.execute(sa.update(patients).where(sa.false()).values(version=patients.c.version))


def stored_versions(session: Session, patient_ids: list[int], *, lock: bool = False
                    ) -> dict[int, int]:
    """Registry id → version of those of ``patient_ids`` that exist (``lock``: FOR UPDATE)."""
    found: dict[int, int] = {}
    for i in range(0, len(patient_ids), CHUNK):
        query = sa.select(patients.c.id, patients.c.version).where(
            patients.c.id.in_(patient_ids[i:i + CHUNK]))
        if lock:
            query = query.with_for_update()
        found.update({r.id: r.version for r in session.execute(query)})
    return found


def stored_patients(session: Session, centre: str, external_ids: list[str]
                    ) -> dict[str, tuple[int, int, Patient]]:
    """external id → (registry id, version, patient) of those stored in ``centre`` (not
    audited: the caller audits what it writes)."""
    ids = _existing_ids(session, centre, list(external_ids))
    out: dict[str, tuple[int, int, Patient]] = {}
    pids = list(ids.values())
    for i in range(0, len(pids), CHUNK):
        for pid, (head, patient) in _load_many(session, pids[i:i + CHUNK]).items():
            out[head.external_id] = (pid, head.version, patient)
    return out


def patients_by_id(session: Session, patient_ids: list[int]) -> dict[int, tuple[int, Patient]]:
    """Registry id → (version, patient) of those of ``patient_ids`` that exist (not audited:
    the caller audits what it writes)."""
    out: dict[int, tuple[int, Patient]] = {}
    for i in range(0, len(patient_ids), CHUNK):
        for pid, (head, patient) in _load_many(session, patient_ids[i:i + CHUNK]).items():
            out[pid] = (head.version, patient)
    return out


def delete_patients(session: Session, patient_ids: list[int], *, actor: str,
                    details: list[str | None]) -> None:
    """Delete many patients with all their episodes; one audit row each (``details``)."""
    for i in range(0, len(patient_ids), CHUNK):
        chunk = patient_ids[i:i + CHUNK]
        for table in CHILD_TABLES:
            session.execute(sa.delete(table).where(table.c.patient_id.in_(chunk)))
        session.execute(sa.delete(patients).where(patients.c.id.in_(chunk)))
    _audit_many(session, actor, "delete", patient_ids, details)


def insert_patients(session: Session, batch: list[Patient], *, centre: str, actor: str,
                    import_id: str | None = None) -> list[int]:
    """Insert new patients (version 1) in bulk; their registry ids, in order. Audited."""
    batch = [_with_id(p) for p in batch]
    if not batch:
        return []
    now = _now()
    external_ids = [p.id for p in batch]
    n = len(batch)
    heads = {"centre": [centre] * n, "external_id": external_ids, "created_at": [now] * n,
             "updated_at": [now] * n, "version": [1] * n, **_head_columns(batch)}
    if bulk.uses_copy(session):
        # the new ids drawn from the sequence first, then every row in one COPY (no look-up
        # by external id: inside a long import transaction it is planned without statistics
        # for the rows just written)
        ids = bulk.next_ids(session, patients, n)
        bulk.copy_rows(session, patients, {"id": ids, **heads})
    elif session.connection().dialect.name == "postgresql":
        ids = list(session.scalars(_INSERT_RETURNING_ID, [
            dict(zip(heads, row, strict=True)) for row in zip(*heads.values(), strict=True)]))
    else:
        _execute_many(session, _INSERT[patients.name], heads)
        ids = _ids_of(session, centre, external_ids)
    _write_children(session, batch, ids, [1] * n, replace=False)
    _audit_many(session, actor, "create", ids, [
        change_detail(import_id=import_id, external_id=x, centre=centre, version=1)
        for x in external_ids])
    return ids


def apply_changes(session: Session, changes: list[PatientChange], *, actor: str,
                  import_id: str | None = None, undo: str | None = None) -> None:
    """Write new states of stored patients, each one version up, with an audit row holding
    the old and new values. Raises :class:`VersionConflictError` (nothing written) if any
    patient is no longer at the version its change was made from."""
    if not changes:
        return
    ids = [c.patient_id for c in changes]
    current = stored_versions(session, ids, lock=True)
    stale = {c.patient_id: current.get(c.patient_id) for c in changes
             if current.get(c.patient_id) != c.version}
    if stale:
        raise VersionConflictError(stale)
    batch = [c.patient for c in changes]
    now = _now()
    _execute_many(session, _UPDATE_PATIENT, {
        "pid": ids, "updated_at": [now] * len(ids), "external_id": [p.id for p in batch],
        "version": [c.version + 1 for c in changes], **_head_columns(batch)})
    _write_children(session, batch, ids, [c.version + 1 for c in changes], replace=True)
    _audit_many(session, actor, "update", ids, [
        change_detail(import_id=import_id, undo=undo, external_id=c.patient.id,
                      version=c.version + 1, changes=c.changes) for c in changes])


def save_patients(
    session: Session, batch: list[Patient], *, centre: str, actor: str
) -> list[tuple[int, bool]]:
    """Insert new patients and replace existing ones (same centre + external id) in bulk.

    Returns ``(registry id, created)`` per patient, in order. Every write is audited, an
    update with the old and new values of the fields it changed.
    """
    batch = [_with_id(p) for p in batch]
    stored = stored_patients(session, centre, [p.id for p in batch])  # type: ignore[misc]
    new = [p for p in batch if p.id not in stored]
    old = [p for p in batch if p.id in stored]
    result: dict[str, tuple[int, bool]] = {}
    ids = insert_patients(session, new, centre=centre, actor=actor)
    result.update({p.id: (pid, True) for p, pid in zip(new, ids, strict=True)})  # type: ignore[misc]
    changes = []
    for p in old:
        pid, version, before = stored[p.id]  # type: ignore[index]
        changes.append(PatientChange(pid, version, p,
                                     changed_fields(patient_doc(before), patient_doc(p))))
        result[p.id] = (pid, False)  # type: ignore[index]
    apply_changes(session, changes, actor=actor)
    session.flush()
    return [result[p.id] for p in batch]  # type: ignore[index]


def add_patient(session: Session, patient: Patient, *, centre: str, actor: str) -> int:
    """Store a new patient; returns its registry id. A missing ``id`` gets a fresh one.

    Raises ``sqlalchemy.exc.IntegrityError`` if the centre already holds that external id.
    """
    patient = _with_id(patient)
    now = _now()
    patient_id = session.execute(
        sa.insert(patients)
        .values(centre=centre, external_id=patient.id, created_at=now, updated_at=now,
                version=1, **_head_values(patient))
        .returning(patients.c.id)
    ).scalar_one()
    _write_children(session, [patient], [patient_id], [1], replace=False)
    _audit_many(session, actor, "create", [patient_id],
                [change_detail(external_id=patient.id, centre=centre, version=1)])
    session.flush()
    return patient_id


def update_patient(session: Session, patient_id: int, patient: Patient, *, actor: str,
                   expected_version: int | None = None) -> int:
    """Replace the stored data of a patient (its external id is kept if the new one is absent);
    the new version. With ``expected_version``, raises :class:`VersionConflictError` when the
    stored patient is at another version (someone else saved it meanwhile)."""
    found = _load_many(session, [patient_id])
    if patient_id not in found:
        raise PatientNotFound(f"no patient with id {patient_id}")
    head, before = found[patient_id]
    if expected_version is not None and head.version != expected_version:
        raise VersionConflictError({patient_id: head.version})
    if patient.id is None:
        patient = patient.model_copy(update={"id": head.external_id})
    change = PatientChange(patient_id, head.version, patient,
                           changed_fields(patient_doc(before), patient_doc(patient)))
    apply_changes(session, [change], actor=actor)
    session.flush()
    return head.version + 1


def upsert_patient(
    session: Session, patient: Patient, *, centre: str, actor: str
) -> tuple[int, bool]:
    """Insert, or update the patient with the same centre + external id; (id, created)."""
    return save_patients(session, [patient], centre=centre, actor=actor)[0]


def _record(head: Any, patient: Patient) -> PatientRecord:
    return PatientRecord(id=head.id, external_id=head.external_id, centre=head.centre,
                         created_at=head.created_at, updated_at=head.updated_at, patient=patient,
                         version=head.version)


def get_record(session: Session, patient_id: int, *, actor: str) -> PatientRecord:
    """The stored patient with registry metadata (audited read)."""
    head, patient = _load(session, patient_id)
    audit.record(session, actor=actor, action="read", entity="patient", entity_id=patient_id)
    session.flush()
    return _record(head, patient)


def get_records(session: Session, patient_ids: list[int], *, actor: str,
                detail: str | None = None) -> list[PatientRecord]:
    """Many stored patients in the given order, read in bulk; every read is audited."""
    out: list[PatientRecord] = []
    for i in range(0, len(patient_ids), CHUNK):
        chunk = patient_ids[i:i + CHUNK]
        found = _load_many(session, chunk)
        missing = [pid for pid in chunk if pid not in found]
        if missing:
            raise PatientNotFound(f"no patient with id {missing[0]}")
        _audit_many(session, actor, "read", chunk, [detail] * len(chunk))
        out += [_record(*found[pid]) for pid in chunk]
    session.flush()
    return out


def load_unaudited(session: Session, patient_ids: list[int]) -> list[PatientRecord]:
    """Many stored patients in order, read in bulk WITHOUT a per-patient audit row.

    Only for aggregate views, whose caller writes one ``aggregate`` event naming the number of
    records covered (:func:`crlm.registry.export.aggregate_records`).
    """
    out: list[PatientRecord] = []
    for i in range(0, len(patient_ids), CHUNK):
        found = _load_many(session, patient_ids[i:i + CHUNK])
        out += [_record(*found[pid]) for pid in patient_ids[i:i + CHUNK] if pid in found]
    return out


def get_patient(session: Session, patient_id: int, *, actor: str) -> Patient:
    """The stored patient (audited read); raises :class:`PatientNotFound`."""
    return get_record(session, patient_id, actor=actor).patient


def delete_patient(session: Session, patient_id: int, *, actor: str,
                   detail: str | None = None) -> None:
    """Delete a patient and all its episodes (the audit trail stays)."""
    found = session.execute(sa.delete(patients).where(patients.c.id == patient_id)).rowcount
    if not found:
        raise PatientNotFound(f"no patient with id {patient_id}")
    for table in CHILD_TABLES:
        session.execute(sa.delete(table).where(table.c.patient_id == patient_id))
    audit.record(session, actor=actor, action="delete", entity="patient", entity_id=patient_id,
                 detail=detail)
    session.flush()


def _filtered(
    query: sa.Select[Any], centre: str | None, search: str | None,
    primary_site: str | None = None, sex: str | None = None,
) -> sa.Select[Any]:
    if centre is not None:
        query = query.where(patients.c.centre == centre)
    if search:
        query = query.where(patients.c.external_id.ilike(f"%{search.strip()}%"))
    if sex:
        query = query.where(patients.c.sex == sex)
    if primary_site:
        primary = SECTIONS["primary"][0]
        query = query.where(patients.c.id.in_(
            sa.select(primary.c.patient_id).where(primary.c.site == primary_site)
        ))
    return query


def count_patients(
    session: Session, centre: str | None = None, search: str | None = None,
    primary_site: str | None = None, sex: str | None = None,
) -> int:
    """How many patients (optionally in one centre / matching a search, site and sex)."""
    query = _filtered(
        sa.select(sa.func.count()).select_from(patients), centre, search, primary_site, sex
    )
    return int(session.scalar(query) or 0)


def list_patients(
    session: Session,
    *,
    actor: str,
    centre: str | None = None,
    search: str | None = None,
    primary_site: str | None = None,
    sex: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[PatientSummary]:
    """A page of patient summaries, newest changes first (audited), filtered in the database."""
    primary = SECTIONS["primary"][0]
    liver = SECTIONS["liver"][0]
    query = (
        sa.select(
            patients.c.id, patients.c.external_id, patients.c.centre, patients.c.age_years,
            patients.c.sex, primary.c.site, liver.c.number_of_metastases, patients.c.updated_at,
        )
        .select_from(
            patients.outerjoin(primary, primary.c.patient_id == patients.c.id).outerjoin(
                liver, liver.c.patient_id == patients.c.id
            )
        )
        .order_by(patients.c.updated_at.desc(), patients.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = session.execute(_filtered(query, centre, search, primary_site, sex)).all()
    filters = "".join(f" {k}={v}" for k, v in (("site", primary_site), ("sex", sex)) if v)
    audit.record(session, actor=actor, action="read", entity="patient_list", entity_id=None,
                 detail=f"{len(rows)} rows; centre={centre} search={search!r}{filters}")
    session.flush()
    return [
        PatientSummary(
            id=r.id, external_id=r.external_id, centre=r.centre, age_years=r.age_years,
            sex=r.sex, primary_site=r.site, number_of_metastases=r.number_of_metastases,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def all_patient_ids(session: Session, centre: str | None = None) -> list[int]:
    """Registry ids in insertion order (for exports and analysis datasets)."""
    query = sa.select(patients.c.id).order_by(patients.c.id)
    if centre is not None:
        query = query.where(patients.c.centre == centre)
    return list(session.scalars(query))
