"""Web settings: database URL and the secret key that signs sessions and API tokens.

The secret key comes from ``CRLM_SECRET_KEY``; otherwise from a per-install key file created
with mode 0600 next to the SQLite database (``<db file>.secret``), or under
``$XDG_CONFIG_HOME/crlm/secret_key`` for a server database. A key is never hard-coded.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from crlm.stats.defaults import SMALL_CELL_MIN

SECRET_ENV = "CRLM_SECRET_KEY"
MIN_SECRET_CHARS = 32


class SecretKeyError(RuntimeError):
    """The secret key cannot be read or created safely."""


def secret_key_path(database_url: str) -> Path | None:
    """Where the per-install key file lives for this database; None for in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        db = url.database
        if not db or db == ":memory:" or db.startswith("file::memory:"):
            return None
        return Path(db).expanduser().resolve().with_name(Path(db).name + ".secret")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "crlm" / "secret_key"


def _read_key_file(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"secret key file {path} is readable by group/others (mode {oct(mode & 0o777)}); "
            "run: chmod 600 " + str(path)
        )
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_SECRET_CHARS:
        raise SecretKeyError(f"secret key file {path} holds fewer than {MIN_SECRET_CHARS} chars")
    return key


def load_or_create_key_file(path: Path) -> str:
    """Read the key file, or create it atomically with mode 0600 and a fresh random key."""
    if path.exists():
        return _read_key_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return _read_key_file(path)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


def resolve_secret_key(database_url: str, explicit: str | None = None) -> str:
    """The signing key: explicit argument, else ``CRLM_SECRET_KEY``, else the key file."""
    key = explicit or os.environ.get(SECRET_ENV)
    if key:
        if len(key) < MIN_SECRET_CHARS:
            raise SecretKeyError(f"secret key must have at least {MIN_SECRET_CHARS} characters")
        return key
    path = secret_key_path(database_url)
    if path is None:
        # In-memory database: nothing outlives the process, so neither may the key.
        return secrets.token_urlsafe(48)
    return load_or_create_key_file(path)


TIMEZONE_ENV = "CRLM_TIMEZONE"
CENTRE_TIMEZONES_ENV = "CRLM_CENTRE_TIMEZONES"
SMALL_CELL_ENV = "CRLM_SMALL_CELL_MIN"
#: Cross-centre aggregates shown to researchers hide counts below this (statistical
#: disclosure control); ``CRLM_SMALL_CELL_MIN`` overrides it.
DEFAULT_SMALL_CELL_MIN = SMALL_CELL_MIN


def centre_timezone(centre: str | None, environ: dict[str, str] | None = None) -> str:
    """The IANA time zone of a centre: ``CRLM_CENTRE_TIMEZONES`` ("leiden=Europe/Amsterdam,
    houston=America/Chicago"), else ``CRLM_TIMEZONE``, else UTC. Unknown names fall back."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    env = os.environ if environ is None else environ
    table = dict(
        part.split("=", 1) for part in env.get(CENTRE_TIMEZONES_ENV, "").split(",") if "=" in part
    )
    for name in (table.get(centre or ""), env.get(TIMEZONE_ENV), "UTC"):
        if not name:
            continue
        try:
            ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return name.strip()
    return "UTC"


def small_cell_min(environ: dict[str, str] | None = None) -> int:
    """Smallest count a researcher's cross-centre aggregate shows (default 5, at least 1)."""
    env = os.environ if environ is None else environ
    try:
        return max(1, int(env.get(SMALL_CELL_ENV, DEFAULT_SMALL_CELL_MIN)))
    except ValueError:
        return DEFAULT_SMALL_CELL_MIN
