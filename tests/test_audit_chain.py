"""The hash-chained audit log: appends never fork, verify finds every kind of tampering, the
database refuses rewrites (SQLite REPLACE, PostgreSQL TRUNCATE, the restricted app role)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from tests.registry_support import *  # noqa: F403  (fixtures: db_url, session)
from tests.registry_support import rich_patient
from typer.testing import CliRunner

from crlm.registry import audit, repository
from crlm.registry.db import alembic_config, init_db, make_engine, make_session_factory

APPEND_ONLY = "append-only"


def _write(session: Session, n: int, actor: str = "alice") -> None:
    for i in range(n):
        audit.record(session, actor=actor, action="read", entity="patient", entity_id=i,
                     detail=f"event {i}")
    session.commit()


def _rows(session: Session) -> list[sa.Row]:
    return list(session.execute(sa.text(
        "SELECT seq, prev_hash, row_hash, actor, detail FROM audit_events ORDER BY seq")))


@contextlib.contextmanager
def _unprotected(session: Session) -> Iterator[None]:
    """What only the database owner or a superuser can do: switch the triggers off."""
    if session.bind.dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    else:
        for name in [r[0] for r in session.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"))]:
            session.execute(sa.text(f"DROP TRIGGER {name}"))
    yield
    session.commit()


# ---------------------------------------------------------------------------- the chain


def test_every_row_links_to_the_one_before_and_verify_accepts_it(session: Session) -> None:
    pid = repository.add_patient(session, rich_patient(), centre="mda", actor="alice")
    session.commit()
    repository.get_records(session, [pid], actor="bob", detail="study")
    _write(session, 3)
    rows = _rows(session)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(rows))
    assert len({r.row_hash for r in rows}) == 5
    report = audit.verify(session)
    assert report.intact and report.rows == 5 and report.anchor_rows == 5
    assert report.last_hash == rows[-1].row_hash


def test_the_hash_is_sha256_of_the_documented_canonical_text() -> None:
    import datetime as dt
    import hashlib

    row = {"seq": 7, "at": dt.datetime(2026, 11, 30, 7, 0, 1, 5, tzinfo=dt.UTC), "actor": "ann",
           "action": "update", "entity": "patient", "entity_id": "12", "detail": "é ünïcode"}
    text = audit.canonical(row, "ab" * 32)
    assert text == (
        b'{"action":"update","actor":"ann","at":"2026-11-30 07:00:01.000005","detail":'
        b'"\\u00e9 \\u00fcn\\u00efcode","entity":"patient","entity_id":"12","prev_hash":"'
        + b"ab" * 32 + b'","seq":7}'
    )
    assert audit.chain_hash(row, "ab" * 32) == hashlib.sha256(text).hexdigest()
    naive = {**row, "at": dt.datetime(2026, 11, 30, 7, 0, 1, 5)}  # SQLite hands back UTC, naive
    assert audit.canonical(naive, "ab" * 32) == text


def test_events_of_a_rolled_back_transaction_are_not_appended(session: Session) -> None:
    _write(session, 1)
    audit.record(session, actor="mallory", action="read", entity="patient", entity_id=1)
    session.rollback()
    session.commit()
    assert [r.actor for r in _rows(session)] == ["alice"]
    assert audit.verify(session).intact


def test_a_large_transaction_appends_early_and_stays_one_chain(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "PENDING_LIMIT", 7)
    _write(session, 30)
    assert [r.seq for r in _rows(session)] == list(range(1, 31))
    assert audit.verify(session).rows == 30


def test_concurrent_writers_never_fork_the_chain(db_url: str) -> None:
    """Four threads, each 20 transactions of 3 events, at once: one unbroken chain of 240."""
    engine = init_db(db_url)
    factory = make_session_factory(engine)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(name: str) -> None:
        try:
            start.wait()
            for t in range(20):
                with factory() as s:
                    for i in range(3):
                        audit.record(s, actor=name, action="read", entity="patient",
                                     entity_id=f"{t}.{i}")
                    s.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with factory() as s:
        report = audit.verify(s)
    engine.dispose()
    assert report.intact, report.problem
    assert report.rows == 240


# ---------------------------------------------------------------------------- verify


TAMPERING = {
    # name: (SQL run with the triggers off, first broken row, words of the message)
    "changed detail": ("UPDATE audit_events SET detail = 'nothing to see' WHERE seq = 3",
                       3, "was changed after it was written"),
    "changed actor": ("UPDATE audit_events SET actor = 'bob' WHERE seq = 2", 2, "was changed"),
    "changed time": ("UPDATE audit_events SET at = at - INTERVAL '1 day' WHERE seq = 4",
                     4, "was changed"),
    "deleted row": ("DELETE FROM audit_events WHERE seq = 3", 3, "row 3 missing"),
    "deleted rows": ("DELETE FROM audit_events WHERE seq IN (2, 3)", 2, "rows 2 to 3 missing"),
    "cut short": ("DELETE FROM audit_events WHERE seq >= 4", 4,
                  "the anchor records 5 rows but the chain ends at row 3"),
    "emptied": ("DELETE FROM audit_events", 1, "rows 1 to 5 removed"),
    "renumbered": ("UPDATE audit_events SET seq = seq + 10 WHERE seq >= 4", 4, "rows 4 to 13"),
    "relinked": ("UPDATE audit_events SET prev_hash = (SELECT row_hash FROM audit_events "
                 "WHERE seq = 1) WHERE seq = 3", 3, "does not link to row 2"),
    "anchor reset": ("UPDATE audit_chain_head SET n = 0, last_hash = "
                     f"'{audit.GENESIS}'", 1, "rows 1 to 5 were added without advancing"),
    "anchor dropped": ("DELETE FROM audit_chain_head", 6, "anchor (row count and last hash) "
                       "is missing"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_verify_names_the_first_tampered_row(session: Session, case: str) -> None:
    _write(session, 5)
    statement, first_bad, words = TAMPERING[case]
    if session.bind.dialect.name == "sqlite":
        statement = statement.replace("at - INTERVAL '1 day'", "datetime(at, '-1 day')")
    with _unprotected(session):
        session.execute(sa.text(statement))
    report = audit.verify(session)
    assert not report.intact
    assert report.first_bad_row == first_bad
    assert words in report.problem


def test_an_appended_forgery_without_the_trigger_is_detected(session: Session) -> None:
    """A row with a valid hash, added with the protections off, does not advance the anchor."""
    import datetime as dt

    _write(session, 2)
    last = _rows(session)[-1]
    forged = {"seq": 3, "at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "actor": "alice",
              "action": "read", "entity": "patient", "entity_id": "9", "detail": None}
    with _unprotected(session):
        session.execute(sa.insert(audit.AuditEvent.__table__).values(
            **forged, prev_hash=last.row_hash, row_hash=audit.chain_hash(forged, last.row_hash)))
    report = audit.verify(session)
    assert report.first_bad_row == 3
    assert "row 3 was added without advancing the anchor" in report.problem


def test_a_log_rewritten_as_a_whole_is_caught_only_against_an_outside_record(
    session: Session,
) -> None:
    """Honest limit: whoever can rewrite every row and the anchor can recompute every hash;
    a row hash kept outside the database (--expect) still tells."""
    _write(session, 4)
    kept = audit.verify(session)
    with _unprotected(session):
        session.execute(sa.text("UPDATE audit_events SET detail = 'rewritten' WHERE seq = 2"))
        last = audit.GENESIS
        rows = session.execute(sa.select(audit.AuditEvent).order_by(audit.AuditEvent.seq))
        for n, row in enumerate(rows.scalars().all(), start=1):
            digest = audit.chain_hash({c: getattr(row, c) for c in (
                "seq", "at", "actor", "action", "entity", "entity_id", "detail")}, last)
            session.execute(sa.text("UPDATE audit_events SET prev_hash = :p, row_hash = :h "
                                    "WHERE seq = :s"), {"p": last, "h": digest, "s": n})
            last = digest
        session.execute(sa.text("UPDATE audit_chain_head SET last_hash = :h"), {"h": last})
    assert audit.verify(session).intact
    report = audit.verify(session, {kept.rows: kept.last_hash})
    assert report.first_bad_row == 4 and "recorded outside the database" in report.problem


# ---------------------------------------------------------------------------- refused rewrites


def test_update_delete_and_anchor_changes_are_refused(session: Session) -> None:
    _write(session, 3)
    for statement in (
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE seq = 3",
        "UPDATE audit_chain_head SET n = 0",
        "UPDATE audit_chain_head SET n = n + 2",
        "DELETE FROM audit_chain_head",
        "INSERT INTO audit_chain_head (id, n, last_hash) VALUES (2, 0, 'x')",
        # an upsert over a stored row
        "INSERT INTO audit_events (seq, at, actor, action, entity, prev_hash, row_hash) "
        "SELECT seq, at, 'mallory', action, entity, prev_hash, row_hash FROM audit_events "
        "WHERE seq = 1 ON CONFLICT (seq) DO UPDATE SET actor = excluded.actor",
    ):
        with pytest.raises(sa.exc.DBAPIError, match=APPEND_ONLY):
            session.execute(sa.text(statement))
        session.rollback()
    assert audit.verify(session).rows == 3


def test_an_out_of_turn_insert_is_refused(session: Session) -> None:
    _write(session, 2)
    last = _rows(session)[-1].row_hash
    for seq, prev in ((3, audit.GENESIS), (4, last), (3, "1" * 64)):
        with pytest.raises(sa.exc.DBAPIError, match="does not follow the last row"):
            session.execute(sa.text(
                "INSERT INTO audit_events (seq, at, actor, action, entity, prev_hash, row_hash) "
                "VALUES (:s, CURRENT_TIMESTAMP, 'm', 'read', 'patient', :p, :h)"),
                {"s": seq, "p": prev, "h": "2" * 64})
        session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="not follow"):  # the second row is unlinked
        session.execute(sa.text(
            "INSERT INTO audit_events (seq, at, actor, action, entity, prev_hash, row_hash) "
            "VALUES (3, CURRENT_TIMESTAMP, 'm', 'read', 'patient', :p, :h), "
            "(4, CURRENT_TIMESTAMP, 'm', 'read', 'patient', :p, :h)"), {"p": last, "h": "3" * 64})
    session.rollback()
    assert audit.verify(session).rows == 2


@pytest.mark.parametrize("verb", ["INSERT OR REPLACE INTO", "REPLACE INTO"])
@pytest.mark.parametrize("recursive_triggers", ["OFF", "ON"])
def test_sqlite_replace_cannot_overwrite_an_audit_row(
    tmp_path: Path, verb: str, recursive_triggers: str
) -> None:
    """REPLACE deletes the conflicting row without firing DELETE triggers (recursive_triggers
    off, the default); the BEFORE INSERT trigger refuses it first either way — whether the
    conflict is on the id, the row number, or the anchor's single row."""
    import sqlite3

    path = tmp_path / "replace.db"
    engine = init_db(f"sqlite:///{path}")
    with make_session_factory(engine)() as s:
        _write(s, 3)
        before = _rows(s)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA recursive_triggers = {recursive_triggers}")
    columns = "(id, seq, at, actor, action, entity, prev_hash, row_hash)"
    last = before[-1].row_hash
    for values in (
        "(2, 99, '2026-01-01 00:00:00.000000', 'mallory', 'read', 'patient', 'x', 'y')",
        "(99, 2, '2026-01-01 00:00:00.000000', 'mallory', 'read', 'patient', 'x', 'y')",
        # follows the anchor, so only the replace guard stops it from deleting row 2
        f"(2, 4, '2026-01-01 00:00:00.000000', 'mallory', 'read', 'patient', '{last}', 'y')",
    ):
        with pytest.raises(sqlite3.IntegrityError, match=APPEND_ONLY):
            con.execute(f"{verb} audit_events {columns} VALUES {values}")
        con.rollback()
    with pytest.raises(sqlite3.IntegrityError, match=APPEND_ONLY):
        con.execute(f"{verb} audit_chain_head (id, n, last_hash) VALUES (1, 0, 'x')")
    con.rollback()
    con.close()
    engine = make_engine(f"sqlite:///{path}")
    with make_session_factory(engine)() as s:
        assert _rows(s) == before
        assert audit.verify(s).intact
    engine.dispose()


@pytest.mark.postgres
def test_postgres_refuses_truncate_even_to_the_owner(postgres_url: str) -> None:
    from tests.registry_support import _reset_postgres

    _reset_postgres(postgres_url)
    engine = init_db(postgres_url)
    with make_session_factory(engine)() as s:
        _write(s, 2)
        for table in ("audit_events", "audit_chain_head", "audit_events, users"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only: TRUNCATE refused"):
                s.execute(sa.text(f"TRUNCATE {table}"))
            s.rollback()
        assert audit.verify(s).rows == 2
    engine.dispose()


APP_LOGIN = "crlm_app_test_login"


@pytest.fixture
def app_role_url(postgres_url: str) -> Iterator[str]:
    """The migrated test database, reached as a login role that is a member of crlm_app."""
    from sqlalchemy.engine import make_url
    from tests.registry_support import _reset_postgres

    _reset_postgres(postgres_url)
    init_db(postgres_url).dispose()
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP ROLE IF EXISTS {APP_LOGIN}"))
        conn.execute(sa.text(f"CREATE ROLE {APP_LOGIN} LOGIN IN ROLE crlm_app"))
    yield make_url(postgres_url).set(username=APP_LOGIN).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP ROLE IF EXISTS {APP_LOGIN}"))
    admin.dispose()


@pytest.mark.postgres
def test_the_app_role_may_only_insert_and_read_audit_rows(app_role_url: str) -> None:
    engine = init_db(app_role_url)  # at the newest schema: the app role migrates nothing
    with make_session_factory(engine)() as s:
        assert s.scalar(sa.text("SELECT current_user")) == APP_LOGIN
        pid = repository.add_patient(s, rich_patient(), centre="mda", actor="alice")
        repository.update_patient(s, pid, rich_patient(age_years=70), actor="alice")
        s.commit()
        repository.delete_patient(s, pid, actor="alice")
        s.commit()
        for statement in (
            "UPDATE audit_events SET actor = 'mallory'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
            "UPDATE audit_chain_head SET n = n + 1",
            "INSERT INTO audit_chain_head (id, n, last_hash) VALUES (1, 0, 'x')",
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
            "DROP TRIGGER audit_events_chain ON audit_events",
            "DROP TABLE audit_events",
            "SET session_replication_role = replica",
        ):
            with pytest.raises(sa.exc.DBAPIError, match=r"permission denied|must be owner"):
                s.execute(sa.text(statement))
            s.rollback()
        report = audit.verify(s)
    engine.dispose()
    assert report.intact and report.rows == 3


@pytest.mark.postgres
def test_the_web_app_runs_as_the_app_role(app_role_url: str) -> None:
    from fastapi.testclient import TestClient

    from web_support import api_token, make_app_on, sample_patient

    app = make_app_on(app_role_url)
    with TestClient(app) as client:
        alice = api_token(client, "alice")
        pid = client.post("/api/v1/patients", json=sample_patient(), headers=alice).json()["id"]
        assert client.get(f"/api/v1/patients/{pid}", headers=alice).status_code == 200
        assert client.get(f"/api/v1/patients/{pid}", headers=api_token(client, "bob")
                          ).status_code == 404
        assert client.get("/api/v1/patients/%00").status_code == 401  # NUL: not storable as is
    with app.state.session_factory() as s:
        events = [(e.actor, e.action, e.entity_id) for e in reversed(audit.list_events(s))]
        s.rollback()
        assert audit.verify(s).intact
    app.state.engine.dispose()
    assert ("bob", "refused", str(pid)) in events and ("alice", "create", str(pid)) in events
    assert events[-1] == ("anonymous", "refused", "?")


@pytest.mark.postgres
def test_an_owner_that_is_not_superuser_migrates_and_still_cannot_truncate(
    postgres_url: str,
) -> None:
    """The usual deployment: the database belongs to an ordinary role, crlm_app exists."""
    import secrets

    from sqlalchemy.engine import make_url

    init_db(postgres_url).dispose()  # crlm_app exists from here on
    name = f"crlm_owner_{secrets.token_hex(4)}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {name} LOGIN"))
        conn.execute(sa.text(f"CREATE DATABASE {name} OWNER {name}"))
    url = make_url(postgres_url).set(username=name, database=name)
    try:
        engine = init_db(url.render_as_string(hide_password=False))
        with make_session_factory(engine)() as s:
            _write(s, 2)
            with pytest.raises(sa.exc.DBAPIError, match="append-only: TRUNCATE refused"):
                s.execute(sa.text("TRUNCATE audit_events"))
            s.rollback()
            assert s.scalar(sa.text(
                "SELECT has_table_privilege('crlm_app', 'audit_events', 'UPDATE')")) is False
        assert audit.verify(engine).rows == 2
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {name}"))
        admin.dispose()


# ---------------------------------------------------------------------------- migration


def test_the_migration_chains_rows_written_before_it(db_url: str) -> None:
    from alembic import command

    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        for i in range(4):
            conn.execute(sa.text(
                "INSERT INTO audit_events (at, actor, action, entity, entity_id, detail) "
                "VALUES (:at, :a, 'read', 'patient', :e, :d)"),
                {"at": f"2025-0{i + 1}-01 10:00:00.12345{i}", "a": f"old{i}", "e": str(i),
                 "d": None if i == 2 else f"legacy {i}"})
    command.upgrade(alembic_config(engine), "head")
    factory = make_session_factory(engine)
    with factory() as s:
        assert audit.verify(s).rows == 4
        _write(s, 2, actor="new")
        assert [r.actor for r in _rows(s)] == ["old0", "old1", "old2", "old3", "new", "new"]
        assert audit.verify(s).intact
    engine.dispose()


# ---------------------------------------------------------------------------- CLI


def test_cli_verify_exit_codes_and_messages(tmp_path: Path) -> None:
    from crlm.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = init_db(url)
    with make_session_factory(engine)() as s:
        _write(s, 3)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--db", url])
    assert ok.exit_code == 0, ok.output
    assert "audit log intact: 3 rows" in ok.output
    kept = ok.output.split("last row: ")[1].split()[0]
    assert runner.invoke(app, ["audit", "verify", "--db", url, "--expect", kept]).exit_code == 0
    bad = runner.invoke(app, ["audit", "verify", "--db", url, "--expect", "2:" + "a" * 64])
    assert bad.exit_code == 2 and "broken at row 2" in bad.output
    assert runner.invoke(app, ["audit", "verify", "--db", url, "--expect", "x"]).exit_code == 2
    with make_session_factory(engine)() as s, _unprotected(s):
        s.execute(sa.text("UPDATE audit_events SET detail = 'x' WHERE seq = 2"))
    engine.dispose()
    broken = runner.invoke(app, ["audit", "verify", "--db", url])
    assert broken.exit_code == 2
    assert "audit log broken at row 2: row 2 (written" in broken.output
    assert "was changed after it was written" in broken.output
    empty = runner.invoke(app, ["audit", "verify", "--db", f"sqlite:///{tmp_path / 'no.db'}"])
    assert empty.exit_code == 2 and "no audit log" in empty.output


# ---------------------------------------------------------------------------- refused requests


@pytest.fixture
def web(tmp_path: Path):
    from fastapi.testclient import TestClient

    from web_support import make_app

    app = make_app(tmp_path)
    with TestClient(app) as client:
        yield app, client


def _refusals(app) -> list[tuple[str, str, str | None, str]]:
    with app.state.session_factory() as s:
        events = reversed(audit.list_events(s, limit=1000))
        return [(e.actor, e.entity, e.entity_id, e.detail) for e in events
                if e.action == "refused"]


def test_refused_api_requests_are_audited_without_their_body(web) -> None:
    from web_support import api_token, sample_patient

    app, client = web
    alice, bob, rita = (api_token(client, u) for u in ("alice", "bob", "rita"))
    pid = client.post("/api/v1/patients", json=sample_patient(), headers=alice).json()["id"]
    assert _refusals(app) == []
    assert client.get("/api/v1/patients").status_code == 401
    assert client.get(f"/api/v1/patients/{pid}",
                      headers={"Authorization": "Bearer forged"}).status_code == 401
    assert client.get(f"/api/v1/patients/{pid}", headers=bob).status_code == 404
    secret = sample_patient(id="SECRET-MRN-4711")
    assert client.put(f"/api/v1/patients/{pid}", json=secret, headers=bob).status_code == 404
    assert client.get("/api/v1/patients/999999", headers=alice).status_code == 404
    assert client.get(f"/api/v1/patients/{pid}", headers=rita).status_code == 403
    assert client.get("/api/v1/no-such-thing", headers=alice).status_code == 404  # not audited
    p = f"/api/v1/patients/{pid}"
    refusals = _refusals(app)
    assert [(a, e, i) for a, e, i, _ in refusals] == [
        ("anonymous", "request", "/api/v1/patients"),
        ("anonymous", "patient", str(pid)),
        ("bob", "patient", str(pid)),
        ("bob", "patient", str(pid)),
        ("alice", "patient", "999999"),
        ("rita", "patient", str(pid)),
    ]
    assert [d.split(" from ")[0] for *_, d in refusals] == [
        "401 GET /api/v1/patients", f"401 GET {p}", f"404 GET {p}", f"404 PUT {p}",
        "404 GET /api/v1/patients/999999", f"403 GET {p}",
    ]
    with app.state.session_factory() as s:
        assert not any("SECRET-MRN" in (e.detail or "") for e in audit.list_events(s, limit=1000))
    assert audit.verify(app.state.engine).intact


def test_failed_logins_are_audited_once_and_the_rate_limit_refusal_too(web) -> None:
    from web_support import PASSWORD

    app, client = web
    for _ in range(5):
        r = client.post("/api/v1/auth/token", json={"username": "alice", "password": "wrong"})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 429
    with app.state.session_factory() as s:
        actions = [e.action for e in reversed(audit.list_events(s, limit=1000))
                   if e.action in ("login_failed", "refused")]
    assert actions == ["login_failed"] * 5 + ["refused"]
    assert _refusals(app)[-1][3].startswith("429 POST /api/v1/auth/token")


def test_refused_pages_are_audited_with_the_user(web) -> None:
    from web_support import page_login

    app, client = web
    assert client.get("/", follow_redirects=False).status_code == 303  # where everyone starts
    assert client.get("/patients/7", follow_redirects=False).status_code == 303
    assert page_login(client, "rita").status_code == 303
    assert client.get("/patients/7").status_code == 403
    assert client.post("/api/v1/patients", json={}).status_code == 403  # no CSRF header
    refusals = [(a, e, i, d.split(" from ")[0]) for a, e, i, d in _refusals(app)]
    assert refusals == [
        ("anonymous", "patient", "7", "401 GET /patients/7"),
        ("rita", "patient", "7", "403 GET /patients/7"),
        ("rita", "request", "/api/v1/patients", "403 POST /api/v1/patients"),
    ]
