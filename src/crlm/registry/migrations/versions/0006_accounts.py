"""accounts: user generation counter, one-time passwords, ids never reused, login throttle

Revision ID: 0006_accounts
Revises: 0002
Create Date: 2026-11-30 07:20:00

* ``users.generation`` (sessions and API tokens carry it; raising it revokes them) and
  ``users.must_change_password`` (set by ``crlm user reset-password``).
* SQLite: the users table is rebuilt with ``AUTOINCREMENT`` so that the id of a deleted user is
  never given to a new one (PostgreSQL's sequence never reuses ids anyway).
* Existing usernames are normalised (NFKC, case-folded, trimmed) when that leaves them unique.
* ``login_throttle``: the login rate limiter's counters, shared by every worker.
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0006_accounts"
down_revision = "0002"
branch_labels = None
depends_on = None


def _normalised(name: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold()).strip()


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    table_kwargs = {"sqlite_autoincrement": True} if sqlite else {}
    with op.batch_alter_table(
        "users", recreate="always" if sqlite else "auto", table_kwargs=table_kwargs
    ) as batch_op:
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )

    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.username)).all()
    taken = {name for _, name in rows}
    for user_id, name in rows:
        new = _normalised(name)
        if new != name and new and new not in taken:
            bind.execute(users.update().where(users.c.id == user_id).values(username=new))
            taken.discard(name)
            taken.add(new)

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.Double(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_throttle_window_start"), ["window_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_window_start"))
    op.drop_table("login_throttle")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("generation")
