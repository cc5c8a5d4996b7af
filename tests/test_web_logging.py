"""Structured logs, request ids, health endpoints and ``crlm serve``'s server options."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from crlm.web.logs import (
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    accepted_request_id,
    configure_logging,
)
from web_support import api_token, csrf_from, page_login, sample_patient

NAME = "Wilhelmina Quaggenbosch"
MRN = "MRN-ZQX-774411"
LOGGERS = ("crlm", "uvicorn", "uvicorn.error", "uvicorn.access", "")


@pytest.fixture
def log_stream(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The served logging set-up (JSON, debug) writing into a buffer; restored afterwards."""
    saved = {n: (logging.getLogger(n).level, list(logging.getLogger(n).handlers),
                 logging.getLogger(n).propagate) for n in LOGGERS}
    configure_logging(getattr(request, "param", "json"), "debug")
    buffer = io.StringIO()
    logging.getLogger().handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    for name, (level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


# ---------------------------------------------------------------------------- request ids


def test_request_id_is_returned_and_on_every_line_of_the_request(app, log_stream):
    @app.get("/log-probe/{thing}")
    def probe(thing: str) -> dict[str, str]:  # a sync route: runs in the thread pool
        logging.getLogger("crlm.probe").info("inside the handler")
        return {"ok": thing}

    with TestClient(app) as client:
        r = client.get("/log-probe/x", headers={"X-Request-ID": "trace-abc.123"})
        assert r.headers["x-request-id"] == "trace-abc.123"
        generated = client.get("/log-probe/y").headers["x-request-id"]
        for bad in ("has spaces", "x" * 129, "semi;colon", "é"):
            presented = {"X-Request-ID": bad.encode()}
            minted = client.get("/log-probe/z", headers=presented).headers["x-request-id"]
            assert minted != bad and len(minted) == 32
    assert len(generated) == 32 and generated != "trace-abc.123"
    lines = _lines(log_stream)
    mine = [line for line in lines if line["request_id"] == "trace-abc.123"]
    assert [line["logger"] for line in mine] == ["crlm.probe", "crlm.access"]
    access = mine[-1]
    assert access["method"] == "GET" and access["route"] == "/log-probe/{thing}"
    assert access["status"] == 200 and access["duration_ms"] >= 0
    assert any(line["request_id"] == generated for line in lines)


def test_accepted_request_id():
    assert accepted_request_id("abc-DEF_1.2:3") == "abc-DEF_1.2:3"
    assert accepted_request_id(None) != accepted_request_id(None)
    assert accepted_request_id("<script>") != "<script>"


def test_access_log_names_route_templates_not_paths(app, log_stream):
    with TestClient(app) as client:
        headers = api_token(client, "alice")
        pid = client.post("/api/v1/patients", json=sample_patient(), headers=headers).json()["id"]
        client.get(f"/api/v1/patients/{pid}", headers=headers)
        client.get("/static/style.css")
        client.get("/no/such/page/4711?q=secret")
        client.put("/login")
    access = {(a["method"], a["route"], a["status"]) for a in _lines(log_stream)
              if a["logger"] == "crlm.access"}
    assert ("POST", "/api/v1/patients", 201) in access
    assert ("GET", "/api/v1/patients/{patient_id}", 200) in access
    assert ("GET", "/static/{path}", 200) in access
    assert ("GET", "(no route)", 404) in access
    assert ("PUT", "/login", 405) in access
    assert "4711" not in log_stream.getvalue() and "secret" not in log_stream.getvalue()


# ---------------------------------------------------------------------------- no patient data


def test_no_patient_data_in_logs(app, log_stream):
    patient = sample_patient(id=MRN, notes=f"Patient {NAME}, seen in clinic")
    with TestClient(app) as client:
        api = api_token(client, "alice")
        created = client.post("/api/v1/patients", json=patient, headers=api)
        assert created.status_code == 201, created.text
        pid = created.json()["id"]
        assert client.get(f"/api/v1/patients/{pid}", headers=api).status_code == 200
        assert client.get(f"/api/v1/patients?search={MRN}", headers=api).json()["total"] == 1
        assert client.post("/api/v1/patients", json=patient, headers=api).status_code == 409
        bad = {**patient, "age_years": f"{NAME} {MRN}"}
        assert client.post("/api/v1/patients", json=bad, headers=api).status_code == 422
        assert client.post("/api/v1/assess", json=patient, headers=api).status_code == 200
        page_login(client, "alice")
        assert NAME in client.get(f"/patients/{pid}").text  # the page shows it; logs must not
        assert MRN in client.get(f"/patients?q={MRN}").text
        form = client.get(f"/patients/{pid}/edit")
        client.post(f"/patients/{pid}/edit", data={"csrf_token": csrf_from(form.text),
                                                   "notes": f"{NAME} again"})
    text = log_stream.getvalue()
    assert sum(1 for line in _lines(log_stream) if line["logger"] == "crlm.access") >= 9
    for secret in (NAME, MRN, NAME.split()[1], "774411"):
        assert secret not in text


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()],
                         ids=["json", "text"])
def test_exceptions_are_logged_without_their_message(formatter):
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("crlm.test-exceptions")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise sa.exc.IntegrityError("INSERT ...", {"id": MRN, "notes": NAME}, Exception(NAME))
        except sa.exc.IntegrityError:
            logger.exception("unhandled error")
    finally:
        logger.removeHandler(handler)
    out = buffer.getvalue()
    assert "IntegrityError (message not logged)" in out and "unhandled error" in out
    assert "test_web_logging.py" in out  # the traceback is kept
    assert NAME not in out and MRN not in out


@pytest.mark.parametrize("log_stream", ["text"], indirect=True)
def test_text_format(app, log_stream):
    with TestClient(app) as client:
        client.get("/login", headers={"X-Request-ID": "req-7"})
    line = log_stream.getvalue().splitlines()[-1]
    assert " INFO crlm.access [req-7] GET /login 200 " in line and line.endswith(" ms")


# ---------------------------------------------------------------------------- health


def test_healthz_and_readyz_need_no_login_and_say_nothing_of_patients(app):
    with TestClient(app) as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert health.headers["cache-control"] == "no-store" and "x-request-id" in health.headers


def test_readyz_is_503_behind_the_schema_and_without_database(app, tmp_path):
    with TestClient(app) as client:
        with app.state.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
        r = client.get("/readyz")
        assert r.status_code == 503 and "crlm db migrate" in r.json()["detail"]
        app.state.engine = sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["detail"] == "the database cannot be reached"
        assert client.get("/healthz").status_code == 200  # alive all the same


# ---------------------------------------------------------------------------- crlm serve


@pytest.fixture
def uvicorn_calls(monkeypatch) -> list[dict[str, Any]]:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.setattr("crlm.web.logs.configure_logging", lambda *a, **k: None)
    return calls


def _serve(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    from crlm.cli import app as cli

    return CliRunner().invoke(cli, ["serve", *args], env=env)


def test_serve_passes_workers_forwarded_ips_and_logging(uvicorn_calls, tmp_path, monkeypatch):
    monkeypatch.setenv("CRLM_SECRET_KEY", "s" * 40)
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    result = _serve("--db", db, "--workers", "3", "--forwarded-allow-ips", "172.18.0.0/16",
                    "--log-format", "json")
    assert result.exit_code == 0, result.output
    call = uvicorn_calls[-1]
    assert call["workers"] == 3 and call["factory"] is True
    assert call["proxy_headers"] is True and call["forwarded_allow_ips"] == "172.18.0.0/16"
    assert call["access_log"] is False
    formatter = call["log_config"]["formatters"]["crlm"]["()"]
    assert formatter == "crlm.web.logs.JsonFormatter"
    assert (tmp_path / "serve.db").exists()  # migrated before the workers start

    result = _serve("--db", db, env={"CRLM_WORKERS": "2", "CRLM_LOG_FORMAT": "text",
                                     "CRLM_FORWARDED_ALLOW_IPS": "10.0.0.5"})
    assert result.exit_code == 0, result.output
    call = uvicorn_calls[-1]
    assert call["workers"] == 2 and call["forwarded_allow_ips"] == "10.0.0.5"
    assert call["log_config"]["formatters"]["crlm"]["()"] == "crlm.web.logs.TextFormatter"

    assert _serve("--db", db).exit_code == 0
    assert uvicorn_calls[-1]["proxy_headers"] is False  # nothing trusted unless asked
    assert _serve("--db", db, "--proxy-headers").exit_code == 0
    assert uvicorn_calls[-1]["forwarded_allow_ips"] == "127.0.0.1"


def test_serve_refuses_workers_that_cannot_share_state(uvicorn_calls, tmp_path):
    assert _serve("--db", "sqlite://", "--workers", "2").exit_code == 2
    assert _serve("--db", f"sqlite:///{tmp_path / 'x.db'}", "--workers", "2",
                  "--reload").exit_code == 2
    assert _serve("--db", "sqlite://", "--log-format", "xml").exit_code == 2
    assert uvicorn_calls == []


def test_forwarded_proto_from_a_trusted_proxy_gives_secure_cookie_and_hsts(app):
    """uvicorn's proxy-headers middleware as ``--forwarded-allow-ips`` configures it."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    for trusted, https in (("10.0.0.0/8", True), ("192.168.1.1", False)):
        wrapped = ProxyHeadersMiddleware(app, trusted_hosts=trusted)
        with TestClient(wrapped, client=("10.1.2.3", 40000)) as client:
            r = client.get("/login", headers={"X-Forwarded-Proto": "https",
                                              "X-Forwarded-For": "203.0.113.9"})
        cookie = r.headers["set-cookie"].lower()
        assert ("strict-transport-security" in r.headers) is https, trusted
        assert ("; secure" in cookie) is https, trusted


def test_logs_module_is_light():
    """Every worker imports it while configuring logging, before answering its supervisor."""
    import subprocess

    code = "import sys, crlm.web.logs; print('starlette' in sys.modules, 'fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
