"""patient version: a counter raised by every write (optimistic concurrency, undo checks)

Revision ID: 0003_patient_version
Revises: 0007_mdt_meetings
Create Date: 2026-11-30 07:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_patient_version"
down_revision = "0007_mdt_meetings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("version")
