"""Shared helpers of the web tests: a fresh app on a temp SQLite DB with one user per role."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

SECRET = "test-secret-key-" + "x" * 40
PASSWORD = "correct horse battery staple"
USERS = {
    # username: (role, centre)
    "alice": ("clinician", "leiden"),
    "bob": ("clinician", "houston"),
    "rita": ("researcher", None),
    "adam": ("admin", None),
}

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(tmp_path: Path) -> FastAPI:
    """A web app on a new SQLite file with the users of :data:`USERS` (password PASSWORD)."""
    return make_app_on(f"sqlite:///{tmp_path / 'web.db'}")


def csrf_from(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = CSRF_RE.search(html)
    assert match, "page has no csrf_token field"
    return match.group(1)


def page_login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    """Log in through the login form; the response (not followed)."""
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )


def api_token(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization header with a fresh bearer token."""
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def sample_patient(**changes: Any) -> dict[str, Any]:
    """A complete-enough synchronous rectal patient (JSON dict)."""
    patient: dict[str, Any] = {
        "id": "LEI-001",
        "age_years": 61,
        "sex": "male",
        "height_cm": 175,
        "weight_kg": 80,
        "primary": {"site": "rectum", "t_category": "T3", "n_category": "N1",
                    "date_of_diagnosis": "2021-03-01"},
        "liver": {"timing": "synchronous", "disease_free_interval_months": 0,
                  "number_of_metastases": 4, "largest_diameter_cm": 3.2, "bilobar": True,
                  "lesions": [{"segment": 7, "diameter_cm": 3.2}]},
        "extrahepatic_disease": False,
        "labs": {"cea_ng_ml": 12.0},
        "molecular": {"kras": "mutant", "nras": "wildtype", "braf": "wildtype"},
        "outcome": {"date_last_follow_up": "2023-03-01", "vital_status": "alive"},
    }
    for key, value in changes.items():
        patient[key] = value
    return patient


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, through included routers (FastAPI old and new)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazy router inclusion: routes are flat
        routes: list[Any] = list(app.routes)
    else:
        routes = list(iter_route_contexts(app.routes))
    return sorted(
        (method, route.path)
        for route in routes
        if getattr(route, "methods", None) and getattr(route, "path", None)
        for method in route.methods
        if method != "HEAD"
    )


def fresh_postgres_database(server_url: str) -> tuple[str, Any]:
    """Create an empty database on the server of ``server_url``; (its URL, a drop function)."""
    import secrets

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"crlm_web_{secrets.token_hex(4)}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def make_app_on(url: str) -> FastAPI:
    """Like :func:`make_app` on a given (empty) database URL."""
    from crlm.registry import users
    from crlm.web.app import create_app

    app = create_app(url, secret_key=SECRET, testing=True)
    with app.state.session_factory() as session:
        for name, (role, centre) in USERS.items():
            users.add_user(session, name, PASSWORD, role, centre)
        session.commit()
    return app
