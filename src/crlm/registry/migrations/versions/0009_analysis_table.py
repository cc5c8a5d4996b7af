"""analysis table: one row per patient with the variables the aggregate views read

Rows are written by every patient write from now on; the rows of patients stored before this
revision are computed by ``crlm db migrate`` (or the first aggregate view) from the patient
tables (crlm.registry.analysis.refresh), not here: the derivations live in application code.

Revision ID: 0009_analysis_table
Revises: 0004_coded_free_text
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_analysis_table"
down_revision = "0008_shared_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_analysis",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("age_years", sa.Double(), nullable=True),
        sa.Column("sex", sa.String(length=40), nullable=True),
        sa.Column("year_of_diagnosis", sa.Integer(), nullable=True),
        sa.Column("primary_site", sa.String(length=40), nullable=True),
        sa.Column("distance_from_anal_verge_cm", sa.Double(), nullable=True),
        sa.Column("node_positive", sa.Boolean(), nullable=True),
        sa.Column("timing", sa.String(length=40), nullable=True),
        sa.Column("approach", sa.String(length=20), nullable=True),
        sa.Column("number_of_metastases", sa.Integer(), nullable=True),
        sa.Column("largest_diameter_cm", sa.Double(), nullable=True),
        sa.Column("bilobar", sa.Boolean(), nullable=True),
        sa.Column("extrahepatic_disease", sa.Boolean(), nullable=True),
        sa.Column("cea_ng_ml", sa.Double(), nullable=True),
        sa.Column("kras", sa.String(length=40), nullable=True),
        sa.Column("nras", sa.String(length=40), nullable=True),
        sa.Column("ras", sa.String(length=40), nullable=True),
        sa.Column("braf", sa.String(length=40), nullable=True),
        sa.Column("tp53", sa.String(length=40), nullable=True),
        sa.Column("prehepatectomy_cycles", sa.Integer(), nullable=True),
        sa.Column("anti_vegf", sa.Boolean(), nullable=True),
        sa.Column("planned_procedures", sa.Text(), nullable=True),
        sa.Column("hepatectomy_grade", sa.String(length=10), nullable=True),
        sa.Column("pve", sa.Boolean(), nullable=True),
        sa.Column("os_days", sa.Integer(), nullable=True),
        sa.Column("os_event", sa.Integer(), nullable=True),
        sa.Column("rfs_days", sa.Integer(), nullable=True),
        sa.Column("rfs_event", sa.Integer(), nullable=True),
        sa.Column("os_days_first_hepatectomy", sa.Integer(), nullable=True),
        sa.Column("os_event_first_hepatectomy", sa.Integer(), nullable=True),
        sa.Column("rfs_days_first_hepatectomy", sa.Integer(), nullable=True),
        sa.Column("rfs_event_first_hepatectomy", sa.Integer(), nullable=True),
        sa.Column("os_days_last_hepatectomy", sa.Integer(), nullable=True),
        sa.Column("os_event_last_hepatectomy", sa.Integer(), nullable=True),
        sa.Column("rfs_days_last_hepatectomy", sa.Integer(), nullable=True),
        sa.Column("rfs_event_last_hepatectomy", sa.Integer(), nullable=True),
        sa.Column("disease_free_interval_months", sa.Double(), nullable=True),
        sa.Column("metastasis_count", sa.Integer(), nullable=True),
        sa.Column("recurred", sa.Boolean(), nullable=True),
        sa.Column("score_fong_crs", sa.Integer(), nullable=True),
        sa.Column("score_game", sa.Integer(), nullable=True),
        sa.Column("score_tumor_burden_score", sa.Double(), nullable=True),
        sa.Column("score_mcs", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patient_id"),
    )


def downgrade() -> None:
    op.drop_table("patient_analysis")
