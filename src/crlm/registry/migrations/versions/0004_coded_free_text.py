"""coded free text: regimen and recurrence sites become codes; free text moves to notes

Known spellings of a regimen or recurrence site become their code ("XELOX" → capox,
"pulmonary" → lung). A regimen written with a targeted agent ("FOLFOX + bevacizumab") keeps its
backbone code and sets the anti-VEGF / anti-EGFR flag when that flag was unknown. Anything else
becomes "other", and the text as entered is appended to the patient's new ``notes`` field, so
nothing is lost. Dates outside the plausible range (before 1900, or later than the domain
model allows) are cleared the same way, their value written into the notes; a diagnosis dated
after the assessment likewise. Downgrade drops the notes column (its text is lost) and widens
the regimen column again; codes stay codes.

Revision ID: 0004_coded_free_text
Revises: 0003_patient_version
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

from crlm.domain.dates import EARLIEST_PLAUSIBLE_DATE, PLANNING_MARGIN, today
from crlm.domain.treatment import (
    ANTI_EGFR,
    ANTI_VEGF,
    RecurrenceSite,
    Regimen,
    recurrence_site_code,
    regimen_code,
    regimen_with_biologics,
)

revision = "0004_coded_free_text"
down_revision = "0003_patient_version"
branch_labels = None
depends_on = None

#: (table, column, label, may lie ahead) of every stored date.
DATE_COLUMNS = [
    ("patients", "assessment_date", "Assessment date", True),
    ("primary_tumours", "date_of_diagnosis", "Date of diagnosis", False),
    ("operations", "date", "Operation date", True),
    ("treatment_events", "date", "Treatment date", True),
    ("treatment_events", "end_date", "Treatment end date", True),
    ("follow_up", "date_last_follow_up", "Last follow-up", False),
    ("follow_up", "date_of_death", "Date of death", False),
    ("follow_up", "date_of_recurrence", "Date of recurrence", False),
]


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return dt.date.min  # unreadable: treated as implausible


def _code_regimens(conn: sa.Connection, notes: dict[int, list[str]]) -> None:
    t = sa.table("chemotherapy_courses", sa.column("patient_id", sa.Integer),
                 sa.column("regimen", sa.String), sa.column("anti_vegf", sa.Boolean),
                 sa.column("anti_egfr", sa.Boolean))
    for row in conn.execute(sa.select(t).where(t.c.regimen.is_not(None))).all():
        text = row.regimen
        values: dict[str, Any] = {}
        code = regimen_code(text)
        combination = regimen_with_biologics(text) if code is None else None
        if code is not None:
            values["regimen"] = code.value
        elif combination is not None:
            backbone, biologics = combination
            values["regimen"] = backbone.value
            if row.anti_vegf is None and any(b in ANTI_VEGF for b in biologics):
                values["anti_vegf"] = True
            if row.anti_egfr is None and any(b in ANTI_EGFR for b in biologics):
                values["anti_egfr"] = True
            notes[row.patient_id].append(f"Regimen as entered before coding: {text}")
        else:
            values["regimen"] = Regimen.other.value
            notes[row.patient_id].append(f"Regimen as entered before coding (now other): {text}")
        conn.execute(t.update().where(t.c.patient_id == row.patient_id).values(**values))


def _code_sites(conn: sa.Connection, notes: dict[int, list[str]]) -> None:
    t = sa.table("follow_up", sa.column("patient_id", sa.Integer),
                 sa.column("recurrence_sites", sa.JSON(none_as_null=True)))
    for row in conn.execute(sa.select(t).where(t.c.recurrence_sites.is_not(None))).all():
        sites = row.recurrence_sites
        if sites is None:  # a JSON null: unknown, as SQL NULL
            continue
        if not isinstance(sites, list):
            sites = [sites]
        coded: list[str] = []
        for item in sites:
            code = recurrence_site_code(str(item))
            if code is None:
                code = RecurrenceSite.other
                notes[row.patient_id].append(
                    f"Recurrence site as entered before coding (now other): {item}")
            if code.value not in coded:
                coded.append(code.value)
        conn.execute(t.update().where(t.c.patient_id == row.patient_id)
                     .values(recurrence_sites=coded))


def _clear_implausible_dates(conn: sa.Connection, notes: dict[int, list[str]]) -> None:
    now = today()
    for table, column, label, ahead in DATE_COLUMNS:
        key = "patient_id" if table in {"primary_tumours", "follow_up"} else "id"
        owner = "id" if table == "patients" else "patient_id"
        cols = {key, owner, column}
        t = sa.table(table, *[sa.column(c) for c in cols])
        latest = now + PLANNING_MARGIN if ahead else now
        for row in conn.execute(sa.select(t).where(t.c[column].is_not(None))).all():
            value = _as_date(row._mapping[column])
            if value is not None and EARLIEST_PLAUSIBLE_DATE <= value <= latest:
                continue
            notes[row._mapping[owner]].append(
                f"{label} {row._mapping[column]} cleared as implausible")
            conn.execute(t.update().where(t.c[key] == row._mapping[key]).values({column: None}))
    # a diagnosis after the assessment date
    p = sa.table("patients", sa.column("id"), sa.column("assessment_date"))
    d = sa.table("primary_tumours", sa.column("patient_id"), sa.column("date_of_diagnosis"))
    rows = conn.execute(sa.select(d.c.patient_id, d.c.date_of_diagnosis, p.c.assessment_date)
                        .join(p, p.c.id == d.c.patient_id)
                        .where(d.c.date_of_diagnosis.is_not(None),
                               p.c.assessment_date.is_not(None))).all()
    for pid, diagnosis, assessment in rows:
        if _as_date(diagnosis) > _as_date(assessment):  # type: ignore[operator]
            notes[pid].append(f"Date of diagnosis {diagnosis} cleared: after the assessment "
                              f"date {assessment}")
            conn.execute(d.update().where(d.c.patient_id == pid)
                         .values(date_of_diagnosis=None))


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
    conn = op.get_bind()
    notes: dict[int, list[str]] = defaultdict(list)
    _code_regimens(conn, notes)
    _code_sites(conn, notes)
    _clear_implausible_dates(conn, notes)
    p = sa.table("patients", sa.column("id", sa.Integer), sa.column("notes", sa.Text))
    for pid, lines in notes.items():
        conn.execute(p.update().where(p.c.id == pid).values(notes="\n".join(lines)))
    with op.batch_alter_table("chemotherapy_courses", schema=None) as batch_op:
        batch_op.alter_column("regimen", existing_type=sa.String(length=200),
                              type_=sa.String(length=40), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("chemotherapy_courses", schema=None) as batch_op:
        batch_op.alter_column("regimen", existing_type=sa.String(length=40),
                              type_=sa.String(length=200), existing_nullable=True)
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("notes")
