"""shared state: counters every web worker reads (the revocation epoch)

Revision ID: 0008_shared_state
Revises: 0004_coded_free_text
Create Date: 2026-11-30 10:00:00

* ``shared_state``: named integer counters shared by every worker and the CLI. The row
  ``auth_epoch`` is raised in the transaction that revokes a user's sessions and API tokens
  (or deletes the user); each worker polls it and empties its user cache when it changes
  (:class:`crlm.web.revocation.RevocationWatch`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_shared_state"
down_revision = "0004_coded_free_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "shared_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(table, [{"name": "auth_epoch", "value": 0}])


def downgrade() -> None:
    op.drop_table("shared_state")
