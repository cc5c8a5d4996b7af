"""MDT meetings: a dated meeting of one centre, its patients, and each patient's decision

Revision ID: 0007_mdt_meetings
Revises: 0005_audit_chain
Create Date: 2026-11-30 07:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_mdt_meetings"
down_revision = "0005_audit_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mdt_meetings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("centre", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mdt_meetings", schema=None) as batch_op:
        batch_op.create_index("ix_mdt_meetings_centre_date", ["centre", "date"], unique=False)
    op.create_table(
        "mdt_cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("crlm_plan", sa.String(length=40), nullable=True),
        sa.Column("crlm_advice", sa.Text(), nullable=True),
        sa.Column("decision_plan", sa.String(length=40), nullable=True),
        sa.Column("decision_text", sa.Text(), nullable=True),
        sa.Column("attendees", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["meeting_id"], ["mdt_meetings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "patient_id", name="uq_mdt_cases_meeting_patient"),
    )
    with op.batch_alter_table("mdt_cases", schema=None) as batch_op:
        batch_op.create_index("ix_mdt_cases_meeting_id", ["meeting_id"], unique=False)
        batch_op.create_index("ix_mdt_cases_patient_id", ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mdt_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_mdt_cases_patient_id")
        batch_op.drop_index("ix_mdt_cases_meeting_id")
    op.drop_table("mdt_cases")
    with op.batch_alter_table("mdt_meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_mdt_meetings_centre_date")
    op.drop_table("mdt_meetings")
