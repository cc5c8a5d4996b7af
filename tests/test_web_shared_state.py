"""State shared by web workers lives in the database: two app instances on one database.

Each ``create_app`` below stands for one uvicorn worker (its own user cache, token cache and
revocation watch); the database is SQLite or PostgreSQL (``CRLM_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from crlm.registry import users
from crlm.web.app import create_app
from crlm.web.revocation import RevocationWatch, revocation_check_s
from web_support import (
    PASSWORD,
    SECRET,
    api_token,
    csrf_from,
    fresh_postgres_database,
    make_app_on,
    page_login,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    url, drop = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    try:
        yield url
    finally:
        drop()


def _pair(url: str, check_s: float | None = None) -> tuple[FastAPI, FastAPI]:
    """Two "workers" on ``url`` (the first also creates the test users)."""
    first = make_app_on(url)
    first.state.revocation_watch.interval_s = (
        first.state.revocation_watch.interval_s if check_s is None else check_s
    )
    second = create_app(url, secret_key=SECRET, testing=True, revocation_check_s=check_s)
    return first, second


def _dispose(*apps: FastAPI) -> None:
    for app in apps:
        app.state.engine.dispose()


def _me(client: TestClient, headers: dict[str, str] | None = None) -> int:
    return client.get("/api/v1/auth/me", headers=headers or {}).status_code


def _uid(app: FastAPI, name: str) -> int:
    with app.state.session_factory() as s:
        return users.get_user(s, name).id


def test_login_rate_limit_is_counted_across_instances(db_url):
    a, b = _pair(db_url)
    try:
        with TestClient(a) as ca, TestClient(b) as cb:
            wrong = {"username": "alice", "password": "wrong password"}
            for client in (ca, cb, ca, cb, ca):  # 5 failures spread over both workers
                assert client.post("/api/v1/auth/token", json=wrong).status_code == 401
            right = {"username": "alice", "password": PASSWORD}
            r = cb.post("/api/v1/auth/token", json=right)
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            assert ca.post("/api/v1/auth/token", json=right).status_code == 429
    finally:
        _dispose(a, b)


def test_revocation_on_one_instance_is_refused_by_the_other_at_once(db_url):
    """With a check interval of 0 every request reads the epoch: no delay at all."""
    a, b = _pair(db_url, check_s=0)
    try:
        with TestClient(a) as admin, TestClient(b) as alice_b:
            page_login(admin, "adam")
            page_login(alice_b, "alice")
            token = api_token(alice_b, "alice")
            assert _me(alice_b) == 200 and _me(alice_b, token) == 200  # both cached on b
            uid = _uid(a, "alice")
            form = {"csrf_token": csrf_from(admin.get("/users").text)}
            r = admin.post(f"/users/{uid}/logout-everywhere", data=form, follow_redirects=False)
            assert r.status_code == 303
            assert _me(alice_b) == 401 and _me(alice_b, token) == 401
    finally:
        _dispose(a, b)


def test_revocation_reaches_the_other_instance_within_the_interval(db_url):
    """Default design: each worker polls the epoch; a CLI revocation is honoured within it."""
    from crlm.cli import app as cli

    a, b = _pair(db_url, check_s=0.5)
    try:
        with TestClient(b) as client:
            token = api_token(client, "bob")
            assert _me(client, token) == 200
            result = CliRunner().invoke(
                cli, ["user", "logout-everywhere", "bob", "--db", db_url]
            )
            assert result.exit_code == 0, result.output
            time.sleep(0.55)
            assert _me(client, token) == 401
            # a new token of the same user works at once
            assert _me(client, api_token(client, "bob")) == 200
    finally:
        _dispose(a, b)


def test_cached_requests_read_neither_users_nor_epoch_each_time(tmp_path):
    """The hot path stays free of database reads: one epoch read per interval per worker."""
    url = f"sqlite:///{tmp_path / 'reads.db'}"
    app = make_app_on(url)
    app.state.revocation_watch.interval_s = 3600.0
    statements: list[str] = []
    sa.event.listen(
        app.state.engine, "before_cursor_execute",
        lambda _c, _cur, statement, *_a: statements.append(statement),
    )
    try:
        with TestClient(app) as client:
            token = api_token(client, "alice")
            assert _me(client, token) == 200
            statements.clear()
            for _ in range(30):
                assert _me(client, token) == 200
            assert statements == []
    finally:
        _dispose(app)


class _Engine:
    """Stands in for an engine: counts reads of the epoch."""

    def __init__(self) -> None:
        self.epoch = 7
        self.reads = 0

    def connect(self):  # type: ignore[no-untyped-def]
        engine = self

        class Conn:
            def __enter__(self):  # type: ignore[no-untyped-def]
                return self

            def __exit__(self, *exc: object) -> None:
                return None

            def execute(self, _stmt):  # type: ignore[no-untyped-def]
                engine.reads += 1
                return type("R", (), {"scalar": lambda _self: engine.epoch})()

        return Conn()


def test_watch_reads_ahead_and_waits_only_when_stale():
    now = [100.0]
    changes: list[int] = []
    engine = _Engine()
    watch = RevocationWatch(engine, lambda: changes.append(engine.epoch),  # type: ignore[arg-type]
                            interval_s=1.0, clock=lambda: now[0])

    async def scenario() -> None:
        await watch.ensure_fresh()  # first request: waits for the first read
        assert (engine.reads, watch.epoch, changes) == (1, 7, [7])
        for _ in range(50):  # within 80 % of the interval: no read
            now[0] += 0.01
            await watch.ensure_fresh()
        assert engine.reads == 1
        engine.epoch = 8  # revoked elsewhere
        now[0] = 100.85  # past 80 %: one background read, this request does not wait
        await watch.ensure_fresh()
        await watch.ensure_fresh()
        await asyncio.sleep(0.05)
        assert engine.reads == 2 and changes == [7, 8]
        engine.epoch = 9
        now[0] = 103.0  # stale: the request waits for a fresh read
        await watch.ensure_fresh()
        assert engine.reads == 3 and changes == [7, 8, 9]

    asyncio.run(scenario())


def test_check_interval_from_environment():
    assert revocation_check_s({}) == 1.0
    assert revocation_check_s({"CRLM_REVOCATION_CHECK_S": "0.25"}) == 0.25
    assert revocation_check_s({"CRLM_REVOCATION_CHECK_S": "0"}) == 0.0
    assert revocation_check_s({"CRLM_REVOCATION_CHECK_S": "-3"}) == 1.0
    assert revocation_check_s({"CRLM_REVOCATION_CHECK_S": "soon"}) == 1.0
