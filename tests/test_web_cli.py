"""``crlm serve``: options, and refusal of an unsafe secret key file before the server starts."""

from __future__ import annotations

import os

from typer.testing import CliRunner

from crlm.cli import app


def test_serve_help_lists_options():
    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0
    for option in ("--db", "--host", "--port", "--reload"):
        assert option in r.output


def test_serve_refuses_world_readable_key_file(tmp_path, monkeypatch):
    monkeypatch.delenv("CRLM_SECRET_KEY", raising=False)
    key = tmp_path / "reg.db.secret"
    key.write_text("k" * 48)
    os.chmod(key, 0o644)
    r = CliRunner().invoke(app, ["serve", "--db", f"sqlite:///{tmp_path / 'reg.db'}"])
    assert r.exit_code == 2
    assert "chmod 600" in r.output
