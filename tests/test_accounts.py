"""Account lifecycle: password policy, normalised usernames, revocation of sessions and tokens
(id + generation), the admin pages and `crlm user`, the shared atomic login limiter, and
bounded request bodies."""

from __future__ import annotations

import asyncio
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from crlm.registry import passwords, users
from crlm.web.security import LoginLimits, LoginRateLimiter, TooManyLoginAttemptsError
from web_support import (
    PASSWORD,
    api_token,
    csrf_from,
    fresh_postgres_database,
    make_app_on,
    page_login,
)

NEW_PASSWORD = "plum orchard lantern seventeen"


def _me(client: TestClient, headers: dict[str, str] | None = None) -> int:
    return client.get("/api/v1/auth/me", headers=headers or {}).status_code


def _admin_post(client: TestClient, url: str, **data: str):
    token = csrf_from(client.get("/users").text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def _user_id(app, name: str) -> int:
    with app.state.session_factory() as s:
        return users.get_user(s, name).id


# ---------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    "weak",
    ["aaaaaaaaaaaa", " " * 12, "password1234", "Password1234", "qwertyuiop123", "123456789012",
     "abcdefghijkl", "hospital2025", "alice-alice-alice"],
)
def test_weak_and_common_passwords_are_refused(weak):
    assert passwords.password_problem(weak, ("alice",)) is not None


def test_strong_passwords_pass():
    for good in (PASSWORD, NEW_PASSWORD, "v7#Lq!m2pX9z@R4t"):
        assert passwords.password_problem(good, ("alice",)) is None


def test_common_list_is_shipped_and_checked_case_insensitively():
    listed = passwords.common_passwords()
    assert len(listed) > 200 and "password1234" in listed
    assert "common passwords" in passwords.password_problem("PassWord1234!".rstrip("!"))


def test_weak_password_refused_everywhere(tmp_path):
    from crlm.registry.db import init_db, make_session_factory

    with make_session_factory(init_db(f"sqlite:///{tmp_path / 'p.db'}"))() as s:
        for weak in ("aaaaaaaaaaaa", " " * 12):
            with pytest.raises(users.UserError, match=r"weak|common|spaces"):
                users.add_user(s, "zoe", weak, "admin")
        users.add_user(s, "zoe", PASSWORD, "admin")
        with pytest.raises(users.UserError):
            users.set_password(s, "zoe", "aaaaaaaaaaaa")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("  Alice ", "alice"), ("ＡＬＩＣＥ", "alice"), ("STRASSE", "strasse"), ("Straße", "strasse"),
     ("ǅemal", "džemal")],
)
def test_usernames_are_normalised(raw, stored):
    assert passwords.normalise_username(raw) == stored


@pytest.mark.parametrize(
    "bad", ["", "   ", "al\u200bice", "al\u0000ice", "al\tice", "a b", "ali\u202ece", "x" * 65]
)
def test_usernames_with_invisible_or_control_characters_are_refused(bad):
    with pytest.raises(passwords.PolicyError):
        passwords.normalise_username(bad)


def test_lookup_and_login_use_the_normalised_name(client):
    with client.app.state.session_factory() as s:
        with pytest.raises(users.UserError, match="exists"):
            users.add_user(s, " ALICE", PASSWORD, "admin")
        with pytest.raises(users.UserError, match="invisible"):
            users.add_user(s, "ali\u200bce", PASSWORD, "admin")
    assert api_token(client, "Alice")  # the same account
    assert api_token(client, "ＡＬＩＣＥ ")


# ---------------------------------------------------------------------------- revocation


def test_deleted_users_token_never_works_for_a_new_user_of_the_same_name(app, client):
    """Found by the attack: the old token authenticated the new 'admin' (and the id was the
    last one, so SQLite without AUTOINCREMENT would have handed it out again)."""
    admin = api_token(client, "adam")
    page_login(client, "adam")
    assert _admin_post(
        client, "/users", username="zed", password=PASSWORD, role="admin"
    ).status_code == 303
    zed = api_token(client, "zed")
    old_id = _user_id(app, "zed")
    r = _admin_post(client, f"/users/{old_id}/delete", confirm="zed")
    assert r.status_code == 303 and "zed is deleted" in client.get("/users").text
    assert _me(client, zed) == 401  # at once, not after the cache's 10 s
    assert _admin_post(
        client, "/users", username="zed", password=NEW_PASSWORD, role="admin"
    ).status_code == 303
    assert _user_id(app, "zed") > old_id
    assert _me(client, zed) == 401
    r = client.get("/api/v1/patients", headers=zed)
    assert r.status_code == 401
    assert _me(client, admin) == 200


def test_token_of_an_earlier_database_with_the_same_key_is_refused(tmp_path):
    """A re-created database gives the same ids again; the generations differ."""
    first = make_app_on(f"sqlite:///{tmp_path / 'first.db'}")
    with TestClient(first) as client:
        token = api_token(client, "adam")
        page_login(client, "adam")
        cookies = dict(client.cookies)
    second = make_app_on(f"sqlite:///{tmp_path / 'second.db'}")  # same SECRET, same ids
    assert _user_id(first, "adam") == _user_id(second, "adam")
    with TestClient(second, cookies=cookies) as client:
        assert _me(client, token) == 401
        assert _me(client) == 401


def test_deleted_token_is_dead_on_postgres(postgres_url):
    url, drop = fresh_postgres_database(postgres_url)
    try:
        app = make_app_on(url)
        with TestClient(app) as client:
            token = api_token(client, "bob")
            with app.state.session_factory() as s:
                users.delete_user(s, "bob")
                users.add_user(s, "bob", NEW_PASSWORD, "admin")
                s.commit()
            app.state.user_cache.clear()  # as if another worker had made the change
            assert _me(client, token) == 401
            assert _me(client, api_token(client, "bob", NEW_PASSWORD)) == 200
        app.state.engine.dispose()
    finally:
        drop()


def test_disable_and_role_change_revoke_sessions_and_tokens_at_once(app):
    with TestClient(app) as admin, TestClient(app) as alice:
        page_login(admin, "adam")
        page_login(alice, "alice")
        token = api_token(alice, "alice")
        assert _me(alice) == 200 and _me(alice, token) == 200  # both now cached
        uid = _user_id(app, "alice")
        assert _admin_post(admin, f"/users/{uid}/role", role="researcher").status_code == 303
        assert _me(alice) == 401 and _me(alice, token) == 401
        assert alice.get("/patients", follow_redirects=False).status_code == 303
        token = api_token(alice, "alice")
        assert alice.get("/api/v1/auth/me", headers=token).json()["role"] == "researcher"
        assert _admin_post(admin, f"/users/{uid}/active", active="no").status_code == 303
        assert _me(alice, token) == 401
        r = alice.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
        assert r.status_code == 401
        assert _admin_post(admin, f"/users/{uid}/active", active="yes").status_code == 303
        assert _me(alice, api_token(alice, "alice")) == 200


def test_logout_everywhere_ends_every_session_and_token(app):
    with TestClient(app) as laptop, TestClient(app) as phone:
        page_login(laptop, "alice")
        page_login(phone, "alice")
        token = api_token(phone, "alice")
        assert _me(laptop) == 200 and _me(phone) == 200 and _me(phone, token) == 200
        token2 = api_token(laptop, "alice")
        assert laptop.post("/api/v1/auth/logout-everywhere", headers=token2).status_code == 204
        assert _me(laptop) == 401 and _me(phone) == 401
        assert _me(phone, token) == 401 and _me(phone, token2) == 401
        page_login(phone, "alice")
        csrf = csrf_from(phone.get("/account").text)
        r = phone.post("/account/logout-everywhere", data={"csrf_token": csrf},
                       follow_redirects=False)
        assert r.headers["location"] == "/login" and _me(phone) == 401


def test_changing_own_password_keeps_this_session_and_ends_the_others(app):
    with TestClient(app) as here, TestClient(app) as there:
        page_login(here, "alice")
        page_login(there, "alice")
        csrf = csrf_from(here.get("/account").text)
        weak = here.post("/account/password", data={
            "csrf_token": csrf, "current": PASSWORD, "new": "b7" * 6, "again": "b7" * 6})
        assert weak.status_code == 422 and "weak" in weak.text
        wrong = here.post("/account/password", data={
            "csrf_token": csrf, "current": "not it at all", "new": NEW_PASSWORD,
            "again": NEW_PASSWORD})
        assert wrong.status_code == 422 and "current password is wrong" in wrong.text
        ok = here.post("/account/password", data={
            "csrf_token": csrf, "current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD})
        assert ok.status_code == 200 and "Password changed" in ok.text
        assert _me(here) == 200 and _me(there) == 401
        assert page_login(there, "alice", NEW_PASSWORD).status_code == 303


def test_reset_password_gives_a_one_time_password_that_must_be_changed(app, client):
    page_login(client, "adam")
    uid = _user_id(app, "bob")
    page = _admin_post(client, f"/users/{uid}/reset-password")
    one_time = page.text.split('class="one-time-password">')[1].split("<")[0]
    assert len(one_time) >= 20
    with TestClient(app) as bob:
        r = bob.post("/api/v1/auth/token", json={"username": "bob", "password": PASSWORD})
        assert r.status_code == 401  # the old password is gone
        r = bob.post("/api/v1/auth/token", json={"username": "bob", "password": one_time})
        assert r.status_code == 403 and "web page" in r.json()["detail"]
        assert page_login(bob, "bob", one_time).headers["location"] == "/account/password"
        assert bob.get("/patients", follow_redirects=False).headers["location"] == (
            "/account/password"
        )
        csrf = csrf_from(bob.get("/account/password").text)
        r = bob.post("/account/password", data={
            "csrf_token": csrf, "current": one_time, "new": NEW_PASSWORD, "again": NEW_PASSWORD})
        assert r.status_code == 200
        assert bob.get("/patients").status_code == 200
        assert _me(bob, api_token(bob, "bob", NEW_PASSWORD)) == 200


def test_the_last_active_admin_cannot_be_removed(app, client):
    page_login(client, "adam")
    uid = _user_id(app, "adam")
    for url, data in ((f"/users/{uid}/active", {"active": "no"}),
                      (f"/users/{uid}/role", {"role": "clinician", "centre": "leiden"}),
                      (f"/users/{uid}/delete", {"confirm": "adam"})):
        r = _admin_post(client, url, **data)
        assert r.status_code == 422 and "last active admin" in r.text, url
    r = _admin_post(client, f"/users/{_user_id(app, 'rita')}/delete", confirm="someone else")
    assert r.status_code == 422 and "to confirm" in r.text
    assert client.get("/users").status_code == 200


def test_admin_user_actions_are_audited(app, client):
    page_login(client, "adam")
    uid = _user_id(app, "rita")
    _admin_post(client, f"/users/{uid}/password", password=NEW_PASSWORD)
    _admin_post(client, f"/users/{uid}/logout-everywhere")
    from crlm.registry import audit

    with app.state.session_factory() as s:
        details = [e.detail for e in audit.list_events(s, limit=50, offset=0, entity_id="rita")]
    assert "password set by an admin" in details
    assert "every session and token ended by an admin" in details
    assert page_login(client, "rita", NEW_PASSWORD).status_code == 303


# ---------------------------------------------------------------------------- CLI


def test_cli_user_lifecycle(tmp_path):
    from crlm.cli import app as cli

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None):
        return runner.invoke(cli, ["user", *args, "--db", url], input=stdin)

    assert run("add", "Carol", "--role", "clinician", "--centre", "oslo", "--password-stdin",
               stdin=PASSWORD + "\n").exit_code == 0
    from crlm.registry.db import init_db, make_session_factory

    engine = init_db(url)
    with make_session_factory(engine)() as s:
        start = users.get_user(s, "carol").generation
    r = run("passwd", "carol", "--password-stdin", stdin="aaaaaaaaaaaa\n")
    assert r.exit_code == 2 and "common passwords" in r.output
    r = run("passwd", "carol", "--password-stdin", stdin=" " * 12 + "\n")
    assert r.exit_code == 2
    assert run("passwd", "CAROL", "--password-stdin", stdin=NEW_PASSWORD + "\n").exit_code == 0
    assert run("role", "carol", "researcher").exit_code == 0
    assert run("disable", "carol").exit_code == 0
    assert "disabled" in run("list").output
    assert run("enable", "carol").exit_code == 0
    r = run("reset-password", "carol")
    assert r.exit_code == 0
    one_time = r.output.strip().splitlines()[-1].strip()
    r = run("role", "carol", "admin")
    assert r.exit_code == 0
    assert run("delete", "carol", "--yes").exit_code == 2  # the only admin
    assert run("delete", "nobody", "--yes").exit_code == 2
    with make_session_factory(engine)() as s:
        carol = users.get_user(s, "carol")
        # passwd, role, disable, enable, reset-password, role: six revocations, none refused
        assert carol.must_change_password and carol.generation == start + 6
        assert users.authenticate(s, "carol", one_time) is not None
        users.add_user(s, "dora", PASSWORD, "admin")
        s.commit()
    assert run("delete", "carol", "--yes").exit_code == 0
    assert "carol" not in run("list").output
    engine.dispose()


# ---------------------------------------------------------------------------- migration


def test_migration_normalises_names_and_never_reuses_ids(tmp_path):
    from alembic import command

    from crlm.registry.db import alembic_config, make_engine, make_session_factory

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO users (username, password_hash, role, centre, active, created_at) "
            "VALUES (' Alice', 'x', 'admin', NULL, 1, '2026-01-01'), "
            "('bob', 'x', 'admin', NULL, 1, '2026-01-01')"
        ))
    command.upgrade(alembic_config(engine), "head")
    with make_session_factory(engine)() as s:
        assert [u.username for u in users.list_users(s)] == ["alice", "bob"]
        assert all(u.generation == 1 and not u.must_change_password for u in users.list_users(s))
        last = users.get_user(s, "bob").id
        users.delete_user(s, "bob")
        s.commit()
        assert users.add_user(s, "bob", PASSWORD, "admin").id > last
    engine.dispose()


# ---------------------------------------------------------------------------- rate limit


class _CountingHasher(PasswordHasher):
    calls = 0

    def verify(self, hash, password):  # type: ignore[no-untyped-def]
        type(self).calls += 1
        return super().verify(hash, password)


def test_parallel_wrong_passwords_are_limited_exactly(client):
    """Found by the attack: 32 of 60 parallel attempts were evaluated with a limit of 5."""
    def attempt(_: int) -> int:
        body = {"username": "alice", "password": "wrong guess number x"}
        return client.post("/api/v1/auth/token", json=body).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(attempt, range(30)))
    assert codes.count(401) == 5 and codes.count(429) == 25


def test_random_usernames_are_limited_per_address_without_argon2(client, monkeypatch):
    hasher = _CountingHasher()
    monkeypatch.setattr(users, "_hasher", hasher)
    codes = []
    for _ in range(30):
        body = {"username": secrets.token_hex(6), "password": "wrong guess number x"}
        codes.append(client.post("/api/v1/auth/token", json=body).status_code)
    assert codes[:20] == [401] * 20 and codes[20:] == [429] * 10
    assert _CountingHasher.calls == 20  # one dummy verification per unknown name, none after


def test_per_username_limit_across_addresses(tmp_path):
    from crlm.registry.db import init_db

    limiter = LoginRateLimiter(init_db(f"sqlite:///{tmp_path / 'l.db'}"),
                               LoginLimits(per_user=3))
    for n in range(3):
        limiter.acquire("alice", f"10.0.0.{n}")
    with pytest.raises(TooManyLoginAttemptsError):
        limiter.acquire("alice", "10.0.0.200")
    limiter.acquire("bob", "10.0.0.200")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_limiter_is_atomic_under_parallel_attempts(backend, tmp_path, request):
    """60 threads (as 60 workers would) share one counter: exactly 5 get through."""
    from crlm.registry.db import init_db

    drop = None
    if backend == "postgresql":
        url, drop = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'atomic.db'}"
    try:
        engine = init_db(url)
        limiters = [LoginRateLimiter(engine) for _ in range(4)]  # separate "workers"
        barrier = threading.Barrier(20)

        def attempt(n: int) -> bool:
            if n < 20:
                barrier.wait()
            try:
                limiters[n % 4].acquire("alice", "10.0.0.1")
            except TooManyLoginAttemptsError:
                return False
            return True

        with ThreadPoolExecutor(max_workers=20) as pool:
            allowed = list(pool.map(attempt, range(60)))
        assert sum(allowed) == 5
        engine.dispose()
    finally:
        if drop:
            drop()


# ---------------------------------------------------------------------------- body limit


def _asgi_post(app, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]):
    """Call the ASGI app directly; (status, number of body chunks the app pulled)."""
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1],
                    "more_body": pulled < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver"), *headers],
        "client": ("10.9.9.9", 1234), "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], pulled


def test_request_body_limit_stops_reading_early(tmp_path):
    from crlm.web.app import create_app
    from web_support import SECRET

    app = create_app(f"sqlite:///{tmp_path / 'b.db'}", secret_key=SECRET, max_body_bytes=10_000)
    json_type = (b"content-type", b"application/json")
    chunks = [b"x" * 1000] * 100  # 100 kB, no Content-Length (chunked upload)
    status, pulled = _asgi_post(app, "/api/v1/auth/token", chunks, [json_type])
    assert status == 413
    assert pulled <= 11  # stopped at the first chunk past 10 kB, never read the other 89
    declared = [json_type, (b"content-length", b"100000000")]
    status, pulled = _asgi_post(app, "/api/v1/auth/token", chunks, declared)
    assert (status, pulled) == (413, 0)  # refused from the header, nothing read
    small = [b'{"username": "nobody", "password": "wrong guess number x"}']
    status, _ = _asgi_post(app, "/api/v1/auth/token", small, [json_type])
    assert status == 401


def test_upload_route_has_its_own_larger_limit(tmp_path):
    from crlm.web.app import create_app
    from web_support import SECRET

    app = create_app(f"sqlite:///{tmp_path / 'u.db'}", secret_key=SECRET, max_body_bytes=10_000,
                     route_body_limits={"/import": 200_000})
    form = (b"content-type", b"application/x-www-form-urlencoded")
    status, pulled = _asgi_post(app, "/import", [b"a=" + b"x" * 1000] * 50, [form])
    assert status != 413 and pulled == 50  # read in full (then: no session → 403 / redirect)
    status, _ = _asgi_post(app, "/import", [b"x" * 1000] * 300, [form])
    assert status == 413


def test_oversized_token_request_is_413_through_the_client(client):
    big = {"username": "alice", "password": "x" * 3_000_000}
    r = client.post("/api/v1/auth/token", json=big)
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
