"""Registry schema (SQLAlchemy 2): patients and their episodes, users, append-only audit.

The episode tables mirror the sections of :class:`crlm.domain.Patient` column for column, so
the schema cannot drift from the validation model: each column is derived from the section's
pydantic field (float → DOUBLE, int → INTEGER, bool → BOOLEAN, date → DATE, vocabulary → VARCHAR,
list of values → JSON). A test checks that every Patient field has a home here.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import types
import typing
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crlm.domain.patient import (
    Chemotherapy,
    Labs,
    Lesion,
    LiverDisease,
    Molecular,
    Operation,
    Outcome,
    Patient,
    PrimaryTumour,
    Volumetry,
)
from crlm.domain.treatment import TreatmentEvent


class Base(DeclarativeBase):
    pass


metadata = Base.metadata


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@functools.cache
def _base_type(annotation: Any) -> Any:
    """``Annotated[X, ...] | None`` → ``X``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _base_type(args[0])
    if typing.get_origin(annotation) is typing.Annotated:
        return _base_type(typing.get_args(annotation)[0])
    return annotation


def constraint(annotation: Any, name: str) -> Any:
    """A constraint (``max_length``, ``pattern``…) inside ``Annotated[X, Field(…)] | None``."""
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Annotated:
            for meta in arg.__metadata__:
                for item in [meta, *getattr(meta, "metadata", [])]:
                    if getattr(item, name, None) is not None:
                        return getattr(item, name)
    return None


def column_type(annotation: Any) -> sa.types.TypeEngine[Any]:
    """The SQL type that stores a pydantic field of this annotation without loss."""
    t = _base_type(annotation)
    if typing.get_origin(t) is list:
        return sa.JSON(none_as_null=True)
    if isinstance(t, type):
        if issubclass(t, bool):
            return sa.Boolean()
        if issubclass(t, enum.Enum):
            return sa.String(40)
        if issubclass(t, int):
            return sa.Integer()
        if issubclass(t, float):
            return sa.Double()
        if issubclass(t, dt.date):
            return sa.Date()
        if issubclass(t, str):
            long_text = (constraint(annotation, "max_length") or 0) > 200
            return sa.Text() if long_text else sa.String(200)
    raise TypeError(f"no column type for {annotation!r}")


def _field_columns(model: type[BaseModel], exclude: set[str]) -> list[sa.Column[Any]]:
    return [
        sa.Column(name, column_type(info.annotation), nullable=True)
        for name, info in model.model_fields.items()
        if name not in exclude
    ]


def _section_table(name: str, model: type[BaseModel], exclude: set[str] = frozenset()) -> sa.Table:  # type: ignore[assignment]
    """A 1:1 table keyed by patient id with one column per section field."""
    return sa.Table(
        name,
        metadata,
        sa.Column(
            "patient_id", sa.Integer, sa.ForeignKey("patients.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        *_field_columns(model, exclude),
    )


def _child_table(name: str, model: type[BaseModel]) -> sa.Table:
    """A 1:n table of list items, ordered by ``position``."""
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "patient_id", sa.Integer, sa.ForeignKey("patients.id", ondelete="CASCADE"),
            nullable=False, index=True,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        *_field_columns(model, set()),
        sa.UniqueConstraint("patient_id", "position", name=f"uq_{name}_position"),
    )


# Scalar fields of Patient itself live on `patients`; sections have their own tables.
PATIENT_SCALARS = [
    name
    for name, info in Patient.model_fields.items()
    if not (isinstance(_base_type(info.annotation), type)
            and issubclass(_base_type(info.annotation), BaseModel))
    and typing.get_origin(_base_type(info.annotation)) is not list
    and name != "id"
]

patients = sa.Table(
    "patients",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("centre", sa.String(64), nullable=False),
    sa.Column("external_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, default=_utcnow),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, default=_utcnow),
    # Raised by one at every write of the patient: the ETag of the API, the form's hidden
    # field, and what an undo checks ("changed since the import?").
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    # NULL = the list is unknown; 0 = known to be empty (lesions/operations counts).
    sa.Column("operations_listed", sa.Integer, nullable=True),
    sa.Column("treatments_listed", sa.Integer, nullable=True),
    *[sa.Column(n, column_type(Patient.model_fields[n].annotation)) for n in PATIENT_SCALARS],
    sa.UniqueConstraint("centre", "external_id", name="uq_patients_centre_external_id"),
)

# Section name on Patient → (table, section model).
SECTIONS: dict[str, tuple[sa.Table, type[BaseModel]]] = {
    "primary": (_section_table("primary_tumours", PrimaryTumour), PrimaryTumour),
    "liver": (_section_table("liver_disease", LiverDisease, {"lesions"}), LiverDisease),
    "labs": (_section_table("labs", Labs), Labs),
    "molecular": (_section_table("molecular_results", Molecular), Molecular),
    "chemotherapy": (_section_table("chemotherapy_courses", Chemotherapy), Chemotherapy),
    "volumetry": (_section_table("volumetry", Volumetry), Volumetry),
    "outcome": (_section_table("follow_up", Outcome), Outcome),
}
liver_lesions_listed = sa.Column("lesions_listed", sa.Integer, nullable=True)
SECTIONS["liver"][0].append_column(liver_lesions_listed)

lesions = _child_table("lesions", Lesion)
operations = _child_table("operations", Operation)
treatment_events = _child_table("treatment_events", TreatmentEvent)

#: Lists held directly by Patient (not inside a section): key → table; ``<key>_listed`` on
#: ``patients`` tells an unknown list (NULL) from a known empty one (0).
PATIENT_LISTS: dict[str, sa.Table] = {"operations": operations, "treatments": treatment_events}

sa.Index("ix_patients_updated_at", patients.c.updated_at)


class User(Base):
    """A person who may log in. Roles: clinician, researcher, admin.

    Ids are never reused (SQLite ``AUTOINCREMENT``, a PostgreSQL sequence), and sessions and
    API tokens name the id and the ``generation``: raising it revokes every session and token
    of the user at once. A new user's generation starts at a random value
    (:data:`crlm.registry.users.GENERATION_START_BOUND`).
    """

    __tablename__ = "users"
    __table_args__: typing.ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    role: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    centre: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, default=_utcnow
    )
    generation: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=1, server_default="1"
    )
    must_change_password: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )


class SharedState(Base):
    """Named counters shared by every web worker and the CLI.

    ``auth_epoch`` is raised by every change that ends sessions or API tokens
    (:func:`crlm.registry.users.bump_auth_epoch`); workers poll it to empty their user caches.
    """

    __tablename__ = "shared_state"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)


class LoginThrottle(Base):
    """Login attempts per key (hashed username and/or client address) in a fixed window.

    Shared by every worker; updated with one atomic upsert per key (see
    :class:`crlm.web.security.LoginRateLimiter`).
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    window_start: Mapped[float] = mapped_column(sa.Double, nullable=False, index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False)


class AuditEvent(Base):
    """One read or write of registry data: who, what, when. Append-only and hash-chained.

    Written only through :mod:`crlm.registry.audit`, which numbers the row (``seq``, 1, 2, …),
    links it to the row before (``prev_hash``) and seals it (``row_hash``).
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, default=_utcnow, index=True
    )
    actor: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    action: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    entity: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, index=True)
    detail: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, unique=True, index=True)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    row_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)


class AuditChainHead(Base):
    """The anchor of the audit chain: how many rows it has and the hash of the last one.

    One row (id 1), advanced only by the database trigger that accepts each new audit row.
    """

    __tablename__ = "audit_chain_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="ck_audit_chain_head_single_row"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    last_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)


class MdtMeeting(Base):
    """A multidisciplinary tumour board of one centre on one day."""

    __tablename__ = "mdt_meetings"
    __table_args__ = (sa.Index("ix_mdt_meetings_centre_date", "centre", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    centre: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    date: Mapped[dt.date] = mapped_column(sa.Date, nullable=False)
    title: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    created_by: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, default=_utcnow
    )


class MdtCase(Base):
    """One patient discussed at a meeting: crlm's plan and the MDT's decision side by side."""

    __tablename__ = "mdt_cases"
    __table_args__ = (
        sa.UniqueConstraint("meeting_id", "patient_id", name="uq_mdt_cases_meeting_patient"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    meeting_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mdt_meetings.id", ondelete="CASCADE"), nullable=False, index=True
    )
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    #: crlm's plan (a code of crlm.web.mdt.PLAN_OPTIONS) when the decision was recorded
    crlm_plan: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    crlm_advice: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    decision_plan: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    decision_text: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    attendees: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(
        sa.DateTime(timezone=True), nullable=True
    )


# ---------------------------------------------------------------------------- analysis table

#: Survival origins of the analysis table: diagnosis is stored as ``os_days`` …, the others
#: with the origin as suffix (``os_days_first_hepatectomy`` …); see crlm.registry.analysis.
SURVIVAL_ORIGINS = ("diagnosis", "first_hepatectomy", "last_hepatectomy")
_SURVIVAL_COLUMNS = [
    sa.Column(name if origin == "diagnosis" else f"{name}_{origin}", sa.Integer)
    for origin in SURVIVAL_ORIGINS
    for name in ("os_days", "os_event", "rfs_days", "rfs_event")
]

#: One row per patient with the variables of :func:`crlm.registry.dataset.analysis_row` (origin:
#: diagnosis) and what the cohort views group or time by, kept in step with the patient tables
#: in the same transaction (crlm.registry.analysis); ``version`` is the patient's version the
#: row was computed from.
patient_analysis = sa.Table(
    "patient_analysis",
    metadata,
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("age_years", sa.Double),
    sa.Column("sex", sa.String(40)),
    sa.Column("year_of_diagnosis", sa.Integer),
    sa.Column("primary_site", sa.String(40)),
    sa.Column("distance_from_anal_verge_cm", sa.Double),
    sa.Column("node_positive", sa.Boolean),
    sa.Column("timing", sa.String(40)),
    sa.Column("approach", sa.String(20)),
    sa.Column("number_of_metastases", sa.Integer),
    sa.Column("largest_diameter_cm", sa.Double),
    sa.Column("bilobar", sa.Boolean),
    sa.Column("extrahepatic_disease", sa.Boolean),
    sa.Column("cea_ng_ml", sa.Double),
    sa.Column("kras", sa.String(40)),
    sa.Column("nras", sa.String(40)),
    sa.Column("ras", sa.String(40)),
    sa.Column("braf", sa.String(40)),
    sa.Column("tp53", sa.String(40)),
    sa.Column("prehepatectomy_cycles", sa.Integer),
    sa.Column("anti_vegf", sa.Boolean),
    sa.Column("planned_procedures", sa.Text),
    sa.Column("hepatectomy_grade", sa.String(10)),
    sa.Column("pve", sa.Boolean),
    *_SURVIVAL_COLUMNS,
    sa.Column("disease_free_interval_months", sa.Double),
    sa.Column("metastasis_count", sa.Integer),
    sa.Column("recurred", sa.Boolean),
    # the scores of crlm.reports.score_inputs.score_values (None: not computable)
    sa.Column("score_fong_crs", sa.Integer),
    sa.Column("score_game", sa.Integer),
    sa.Column("score_tumor_burden_score", sa.Double),
    sa.Column("score_mcs", sa.Integer),
)
