"""Bulk patient writes: the demo load on SQLite and PostgreSQL, PostgreSQL's COPY path against
the INSERT path it replaced, bulk validation against one-by-one validation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session
from tests.registry_support import *  # noqa: F403  (fixtures: db_url, session)
from tests.registry_support import RICH_PATIENT, _reset_postgres, rich_patient
from typer.testing import CliRunner

from crlm.domain import dates, parse_patient, parse_patients
from crlm.registry import audit, bulk, repository
from crlm.registry.db import init_db, make_session_factory
from crlm.registry.models import AuditEvent, patient_analysis, patients
from crlm.registry.repository import CHILD_TABLES
from crlm.synth import synthetic_rectal_cohort, to_patients
from crlm.synth.cohorts import patient_docs

#: columns that differ between two loads of the same patients (surrogate keys, clocks)
VOLATILE = {"created_at", "updated_at", "at", "prev_hash", "row_hash"}


def _table_rows(session: Session, table: sa.Table) -> list[tuple[Any, ...]]:
    """Every row of ``table`` but its volatile columns and the serial id of list rows, sorted."""
    columns = [c for c in table.c if c.name not in VOLATILE
               and not (c.name == "id" and table.name != patients.name)]
    return sorted(session.execute(sa.select(*columns)).all(), key=repr)


def _snapshot(session: Session) -> dict[str, Any]:
    tables = [patients, *CHILD_TABLES]
    out: dict[str, Any] = {t.name: _table_rows(session, t) for t in tables}
    out["audit"] = [tuple(r) for r in session.execute(sa.select(
        AuditEvent.seq, AuditEvent.actor, AuditEvent.action, AuditEvent.entity,
        AuditEvent.entity_id, AuditEvent.detail).order_by(AuditEvent.seq))]
    return out


def _batch() -> list[Any]:
    """Synthetic patients and one with every list (lesions, treatments, symptoms) filled."""
    cohort = list(to_patients(synthetic_rectal_cohort(60, 3)))
    return [*cohort[:30], rich_patient(), *cohort[30:]]


def _load(url: str, batch: list[Any]) -> dict[str, Any]:
    engine = init_db(url)
    with make_session_factory(engine)() as s:
        ids = repository.insert_patients(s, batch, centre="c1", actor="alice")
        repository.get_records(s, ids[:3], actor="bob")
        s.commit()
        assert ids == list(range(1, len(batch) + 1))
        assert audit.verify(s).intact
        snapshot = _snapshot(s)
    engine.dispose()
    return snapshot


@pytest.mark.postgres
def test_copy_path_writes_the_rows_the_insert_path_writes(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    batch = _batch()
    _reset_postgres(postgres_url)
    copied = _load(postgres_url, batch)
    _reset_postgres(postgres_url)
    monkeypatch.setattr(bulk, "uses_copy", lambda _session: False)
    inserted = _load(postgres_url, batch)
    assert len(copied[patients.name]) == len(batch)
    assert len(copied[patient_analysis.name]) == len(batch)
    assert len(copied["lesions"]) == len(RICH_PATIENT["liver"]["lesions"])  # type: ignore[index]
    assert len(copied["audit"]) == len(batch) + 3
    assert copied == inserted


@pytest.mark.postgres
def test_a_copied_audit_row_that_does_not_follow_the_chain_is_refused(
        postgres_url: str) -> None:
    _reset_postgres(postgres_url)
    engine = init_db(postgres_url)
    with make_session_factory(engine)() as s:
        audit.record(s, actor="alice", action="read", entity="patient", entity_id=1)
        s.commit()
        forged = {"seq": [2], "at": [dt.datetime.now(dt.UTC)], "actor": ["mallory"],
                  "action": ["read"], "entity": ["patient"], "entity_id": ["1"],
                  "detail": [None], "prev_hash": ["0" * 64], "row_hash": ["f" * 64]}
        with pytest.raises(sa.exc.DBAPIError, match="does not follow the last row"):
            bulk.copy_rows(s, AuditEvent.__table__, forged)  # type: ignore[arg-type]
        s.rollback()
        report = audit.verify(s)
    engine.dispose()
    assert report.intact and report.rows == 1


def test_demo_loads_n_patients_with_their_analysis_rows_and_an_intact_chain(
        db_url: str) -> None:
    from crlm.cli import app

    n = 1500  # more than one batch of the demo and of the audit queue
    res = CliRunner().invoke(app, ["demo", "--db", db_url, "--n", str(n)])
    assert res.exit_code == 0, res.output
    engine = init_db(db_url)
    with make_session_factory(engine)() as s:
        count = {t.name: s.scalar(sa.select(sa.func.count()).select_from(t))
                 for t in (patients, patient_analysis)}
        created = s.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "create"))
        report = audit.verify(s)
        stored = sorted(s.execute(sa.select(patient_analysis).where(
            patient_analysis.c.patient_id <= 200)).all())
        first = repository.load_unaudited(s, list(range(1, 201)))
        s.rollback()
    engine.dispose()
    assert count == {"patients": n, "patient_analysis": n}
    assert created == n
    assert report.intact and report.rows == n
    # each stored analysis row is what the per-patient derivation gives for that patient
    from crlm.registry.analysis import analysis_columns

    columns = analysis_columns([r.patient for r in first], [r.id for r in first],
                               [1] * len(first))
    expected = [tuple(values) for values in zip(*columns.values(), strict=True)]
    assert [_plain(r) for r in stored] == [_plain(r) for r in expected]


def _plain(row: Any) -> tuple[Any, ...]:
    """SQLite returns booleans as 0/1: compare values as numbers where they are numbers."""
    return tuple(float(v) if isinstance(v, bool | int | float) else v for v in row)


def test_demo_cohort_is_the_cohort_validated_one_patient_at_a_time() -> None:
    frame = synthetic_rectal_cohort(2100, 2023)
    one_by_one = [parse_patient(doc) for doc in patient_docs(frame)]
    assert list(to_patients(frame)) == one_by_one
    assert parse_patients([RICH_PATIENT]) == [rich_patient()]


def test_bulk_validation_refuses_what_single_validation_refuses() -> None:
    doc = json.loads(json.dumps(RICH_PATIENT))
    doc["age_years"] = "61"  # strict: text is not a number
    with pytest.raises(ValidationError) as single:
        parse_patient(doc)
    with pytest.raises(ValidationError) as bulk_error:
        parse_patients([RICH_PATIENT, doc])
    assert single.value.errors()[0]["loc"] == ("age_years",)
    assert bulk_error.value.errors()[0]["loc"] == (1, "age_years")


def test_today_follows_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    noon = dt.datetime(2031, 5, 4, 12, 0).timestamp()
    monkeypatch.setattr(dates.time, "time", lambda: noon)
    assert dates.today() == dt.date(2031, 5, 4)
    monkeypatch.setattr(dates.time, "time", lambda: noon + 86_400)
    assert dates.today() == dt.date(2031, 5, 5)


def test_a_duplicate_patient_in_a_bulk_insert_is_an_integrity_error(session: Session) -> None:
    repository.insert_patients(session, [rich_patient()], centre="c1", actor="alice")
    with pytest.raises(sa.exc.IntegrityError):  # the importer catches it as "someone else added"
        repository.insert_patients(session, [rich_patient()], centre="c1", actor="alice")
    session.rollback()


def test_copy_rows_refuses_columns_of_different_lengths(tmp_path: Path) -> None:
    engine = init_db(f"sqlite:///{tmp_path / 'x.db'}")
    with make_session_factory(engine)() as s, pytest.raises(ValueError, match="lengths"):
        bulk.copy_rows(s, patients, {"id": [1, 2], "centre": ["a"]})
    engine.dispose()
