"""Registry data layer on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session
from tests.registry_support import *  # noqa: F403  (fixtures: db_url, session)
from tests.registry_support import RICH_PATIENT, rich_patient

from crlm.domain import Patient, parse_patient
from crlm.registry import audit, repository, users
from crlm.registry.db import alembic_config, current_revision, init_db
from crlm.registry.models import SECTIONS, metadata


def test_migrations_from_empty_are_idempotent(db_url: str) -> None:
    engine = init_db(db_url)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None and current_revision(engine) == head
    init_db(db_url)  # second run: nothing to do, no error
    names = set(sa.inspect(engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= names
    engine.dispose()


def test_every_patient_field_has_a_column() -> None:
    tables = {t for t, _ in SECTIONS.values()}
    for section, (table, model) in SECTIONS.items():
        for name in model.model_fields:
            if section == "liver" and name == "lesions":
                continue
            assert name in table.c, f"{section}.{name} has no column"
    assert tables


def test_round_trip_is_lossless(session: Session) -> None:
    p = rich_patient()
    pid = repository.add_patient(session, p, centre="mda", actor="alice")
    session.commit()
    assert repository.get_patient(session, pid, actor="alice") == p


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"liver": {"lesions": []}, "operations": []},
        {"primary": {"symptoms": []}, "liver": {"planned_procedures": []}},
        {"age_years": 89.5, "labs": {"cea_ng_ml": 0.0}},
    ],
)
def test_round_trip_keeps_unknown_apart_from_empty(session: Session, doc: dict) -> None:
    p = parse_patient({"id": "X1", **doc})
    pid = repository.add_patient(session, p, centre="c", actor="a")
    assert repository.get_patient(session, pid, actor="a") == p


def test_missing_id_gets_one(session: Session) -> None:
    pid = repository.add_patient(session, Patient(), centre="c", actor="a")
    assert repository.get_patient(session, pid, actor="a").id


def test_every_read_and_write_is_audited(session: Session) -> None:
    pid = repository.add_patient(session, rich_patient(), centre="mda", actor="alice")
    repository.get_patient(session, pid, actor="bob")
    repository.update_patient(session, pid, rich_patient(age_years=62), actor="carol")
    repository.list_patients(session, actor="dave")
    repository.delete_patient(session, pid, actor="erin")
    session.commit()
    events = [(e.actor, e.action, e.entity) for e in reversed(audit.list_events(session))]
    assert events == [
        ("alice", "create", "patient"),
        ("bob", "read", "patient"),
        ("carol", "update", "patient"),
        ("dave", "read", "patient_list"),
        ("erin", "delete", "patient"),
    ]
    with pytest.raises(repository.PatientNotFound):
        repository.get_patient(session, pid, actor="x")


def test_audit_log_is_append_only_in_the_database(session: Session) -> None:
    audit.record(session, actor="a", action="read", entity="patient", entity_id=1)
    session.commit()
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            session.execute(sa.text(statement))
        session.rollback()
    assert [e.actor for e in audit.list_events(session)] == ["a"]


def test_update_replaces_lists_and_keeps_external_id(session: Session) -> None:
    pid = repository.add_patient(session, rich_patient(), centre="mda", actor="a")
    changed = rich_patient(operations=[{"kind": "hepatectomy", "date": "2024-07-01"}])
    repository.update_patient(session, pid, changed.model_copy(update={"id": None}), actor="a")
    got = repository.get_patient(session, pid, actor="a")
    assert got.id == "MDA-0001" and len(got.operations or []) == 1


def test_list_search_and_centre_filter(session: Session) -> None:
    for i, centre in enumerate(["mda", "mda", "oslo"]):
        repository.add_patient(session, parse_patient({"id": f"P{i}", "age_years": 50 + i}),
                               centre=centre, actor="a")
    assert repository.count_patients(session) == 3
    assert repository.count_patients(session, centre="mda") == 2
    rows = repository.list_patients(session, actor="a", centre="oslo")
    assert [(r.external_id, r.age_years) for r in rows] == [("P2", 52.0)]
    assert [r.external_id for r in repository.list_patients(session, actor="a", search="p1")] == [
        "P1"
    ]


def test_users_roles_and_passwords(session: Session) -> None:
    with pytest.raises(users.UserError, match="12 characters"):
        users.add_user(session, "weak", "short", "admin")
    with pytest.raises(users.UserError, match="role must be one of"):
        users.add_user(session, "x", "long-enough-password", "superuser")
    with pytest.raises(users.UserError, match="needs a centre"):
        users.add_user(session, "x", "long-enough-password", "clinician")
    u = users.add_user(session, "alice", "long-enough-password", "clinician", "mda")
    assert u.password_hash.startswith("$argon2id$")
    assert "long-enough-password" not in u.password_hash
    assert users.authenticate(session, "alice", "long-enough-password") is not None
    assert users.authenticate(session, "alice", "wrong-password-xx") is None
    assert users.authenticate(session, "nobody", "long-enough-password") is None
    with pytest.raises(users.UserError, match="exists"):
        users.add_user(session, "alice", "long-enough-password", "admin")


def test_rich_patient_fixture_is_valid() -> None:
    assert parse_patient(RICH_PATIENT).liver.number_of_metastases == 4


def test_bulk_read_keeps_order_and_audits_each_patient(session: Session) -> None:
    ids = [repository.add_patient(session, rich_patient(id=f"B{i}", age_years=50 + i),
                                  centre="c", actor="a") for i in range(3)]
    records = repository.get_records(session, [ids[2], ids[0]], actor="reader", detail="study")
    assert [r.patient.id for r in records] == ["B2", "B0"]
    assert records[0].patient == rich_patient(id="B2", age_years=52)
    reads = [e for e in audit.list_events(session, actor="reader")]
    assert sorted(int(e.entity_id) for e in reads) == sorted([ids[2], ids[0]])
    assert all(e.action == "read" and e.detail == "study" for e in reads)
    with pytest.raises(repository.PatientNotFound):
        repository.get_records(session, [ids[0], 999_999], actor="reader")


def _stored(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every registry table as SQLite stores it; clock values (and the audit
    hashes that cover them) become their storage class and length (they differ between runs)."""
    import sqlite3

    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        out = {}
        for table in metadata.sorted_tables:
            clock = {c.name for c in table.c if isinstance(c.type, sa.DateTime)}
            clock |= {"prev_hash", "row_hash", "last_hash"} & set(table.c.keys())  # cover time
            names = [c.name for c in table.c]
            rows = con.execute(f'SELECT * FROM "{table.name}" ORDER BY 1').fetchall()
            out[table.name] = [
                tuple((type(v).__name__, len(v)) if n in clock else v
                      for n, v in zip(names, row, strict=True))
                for row in rows
            ]
        return out
    finally:
        con.close()


def test_sqlite_bulk_writes_store_exactly_what_sqlalchemy_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """save_patients on SQLite (compiled SQL + type processors, one DBAPI executemany) and
    SQLAlchemy's own executemany store identical values, for inserts and for updates."""
    from crlm.registry.db import make_session_factory

    batch = [
        rich_patient(),
        parse_patient({"id": "E1", "liver": {"lesions": []}, "operations": [],
                       "primary": {"symptoms": [], "resected": False}}),
        parse_patient({"id": "E2", "age_years": 89.5, "extrahepatic_disease": True}),
        Patient(id="E3"),
    ]
    changed = [rich_patient(age_years=62, operations=[{"kind": "pve"}]), batch[2]]
    stored = []
    for name, generic in (("fast", False), ("generic", True)):
        if generic:
            monkeypatch.setattr(repository, "_sqlite_plan", lambda *_args: None)
        url = f"sqlite:///{tmp_path / name}.db"
        engine = init_db(url)
        with make_session_factory(engine)() as s:
            created = repository.save_patients(s, batch, centre="c", actor="a")
            updated = repository.save_patients(s, changed, centre="c", actor="a")
            s.commit()
        engine.dispose()
        assert [new for _, new in created] == [True] * 4
        assert [new for _, new in updated] == [False, False]
        stored.append(_stored(url))
    fast, generic_rows = stored
    assert fast["patients"] and fast["operations"] and fast["lesions"]
    assert fast == generic_rows
