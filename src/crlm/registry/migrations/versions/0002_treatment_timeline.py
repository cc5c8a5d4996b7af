"""treatment timeline: one row per dated treatment event

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("treatments_listed", sa.Integer(), nullable=True))
    op.create_table(
        "treatment_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=True),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("regimen", sa.String(length=40), nullable=True),
        sa.Column("biologic", sa.String(length=40), nullable=True),
        sa.Column("cycles", sa.Integer(), nullable=True),
        sa.Column("intent", sa.String(length=40), nullable=True),
        sa.Column("response", sa.String(length=40), nullable=True),
        sa.Column("tumour_size_change_percent", sa.Double(), nullable=True),
        sa.Column("radiotherapy_course", sa.String(length=40), nullable=True),
        sa.Column("hepatectomy_stage", sa.Integer(), nullable=True),
        sa.Column("procedures", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("primary_procedure", sa.String(length=40), nullable=True),
        sa.Column("margin_mm", sa.Double(), nullable=True),
        sa.Column("clavien_dindo", sa.String(length=40), nullable=True),
        sa.Column("isgls_phlf", sa.String(length=40), nullable=True),
        sa.Column("recurrence_sites", sa.JSON(none_as_null=True), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "position", name="uq_treatment_events_position"),
    )
    with op.batch_alter_table("treatment_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_treatment_events_patient_id"), ["patient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("treatment_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treatment_events_patient_id"))
    op.drop_table("treatment_events")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("treatments_listed")
