"""The container entrypoint, run on the host as the image runs it (no docker here), and a
minimal lint of the Dockerfile and compose.yaml.

The entrypoint reads its secrets from files, waits for the database, migrates it, creates the
first admin, and execs ``crlm serve`` with several workers; the test waits for /healthz and
/readyz, signs in with the one-time password the printed command issues, and stops it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import REPO
from web_support import CSRF_RE, fresh_postgres_database

ENTRYPOINT = REPO / "deploy" / "entrypoint.sh"
BIN = Path(sys.executable).parent  # the venv's bin: crlm and python, as /opt/venv/bin in the image
#: Workers import the whole app; on a busy 2-core machine that takes a while.
START_TIMEOUT_S = 150


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _secret(path: Path, value: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def _env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
        "MPLCONFIGDIR": str(tmp_path / "mpl"),
        "CRLM_HOST": "127.0.0.1",
        "CRLM_PORT": str(port),
        "CRLM_WORKERS": "2",
        "CRLM_LOG_FORMAT": "json",
        "CRLM_DB_WAIT_S": "20",
        "CRLM_SECRET_KEY_FILE": _secret(tmp_path / "secrets" / "key", "k" * 48),
    }
    env.update(extra)
    return env


class Served:
    """The entrypoint running in its own process group, its output in a file."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.log = tmp_path / "entrypoint.log"
        self.base = f"http://127.0.0.1:{env['CRLM_PORT']}"
        self.env = env
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["sh", str(ENTRYPOINT)], cwd=tmp_path, env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, path: str, timeout: float = START_TIMEOUT_S) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"entrypoint exited with {self.proc.returncode}:\n{self.output()}")
            try:
                r = httpx.get(self.base + path, timeout=5)
                if r.status_code == 200:
                    return r
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"{path} not 200 within {timeout} s:\n{self.output()}")

    def stop(self) -> bool:
        """SIGTERM to uvicorn (the entrypoint exec'd it); True when it shut down gracefully.

        A single uvicorn server re-raises the signal once shut down (exit status -15); the
        multi-worker supervisor exits 0.
        """
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            pytest.fail(f"no exit within 60 s of SIGTERM:\n{self.output()}")
        return code in (0, -signal.SIGTERM) and "Finished server process" in self.output()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Served]]:
    started: list[Served] = []

    class Tracked(Served):
        def __init__(self, env: dict[str, str]) -> None:
            super().__init__(tmp_path, env)
            started.append(self)

    yield Tracked  # type: ignore[misc]
    for s in started:
        s.kill()


def _one_time_password(db_url: str, env: dict[str, str]) -> str:
    """Run the command the entrypoint printed; the password it shows."""
    out = subprocess.run(
        [str(BIN / "crlm"), "user", "reset-password", "admin", "--db", db_url],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    return out.strip().splitlines()[-1].strip()


def _check_served(served: Served, db_url: str, *, trusted_proxy: bool) -> None:
    health = served.wait_for("/healthz")
    assert health.json() == {"status": "ok"}
    assert served.wait_for("/readyz").json() == {"status": "ready"}
    out = served.output()
    assert "first admin account 'admin' created" in out
    assert "crlm user reset-password admin" in out

    # forwarded headers count only from a trusted proxy
    r = httpx.get(served.base + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert ("strict-transport-security" in r.headers) is trusted_proxy
    assert ("; secure" in r.headers["set-cookie"].lower()) is trusted_proxy

    # the first admin signs in with the one-time password and must choose a new one
    password = _one_time_password(db_url, served.env)
    with httpx.Client(base_url=served.base, timeout=10) as client:
        token = CSRF_RE.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        r = client.post("/login", data={"username": "admin", "password": password,
                                        "csrf_token": token, "next": "/"})
        assert r.status_code == 303 and r.headers["location"] == "/account/password"
    out = served.output()
    assert '"logger": "crlm.access"' in out and '"route": "/login"' in out  # JSON access log
    assert password not in out  # never in the logs

    assert served.stop(), served.output()


def test_entrypoint_on_sqlite(serve, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'data' / 'crlm.db'}"
    (tmp_path / "data").mkdir()
    env = _env(tmp_path, _free_port(),
               CRLM_DATABASE_URL_FILE=_secret(tmp_path / "secrets" / "url", db_url),
               CRLM_FORWARDED_ALLOW_IPS="127.0.0.0/8")
    _check_served(serve(env), db_url, trusted_proxy=True)


@pytest.mark.postgres
def test_entrypoint_on_postgres(serve, tmp_path, postgres_url):
    db_url, drop = fresh_postgres_database(postgres_url)
    try:
        env = _env(tmp_path, _free_port(),
                   CRLM_DATABASE_URL_FILE=_secret(tmp_path / "secrets" / "url", db_url),
                   # a password from a file reaches libpq (the test server trusts loopback)
                   PGPASSWORD_FILE=_secret(tmp_path / "secrets" / "pg", "unused-here"),
                   CRLM_FORWARDED_ALLOW_IPS="10.9.8.7")
        served = serve(env)
        _check_served(served, db_url, trusted_proxy=False)
        # a second start finds the admin and the schema in place
        again = serve(env | {"CRLM_PORT": str(_free_port()), "CRLM_WORKERS": "1"})
        again.wait_for("/readyz")
        assert "an admin account exists" in again.output()
        assert again.stop(), again.output()
    finally:
        drop()


def test_entrypoint_gives_up_on_an_unreachable_database(tmp_path):
    port = _free_port()  # nothing listens there
    env = _env(tmp_path, _free_port(), CRLM_DB_WAIT_S="2",
               CRLM_DATABASE_URL=f"postgresql+psycopg://crlm:hunter2pw@127.0.0.1:{port}/crlm")
    done = subprocess.run(["sh", str(ENTRYPOINT)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert "database still unreachable after 2 s" in done.stderr
    assert "hunter2pw" not in done.stderr + done.stdout  # the URL's password is never shown


def test_entrypoint_refuses_a_secret_given_twice(tmp_path):
    env = _env(tmp_path, _free_port(), CRLM_SECRET_KEY="k" * 48)  # and CRLM_SECRET_KEY_FILE
    done = subprocess.run(["sh", str(ENTRYPOINT)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "both CRLM_SECRET_KEY and CRLM_SECRET_KEY_FILE are set" in done.stderr


def test_entrypoint_is_posix_sh():
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    assert os.access(ENTRYPOINT, os.X_OK)
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)


# ---------------------------------------------------------------------------- lint


def _dockerfile() -> list[str]:
    """Instructions of the Dockerfile, continuation lines joined."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_runs_as_non_root_with_a_healthcheck():
    lines = _dockerfile()
    final_stage = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")):]
    users = [line.split()[1] for line in final_stage if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = [line for line in final_stage if line.startswith("HEALTHCHECK ")]
    assert len(health) == 1 and "/healthz" in health[0]
    assert any(line.startswith("ENTRYPOINT ") and "crlm-entrypoint" in line
               for line in final_stage)
    assert any("deploy/entrypoint.sh" in line and line.startswith("COPY ")
               for line in final_stage)
    env = " ".join(line for line in final_stage if line.startswith("ENV "))
    # read-only root: every cache and the database point at /tmp or the /data volume
    for var in ("HOME", "MPLCONFIGDIR", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        match = re.search(rf"\b{var}=(\S+)", env)
        assert match and match.group(1).startswith(("/tmp", "/data")), var
    assert "VOLUME" in " ".join(final_stage) and "/data" in " ".join(final_stage)


def test_compose_file_wires_postgres_secrets_and_the_entrypoint():
    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    db, app = compose["services"]["db"], compose["services"]["crlm"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    assert app["entrypoint"] == ["crlm-entrypoint"]
    assert app["read_only"] is True and "/tmp" in app["tmpfs"]
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    env = app["environment"]
    assert env["CRLM_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert ":" not in env["CRLM_DATABASE_URL"].split("//", 1)[1].split("@")[0]  # no password
    for var in ("PGPASSWORD_FILE", "CRLM_SECRET_KEY_FILE"):
        secret = Path(env[var]).name
        assert secret in app["secrets"] and secret in compose["secrets"]
    assert not any("PASSWORD=" in str(v) or "SECRET_KEY=" in str(v) for v in env.values())
    assert any(isinstance(v, dict) for v in compose["volumes"].values()) or compose["volumes"]
    # every *_FILE the compose file sets is one the entrypoint reads
    script = ENTRYPOINT.read_text(encoding="utf-8")
    for var in env:
        if var.endswith("_FILE"):
            assert f"file_env {var.removesuffix('_FILE')}" in script, var
