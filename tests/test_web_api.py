"""JSON API: authentication, roles, CSRF with cookie auth, rate limit, CRUD + audit, validation
errors that name the field, 404s, cohort summary and Kaplan–Meier numbers."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crlm.web.security import LoginLimits, LoginRateLimiter, TooManyLoginAttemptsError
from web_support import PASSWORD, api_token, page_login, route_table, sample_patient


def _events(app, entity_id: str) -> list:
    from crlm.registry import audit

    with app.state.session_factory() as s:
        return audit.list_events(s, limit=1000, offset=0, entity_id=entity_id)


# ---------------------------------------------------------------------------- authentication


def test_every_api_route_needs_authentication(app, client):
    """Enumerates the routes, so a new route cannot be forgotten."""
    open_routes = {
        ("POST", "/api/v1/auth/token"), ("GET", "/api/v1/docs"), ("GET", "/api/v1/redoc"),
        ("GET", "/api/v1/openapi.json"),
    }
    checked = 0
    for method, route_path in route_table(app):
        if not route_path.startswith("/api/v1") or (method, route_path) in open_routes:
            continue
        path = route_path.replace("{patient_id}", "1")
        r = client.request(method, path, json={})
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        checked += 1
    assert checked >= 9
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_bad_or_forged_token_is_401(client):
    good = api_token(client, "alice")["Authorization"]
    for header in ("Bearer nonsense", good[:-2] + "xx", "Basic YWxpY2U6eA=="):
        r = client.get("/api/v1/patients", headers={"Authorization": header})
        assert r.status_code == 401, header


def test_wrong_password_401_then_rate_limited_429(client):
    for _ in range(5):
        r = client.post("/api/v1/auth/token", json={"username": "alice", "password": "wrong"})
        assert r.status_code == 401
    # the sixth attempt is refused even with the right password
    r = client.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    # other usernames from the same address are not blocked
    assert client.post(
        "/api/v1/auth/token", json={"username": "bob", "password": PASSWORD}
    ).status_code == 200


def _limiter(tmp_path: Path, now: list[float], **limits: float) -> LoginRateLimiter:
    from crlm.registry.db import init_db

    engine = init_db(f"sqlite:///{tmp_path / 'limits.db'}")
    return LoginRateLimiter(engine, LoginLimits(**limits), clock=lambda: now[0])


def test_rate_limiter_window(tmp_path):
    now = [1000.0]
    limiter = _limiter(tmp_path, now, per_user_and_ip=5, window_s=300)
    for _ in range(5):
        limiter.acquire("alice", "10.0.0.1")
    with pytest.raises(TooManyLoginAttemptsError) as blocked:
        limiter.acquire("alice", "10.0.0.1")
    assert blocked.value.retry_after_s == 300
    limiter.acquire("alice", "10.0.0.2")  # another address has its own budget
    now[0] += 299
    with pytest.raises(TooManyLoginAttemptsError) as blocked:
        limiter.acquire("alice", "10.0.0.1")
    assert blocked.value.retry_after_s == 1
    now[0] += 1
    limiter.acquire("alice", "10.0.0.1")  # a new window


def test_rate_limiter_success_resets_and_refunds(tmp_path):
    now = [0.0]
    limiter = _limiter(tmp_path, now, per_user_and_ip=2, per_ip=3, per_user=100)
    limiter.acquire("alice", "10.0.0.1")
    limiter.succeeded(limiter.acquire("alice", "10.0.0.1"))
    limiter.acquire("alice", "10.0.0.1")  # the success forgot the two before it
    limiter.acquire("alice", "10.0.0.1")
    with pytest.raises(TooManyLoginAttemptsError):
        limiter.acquire("bob", "10.0.0.1")  # the address has used its 3 (+1 given back)


def test_rate_limiter_forgets_expired_keys(tmp_path):
    import sqlalchemy as sa

    from crlm.registry.models import LoginThrottle

    now = [0.0]
    limiter = _limiter(tmp_path, now, window_s=300)
    for n in range(10):
        limiter.acquire(f"user{n}", f"10.0.0.{n}")
    now[0] = 400.0
    limiter.acquire("late", "10.0.0.99")
    assert limiter.prune() == 30  # 10 expired attempts × (user+ip, ip, user)
    with limiter.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(LoginThrottle)) == 3


def test_cookie_session_api_needs_csrf_header_for_writes(client):
    assert page_login(client, "alice").status_code == 303
    assert client.get("/api/v1/patients").status_code == 200
    r = client.post("/api/v1/patients", json=sample_patient())
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    token = client.get("/patients/new").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/api/v1/patients", json=sample_patient(), headers={"X-CSRF-Token": token})
    assert r.status_code == 201


# ---------------------------------------------------------------------------- CRUD + audit


def test_crud_roundtrip_with_audit_rows(app, client):
    auth = api_token(client, "alice")
    r = client.post("/api/v1/patients", json=sample_patient(), headers=auth)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]

    r = client.get(f"/api/v1/patients/{pid}", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["centre"] == "leiden"
    assert body["patient"]["labs"]["cea_ng_ml"] == 12.0
    assert body["patient"]["liver"]["lesions"] == [
        {"segment": 7, "diameter_cm": 3.2, "deep": None}
    ]

    listing = client.get("/api/v1/patients", headers=auth).json()
    assert [row["id"] for row in listing["items"]] == [pid]
    assert listing["items"][0]["external_id"] == "LEI-001"

    changed = sample_patient(labs={"cea_ng_ml": 250.0})
    r = client.put(f"/api/v1/patients/{pid}", json=changed, headers=auth | {"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["patient"]["labs"]["cea_ng_ml"] == 250.0
    assert client.get(f"/api/v1/patients/{pid}", headers=auth).json()["patient"]["labs"] == {
        "cea_ng_ml": 250.0, "ca19_9_u_ml": None, "bilirubin_mg_dl": None, "albumin_g_dl": None,
        "icg_r15_percent": None, "platelets_10e9_l": None, "inr": None,
    }

    assert client.delete(f"/api/v1/patients/{pid}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/patients/{pid}", headers=auth).status_code == 404

    events = _events(app, str(pid))
    assert {e.actor for e in events} == {"alice"}
    actions = [e.action for e in events]
    for expected in ("create", "read", "update", "delete"):
        assert any(expected in a for a in actions), (expected, actions)


def test_a_patient_body_naming_a_key_twice_is_refused(client):
    auth = api_token(client, "alice") | {"Content-Type": "application/json"}
    r = client.post("/api/v1/patients", headers=auth,
                    content=b'{"id": "A", "labs": {"cea_ng_ml": 5, "cea_ng_ml": 500}}')
    assert r.status_code == 400 and "duplicate key 'cea_ng_ml'" in r.json()["detail"]


def test_put_needs_the_etag_read_and_refuses_a_stale_one(app, client):
    alice = api_token(client, "alice")
    pid = client.post("/api/v1/patients", json=sample_patient(), headers=alice).json()["id"]
    r = client.get(f"/api/v1/patients/{pid}", headers=alice)
    assert r.headers["ETag"] == '"1"' and r.json()["version"] == 1
    mine = sample_patient(labs={"cea_ng_ml": 30.0})
    for missing in ({}, {"If-Match": "*"}, {"If-Match": "nonsense"}):
        r = client.put(f"/api/v1/patients/{pid}", json=mine, headers=alice | missing)
        assert r.status_code == 428 and "If-Match" in r.json()["detail"], missing
    theirs = sample_patient(labs={"cea_ng_ml": 40.0})
    r = client.put(f"/api/v1/patients/{pid}", json=theirs,
                   headers=alice | {"If-Match": r.headers.get("ETag", '"1"')})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    r = client.put(f"/api/v1/patients/{pid}", json=mine, headers=alice | {"If-Match": '"1"'})
    assert r.status_code == 412 and r.headers["ETag"] == '"2"'
    assert "changed since you read it" in r.json()["detail"]
    stored = client.get(f"/api/v1/patients/{pid}", headers=alice).json()["patient"]
    assert stored["labs"]["cea_ng_ml"] == 40.0  # the other save was not lost
    r = client.put(f"/api/v1/patients/{pid}", json=mine, headers=alice | {"If-Match": 'W/"2"'})
    assert r.status_code == 200 and r.json()["version"] == 3
    details = [e.detail for e in _events(app, str(pid)) if e.action == "update"]
    assert '{"external_id":"LEI-001","version":3,"changes":{"labs.cea_ng_ml":[40.0,30.0]}}' \
        in details


def test_duplicate_external_id_is_409_and_admin_names_the_centre(client):
    alice, adam = api_token(client, "alice"), api_token(client, "adam")
    first = client.post("/api/v1/patients", json=sample_patient(), headers=alice).json()["id"]
    r = client.post("/api/v1/patients", json=sample_patient(), headers=alice)
    assert r.status_code == 409 and "LEI-001" in r.json()["detail"]
    second = client.post(
        "/api/v1/patients", json=sample_patient(id="LEI-002"), headers=alice
    ).json()["id"]
    r = client.put(f"/api/v1/patients/{second}", json=sample_patient(),
                   headers=alice | {"If-Match": '"1"'})
    assert r.status_code == 409
    # same external id in another centre is a different patient
    assert client.post(
        "/api/v1/patients", json=sample_patient(), headers=api_token(client, "bob")
    ).status_code == 201
    # an admin without a centre must name one
    assert client.post("/api/v1/patients", json=sample_patient(), headers=adam).status_code == 422
    r = client.post("/api/v1/patients?centre=oslo", json=sample_patient(), headers=adam)
    assert r.status_code == 201
    assert client.get(f"/api/v1/patients/{r.json()['id']}", headers=adam).json()["centre"] == "oslo"
    assert client.get(f"/api/v1/patients/{first}", headers=alice).status_code == 200


def test_unknown_ids_are_404_and_bad_ids_422(client):
    auth = api_token(client, "alice")
    assert client.get("/api/v1/patients/999", headers=auth).status_code == 404
    r = client.put("/api/v1/patients/999", json=sample_patient(),
                   headers=auth | {"If-Match": '"1"'})
    assert r.status_code == 404
    assert client.delete("/api/v1/patients/999", headers=auth).status_code == 404
    assert client.get("/api/v1/patients/999/assessment", headers=auth).status_code == 404
    for bad in ("0", "-1", "abc", str(2**70)):
        r = client.get(f"/api/v1/patients/{bad}", headers=auth)
        assert r.status_code == 422, bad
        assert r.json()["errors"][0]["field"] == "patient_id"


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"labs": {"cea_ng_ml": -5}}, "labs.cea_ng_ml"),
        ({"age_years": "61"}, "age_years"),  # strict: a string is not a number
        ({"liver": {"number_of_metastases": 2.5}}, "liver.number_of_metastases"),
        ({"primary": {"site": "stomach"}}, "primary.site"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
        ({"liver": {"lesions": [{"segment": 9}]}}, "liver.lesions.0.segment"),
    ],
)
def test_validation_errors_name_the_field(client, patch, field):
    auth = api_token(client, "alice")
    for method, url in (("POST", "/api/v1/patients"), ("POST", "/api/v1/assess")):
        r = client.request(method, url, json=sample_patient(**patch), headers=auth)
        assert r.status_code == 422, r.text
        assert field in [e["field"] for e in r.json()["errors"]], r.json()


@pytest.mark.parametrize(
    "raw", [b"{", b"[1, 2]", b"\xff\xfe", b"null", b'{"age_years": NaN}', b"[" * 5000,
            b'{"id": "A", "age_years": 61, "age_years": 16}']
)
def test_malformed_bodies_are_4xx_never_500(client, raw):
    auth = api_token(client, "alice") | {"Content-Type": "application/json"}
    for url in ("/api/v1/patients", "/api/v1/assess"):
        r = client.post(url, content=raw, headers=auth)
        assert r.status_code in (400, 422), (url, raw[:20], r.status_code)
    json_type = {"Content-Type": "application/json"}
    r = client.post("/api/v1/auth/token", content=b"{", headers=json_type)
    assert r.status_code == 400


# ---------------------------------------------------------------------------- roles


def test_clinician_sees_only_own_centre_admin_sees_all(app, client):
    alice, bob, adam = (api_token(client, u) for u in ("alice", "bob", "adam"))
    pid = client.post("/api/v1/patients", json=sample_patient(), headers=alice).json()["id"]
    assert client.get(f"/api/v1/patients/{pid}", headers=bob).status_code == 404
    r = client.put(f"/api/v1/patients/{pid}", json=sample_patient(),
                   headers=bob | {"If-Match": '"1"'})
    assert r.status_code == 404
    assert client.delete(f"/api/v1/patients/{pid}", headers=bob).status_code == 404
    assert client.get("/api/v1/patients", headers=bob).json()["items"] == []
    assert client.get(f"/api/v1/patients/{pid}", headers=adam).status_code == 200
    assert [r["id"] for r in client.get("/api/v1/patients", headers=adam).json()["items"]] == [pid]
    # the denied attempts read no patient data, so no "read" audit row names bob
    reads = [e for e in _events(app, str(pid)) if e.action == "read"]
    assert {e.actor for e in reads} == {"adam"}


def test_researcher_gets_no_identifiable_data(client):
    rita = api_token(client, "rita")
    alice = api_token(client, "alice")
    pid = client.post("/api/v1/patients", json=sample_patient(), headers=alice).json()["id"]
    assert client.get("/api/v1/patients", headers=rita).status_code == 403
    assert client.get(f"/api/v1/patients/{pid}", headers=rita).status_code == 403
    assert client.get(f"/api/v1/patients/{pid}/assessment", headers=rita).status_code == 403
    assert client.post("/api/v1/patients", json=sample_patient(), headers=rita).status_code == 403
    assert client.get("/api/v1/cohort/summary", headers=rita).status_code == 200


# ---------------------------------------------------------------------------- assessment


def test_assess_is_stateless_and_matches_the_core(app, client):
    from crlm.clinical.assess import assess
    from crlm.domain import parse_patient
    from crlm.registry import audit

    auth = api_token(client, "alice")
    with app.state.session_factory() as s:
        events_before = len(audit.list_events(s, limit=1000, actor="alice"))
    r = client.post("/api/v1/assess", json=sample_patient(), headers=auth)
    assert r.status_code == 200
    assert r.json() == assess(parse_patient(sample_patient())).model_dump(mode="json")
    with app.state.session_factory() as s:  # no patient record is read: no audit row
        assert len(audit.list_events(s, limit=1000, actor="alice")) == events_before
    assert client.get("/api/v1/patients", headers=auth).json()["total"] == 0
    pid = client.post("/api/v1/patients", json=sample_patient(), headers=auth).json()["id"]
    stored = client.get(f"/api/v1/patients/{pid}/assessment", headers=auth)
    assert stored.status_code == 200 and stored.json() == r.json()


# ---------------------------------------------------------------------------- cohort


def _cohort_patient(n: int, timing: str, age: float, months_to_end: int, dead: bool) -> dict:
    diagnosis = dt.date(2020, 1, 1)
    end = diagnosis + dt.timedelta(days=months_to_end * 30)
    outcome = {"date_last_follow_up": end.isoformat(), "vital_status": "dead" if dead else "alive"}
    if dead:
        outcome["date_of_death"] = end.isoformat()
    return {
        "id": f"C-{n}", "age_years": age,
        "primary": {"site": "left_colon", "date_of_diagnosis": diagnosis.isoformat()},
        "liver": {"timing": timing}, "outcome": outcome,
    }


def test_cohort_summary_and_km_numbers(client):
    auth = api_token(client, "alice")
    cohort = [
        _cohort_patient(1, "synchronous", 50, 10, True),
        _cohort_patient(2, "synchronous", 60, 20, False),
        _cohort_patient(3, "synchronous", 70, 30, True),
        _cohort_patient(4, "metachronous", 40, 40, False),
        _cohort_patient(5, "metachronous", 80, 5, True),
    ]
    for p in cohort:
        assert client.post("/api/v1/patients", json=p, headers=auth).status_code == 201

    # the numbers as an admin sees them (a researcher's small cells are suppressed: see
    # test_web_clinician.py)
    adam = api_token(client, "adam")
    summary = client.get("/api/v1/cohort/summary?grouping=timing", headers=adam).json()
    assert summary["n"] == 5 and summary["problem"] is None
    assert summary["columns"] == [
        "Variable", "metachronous (n = 2)", "synchronous (n = 3)", "Overall (n = 5)", "p", "Test"
    ]
    age = next(r for r in summary["rows"] if r[0].startswith("Age"))
    # ages 40 80 | 50 60 70: medians and quartiles (linear) by hand; R 4.2
    # wilcox.test(c(40, 80), c(50, 60, 70))$p.value = 1 (exact: n < 50, no ties, R's default)
    assert age == ["Age, years, median (IQR)", "60 (50–70)", "60 (55–65)", "60 (50–70)",
                   "1.000", "Mann–Whitney U test (exact)"]
    dead = next(r for r in summary["rows"] if r[0].startswith("Dead"))
    assert dead[1:4] == ["1 (50.0)", "2 (66.7)", "3 (60.0)"]
    assert any(f.startswith("No data for Sex") for f in summary["footnotes"])

    km = client.post("/api/v1/analysis/km", json={"grouping": "timing"}, headers=adam).json()
    assert km["excluded"] == 0
    curves = {c["group"]: c for c in km["curves"]}
    month = 365.25 / 12
    syn = curves["synchronous"]
    assert (syn["n"], syn["events"]) == (3, 2)
    # product-limit: 1 → 2/3 at 10 months (300 d), censor at 600 d, → 0 at 900 d
    assert syn["time_months"] == pytest.approx([0, 300 / month, 600 / month, 900 / month])
    assert syn["survival"] == pytest.approx([1, 2 / 3, 2 / 3, 0])
    assert syn["median_months"] == pytest.approx(900 / month)
    meta = curves["metachronous"]
    assert meta["survival"] == pytest.approx([1, 0.5, 0.5])
    assert meta["median_months"] == pytest.approx(150 / month)
    # R 4.2 survival 3.5: survdiff(Surv(t, e) ~ g) on these five patients → p = 0.855396720249;
    # survfit medians 4.928131 (metachronous) and 29.568789 (synchronous) months
    assert km["logrank_p"] == pytest.approx(0.855396720249, abs=1e-9)
    assert meta["median_months"] == pytest.approx(4.928131, abs=1e-6)
    assert syn["median_months"] == pytest.approx(29.568789, abs=1e-6)


# ---------------------------------------------------------------------------- headers, keys


def test_security_headers(client):
    for url in ("/api/v1/openapi.json", "/login"):
        h = client.get(url).headers
        assert "script-src 'self'" in h["content-security-policy"]
        assert "unsafe-inline" not in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY"
        assert h["x-content-type-options"] == "nosniff"


def test_secret_key_file_created_0600_and_reused(tmp_path, monkeypatch):
    from crlm.web.settings import SecretKeyError, resolve_secret_key

    monkeypatch.delenv("CRLM_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    key = resolve_secret_key(url)
    path = tmp_path / "reg.db.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_secret_key(url) == key and len(key) >= 32
    os.chmod(path, 0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        resolve_secret_key(url)
    monkeypatch.setenv("CRLM_SECRET_KEY", "k" * 40)
    assert resolve_secret_key(url) == "k" * 40


def test_docs_page_has_no_inline_script_and_its_own_csp(client):
    r = client.get("/api/v1/docs")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    # no CDN; inline styles only (ReDoc writes <style> elements), never inline script
    assert "script-src 'self';" in csp and "https://" not in csp
    scripts = r.text.count("<script")
    assert scripts == r.text.count("<script src=") == 2
    assert client.get("/static/docs.js").status_code == 200


@pytest.mark.postgres
def test_crud_and_hostile_input_on_postgres(postgres_url):
    """PostgreSQL rejects NUL characters that SQLite stores: 4xx, never 500."""
    from web_support import fresh_postgres_database, make_app_on

    url, drop = fresh_postgres_database(postgres_url)
    try:
        app = make_app_on(url)
        with TestClient(app) as client:
            auth = api_token(client, "alice")
            r = client.post("/api/v1/patients", json=sample_patient(), headers=auth)
            assert r.status_code == 201
            pid = r.json()["id"]
            got = client.get(f"/api/v1/patients/{pid}", headers=auth).json()["patient"]
            assert got["labs"]["cea_ng_ml"] == 12.0 and got["primary"]["site"] == "rectum"
            hostile = sample_patient(id="PG-2", notes="FOL\u0000FOX")
            r = client.post("/api/v1/patients", json=hostile, headers=auth)
            assert r.status_code == 422 and "cannot be stored" in r.json()["detail"]
            r = client.get("/api/v1/patients", params={"search": "a\u0000b"}, headers=auth)
            assert r.status_code == 422
            r = client.post("/api/v1/auth/token", json={"username": "x\u0000", "password": "p"})
            assert r.status_code == 401  # no such user; the audit row holds the name escaped
            assert client.delete(f"/api/v1/patients/{pid}", headers=auth).status_code == 204
        app.state.engine.dispose()
    finally:
        drop()


def test_deactivated_user_loses_access_within_the_cache_ttl(app, client):
    from crlm.registry import users
    from crlm.web.deps import user_cache

    now = [0.0]
    app.state.user_cache = user_cache(ttl_s=10, clock=lambda: now[0])
    auth = api_token(client, "alice")
    assert client.get("/api/v1/auth/me", headers=auth).json()["role"] == "clinician"
    with app.state.session_factory() as s:
        users.get_user(s, "alice").active = False
        s.commit()
    now[0] = 9.9  # still cached
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 200
    now[0] = 10.0
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 401
    r = client.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 401


def test_remembered_api_token_is_still_refused_from_its_expiry_on():
    import time

    from crlm.web.security import ApiTokens, TokenClaims

    now = [time.time()]
    tokens = ApiTokens("k" * 48, max_age_s=100, clock=lambda: now[0])
    token = tokens.issue(7, 3)
    assert tokens.claims(token) == TokenClaims(7, 3)  # verified, now remembered
    assert tokens.claims(token) == TokenClaims(7, 3)
    now[0] += 102  # past the signed timestamp (whole seconds) + max_age
    assert tokens.claims(token) is None
    forged = ApiTokens("other key" * 6).issue(7, 3)
    assert tokens.claims(forged) is None
    assert tokens.claims(forged) is None  # a refused token is not remembered as valid


def test_ttl_cache_expires_and_evicts_oldest():
    from crlm.web.cache import TtlCache

    now = [0.0]
    cache: TtlCache[str, int] = TtlCache(ttl_s=5, max_entries=2, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)  # evicts "a"
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)
    now[0] = 5.0
    assert cache.get("b") is None


def test_served_start_up_freezes_the_start_up_heap(app):
    import gc

    gc.unfreeze()
    try:
        with TestClient(app):  # runs the lifespan, as uvicorn does
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # give the test process its collector back
