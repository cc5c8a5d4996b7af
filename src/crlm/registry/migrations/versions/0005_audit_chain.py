"""hash-chained audit log, its anchor, and the restricted application role

Revision ID: 0005_audit_chain
Revises: 0006_accounts
Create Date: 2026-11-30 07:30:00

- ``audit_events`` gains ``seq``, ``prev_hash`` and ``row_hash``; rows already there are chained
  in id order.
- ``audit_chain_head`` (one row: count and last hash) is advanced by a trigger on every audit
  insert, which refuses a row that does not follow it.
- Triggers refuse UPDATE and DELETE of audit rows (PostgreSQL: and TRUNCATE; SQLite: and an
  INSERT OR REPLACE / REPLACE INTO that would overwrite a row), and any change of the anchor
  other than forward to a stored row (SQLite: one row at a time).
- PostgreSQL: the role ``crlm_app`` (NOLOGIN; the web app logs in as a member of it) may read
  and write the registry tables but only SELECT and INSERT audit rows and only SELECT the anchor.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_audit_chain"
down_revision = "0006_accounts"
branch_labels = None
depends_on = None

APP_ROLE = "crlm_app"
REFUSED = "is append-only"  # every refusal message says this


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    _drop_0001_triggers(postgres)
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_chain_head_single_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    n, last = _chain_existing_rows(bind)
    op.execute(sa.text("INSERT INTO audit_chain_head (id, n, last_hash) VALUES (1, :n, :h)")
               .bindparams(n=n, h=last))
    with op.batch_alter_table("audit_events") as batch:
        for name in ("seq", "prev_hash", "row_hash"):
            batch.alter_column(name, nullable=False)
        batch.create_index("ix_audit_events_seq", ["seq"], unique=True)
    if postgres:
        _postgres_triggers()
        _postgres_role()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        _drop_postgres_role_grants()
        _drop_postgres_triggers()
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_seq")
        for name in ("row_hash", "prev_hash", "seq"):
            batch.drop_column(name)
    _restore_0001_triggers(postgres)


# ---------------------------------------------------------------------------- chain


def _chain_existing_rows(bind: sa.Connection) -> tuple[int, str]:
    """Number the rows already there in id order and chain them; the new anchor (n, hash)."""
    from crlm.registry.audit import GENESIS, chain_hash

    table = sa.table("audit_events", *(sa.column(c) for c in (
        "id", "actor", "action", "entity", "entity_id", "detail", "seq", "prev_hash",
        "row_hash")), sa.column("at", sa.DateTime(timezone=True)))
    update = (sa.update(table).where(table.c.id == sa.bindparam("row_id"))
              .values(seq=sa.bindparam("s"), prev_hash=sa.bindparam("p"),
                      row_hash=sa.bindparam("h")))
    n, last = 0, GENESIS
    rows = bind.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    batch: list[dict[str, object]] = []
    for row in rows:
        n += 1
        digest = chain_hash({**row, "seq": n}, last)
        batch.append({"row_id": row["id"], "s": n, "p": last, "h": digest})
        last = digest
        if len(batch) >= 5000:
            bind.execute(update, batch)
            batch = []
    if batch:
        bind.execute(update, batch)
    return n, last


# ---------------------------------------------------------------------------- SQLite

_SQLITE_TRIGGERS = {
    "audit_events_no_update":
        f"BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events {REFUSED}'); END",
    "audit_events_no_delete":
        f"BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events {REFUSED}'); END",
    # REPLACE INTO / INSERT OR REPLACE deletes the row it conflicts with without firing DELETE
    # triggers (unless recursive_triggers is on); BEFORE INSERT triggers always fire first.
    "audit_events_chain": (
        "BEFORE INSERT ON audit_events BEGIN "
        f"SELECT RAISE(ABORT, 'audit_events {REFUSED}: a stored row cannot be replaced') "
        "WHERE EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id OR seq = NEW.seq); "
        "SELECT RAISE(ABORT, 'audit chain: the new row does not follow the last row') "
        "WHERE NOT EXISTS (SELECT 1 FROM audit_chain_head "
        "WHERE id = 1 AND n = NEW.seq - 1 AND last_hash = NEW.prev_hash); "
        "UPDATE audit_chain_head SET n = NEW.seq, last_hash = NEW.row_hash WHERE id = 1; END"
    ),
    "audit_chain_head_no_insert":
        "BEFORE INSERT ON audit_chain_head BEGIN "
        f"SELECT RAISE(ABORT, 'audit_chain_head {REFUSED}: the anchor cannot be replaced'); END",
    "audit_chain_head_no_delete":
        f"BEFORE DELETE ON audit_chain_head BEGIN SELECT RAISE(ABORT, 'audit_chain_head "
        f"{REFUSED}'); END",
    "audit_chain_head_forward_only":
        "BEFORE UPDATE ON audit_chain_head WHEN NEW.id IS NOT OLD.id OR NEW.n IS NOT OLD.n + 1 "
        f"BEGIN SELECT RAISE(ABORT, 'audit_chain_head {REFUSED}: the anchor only moves "
        "forward one row at a time'); END",
}


def _sqlite_triggers() -> None:
    for name, body in _SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


# ---------------------------------------------------------------------------- PostgreSQL


def _schema() -> str:
    return str(op.get_bind().execute(sa.text("SELECT current_schema()")).scalar())


def _postgres_triggers() -> None:
    schema = _schema()
    op.execute(
        "CREATE FUNCTION crlm_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION '% {REFUSED}: % refused', TG_TABLE_NAME, TG_OP; END $$"
    )
    # Runs as the migrating role (the tables' owner), so the application role needs no right on
    # the anchor beyond SELECT. Once per statement (the anchor row is updated once per batch of
    # rows, not once per row: repeated updates of one row in one transaction cost PostgreSQL a
    # walk along all its versions): the new rows must be consecutive, each linked to the one
    # before, the first to the anchor; the UPDATE re-checks the anchor after waiting for it.
    op.execute(
        "CREATE FUNCTION crlm_audit_chain_append() RETURNS trigger LANGUAGE plpgsql "
        f"SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$ "
        "DECLARE lo bigint; hi bigint; k bigint; unlinked bigint; BEGIN "
        "SELECT min(seq), max(seq), count(*) INTO lo, hi, k FROM new_rows; "
        "IF k = 0 THEN RETURN NULL; END IF; "
        "SELECT count(*) INTO unlinked FROM new_rows r LEFT JOIN new_rows p "
        "ON p.seq = r.seq - 1 WHERE r.seq > lo AND p.row_hash IS DISTINCT FROM r.prev_hash; "
        "IF hi - lo + 1 <> k OR unlinked > 0 THEN RAISE EXCEPTION "
        "'audit chain: rows % to % do not follow one another', lo, hi; END IF; "
        "UPDATE audit_chain_head SET n = hi, "
        "last_hash = (SELECT row_hash FROM new_rows WHERE seq = hi) "
        "WHERE id = 1 AND n = lo - 1 "
        "AND last_hash = (SELECT prev_hash FROM new_rows WHERE seq = lo); "
        "IF NOT FOUND THEN RAISE EXCEPTION "
        "'audit chain: row % does not follow the last row', lo; END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION crlm_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.id IS DISTINCT FROM OLD.id OR NEW.n <= OLD.n OR NOT EXISTS (SELECT 1 FROM "
        "audit_events WHERE seq = NEW.n AND row_hash = NEW.last_hash) THEN "
        f"RAISE EXCEPTION 'audit_chain_head {REFUSED}: the anchor only moves forward, to a "
        "stored row'; END IF; RETURN NEW; END $$"
    )
    for statement in _POSTGRES_TRIGGERS.values():
        op.execute(statement)


_POSTGRES_TRIGGERS = {
    ("audit_events_append_only", "audit_events"):
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION crlm_audit_refuse()",
    ("audit_events_no_truncate", "audit_events"):
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION crlm_audit_refuse()",
    ("audit_events_chain", "audit_events"):
        "CREATE TRIGGER audit_events_chain AFTER INSERT ON audit_events "
        "REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION crlm_audit_chain_append()",
    ("audit_chain_head_fixed", "audit_chain_head"):
        "CREATE TRIGGER audit_chain_head_fixed BEFORE INSERT OR DELETE ON audit_chain_head "
        "FOR EACH ROW EXECUTE FUNCTION crlm_audit_refuse()",
    ("audit_chain_head_no_truncate", "audit_chain_head"):
        "CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head "
        "FOR EACH STATEMENT EXECUTE FUNCTION crlm_audit_refuse()",
    ("audit_chain_head_forward_only", "audit_chain_head"):
        "CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE ON audit_chain_head "
        "FOR EACH ROW EXECUTE FUNCTION crlm_audit_head_forward()",
}


def _drop_postgres_triggers() -> None:
    for name, table in _POSTGRES_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for function in ("crlm_audit_refuse", "crlm_audit_chain_append", "crlm_audit_head_forward"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")


def _postgres_role() -> None:
    """Create ``crlm_app`` if needed; registry rights, audit rows SELECT + INSERT only."""
    schema = _schema()
    op.execute(
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
        f"CREATE ROLE {APP_ROLE} NOLOGIN; END IF; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; "
        "WHEN insufficient_privilege THEN RAISE EXCEPTION "
        f"'the migrating user may not create roles: run CREATE ROLE {APP_ROLE} NOLOGIN as a "
        "superuser (or a CREATEROLE user), then migrate again'; END $$"
    )
    for statement in (
        f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {APP_ROLE}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {APP_ROLE}",
        f"REVOKE ALL ON audit_events, audit_chain_head, alembic_version FROM {APP_ROLE}",
        f"GRANT SELECT, INSERT ON audit_events TO {APP_ROLE}",
        f"GRANT SELECT ON audit_chain_head, alembic_version TO {APP_ROLE}",
        # tables and sequences later migrations create get the ordinary registry rights
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}",
    ):
        op.execute(statement)


def _drop_postgres_role_grants() -> None:
    """Take back this database's grants (the role itself is shared by the whole server)."""
    schema = _schema()
    for statement in (
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"REVOKE USAGE, SELECT ON SEQUENCES FROM {APP_ROLE}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {APP_ROLE}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {APP_ROLE}",
        f"REVOKE USAGE ON SCHEMA {schema} FROM {APP_ROLE}",
    ):
        op.execute(statement)


# ---------------------------------------------------------------------------- 0001's triggers


def _drop_0001_triggers(postgres: bool) -> None:
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS crlm_audit_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_events_no_{verb}")


def _restore_0001_triggers(postgres: bool) -> None:
    if postgres:
        op.execute(
            "CREATE FUNCTION crlm_audit_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION crlm_audit_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
