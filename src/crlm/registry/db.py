"""Engines and sessions for the registry (SQLite by default, PostgreSQL for teams)."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///./crlm.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The database URL: the argument, else ``CRLM_DATABASE_URL``, else ``sqlite:///./crlm.db``."""
    return url or os.environ.get("CRLM_DATABASE_URL") or DEFAULT_URL


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys, a busy timeout and full sync."""
    resolved = database_url(url)
    if resolved.startswith("sqlite"):
        engine = create_engine(resolved, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(resolved, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    """An Alembic config that runs the packaged migrations on ``engine``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def init_db(url: str | None = None) -> Engine:
    """Create or migrate the database to the newest schema (idempotent); return its engine."""
    from alembic import command

    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "head")
    return engine


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while millions of short-lived objects are built
    (an import, a cohort read).

    Every full collection walks all live objects, which made validating a 100,000-row file
    about three times slower. Reference counting still frees everything as usual; a reference
    cycle made meanwhile is collected once the collector runs again. It is switched back on
    only if it was on before.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
