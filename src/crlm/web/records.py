"""Patient records as the web app sees them: the registry repository plus centre checks.

Pages and the JSON API both call these functions, so the access rules live in one place:
clinicians reach their own centre's patients, admins every centre, researchers none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from crlm.domain import Patient
from crlm.web.cache import TtlCache
from crlm.web.deps import CurrentUser


class PatientAccessDeniedError(Exception):
    """Unknown id, or a patient the user may not reach (both look the same to the caller)."""


class PatientConflictError(Exception):
    """The centre already holds another patient with this external id."""


class PatientVersionError(Exception):
    """The patient was saved by someone else since the caller read it (``current``: its
    version now, ``given``: the version the caller read; None when it named none)."""

    def __init__(self, current: int, given: int | None) -> None:
        self.current, self.given = current, given
        super().__init__(f"the patient is at version {current}, not {given}")


class CentreRequiredError(Exception):
    """An admin without a centre of their own must name the centre of a new patient."""


class CentreNotAllowedError(Exception):
    """A clinician named a centre other than their own (their centre is fixed)."""


CENTRE_REQUIRED = "choose the centre of the new patient"


def target_centre(user: CurrentUser, centre: str | None) -> str:
    """The centre a new patient (or an import) goes to: an admin's choice, else the user's.

    A clinician's centre is fixed: naming another one is an error, never silently replaced.
    """
    centre = (centre or "").strip() or None
    if centre is not None and centre != user.centre and not user.may_access_centre(centre):
        raise CentreNotAllowedError(
            f"a clinician adds patients to their own centre ({user.centre}) only"
        )
    target = centre or user.centre
    if not target:
        raise CentreRequiredError(CENTRE_REQUIRED)
    return target


def known_centres(db: Session) -> list[str]:
    """Centres named by a user or a stored patient, sorted (the admin's choices)."""
    import sqlalchemy as sa

    from crlm.registry.models import User, patients

    names = set(db.scalars(sa.select(User.centre).where(User.centre.is_not(None)).distinct()))
    names |= set(db.scalars(sa.select(patients.c.centre).distinct()))
    return sorted(n for n in names if n)


@dataclass(frozen=True)
class PatientRecordView:
    """A stored patient with registry id and centre."""

    id: int
    centre: str | None
    patient: Patient
    version: int = 1


def _check_role(user: CurrentUser) -> None:
    if not user.sees_identifiable_data:
        raise PatientAccessDeniedError("role may not see identifiable patient data")


def check_access(db: Session, user: CurrentUser, patient_id: int) -> None:
    """:class:`PatientAccessDeniedError` unless the user may reach the patient (no patient
    data is read)."""
    from crlm.registry import repository

    _check_role(user)
    centre = repository.patient_centre(db, patient_id)  # metadata only: no patient data read
    if centre is None:
        raise PatientAccessDeniedError(f"no patient {patient_id}")
    if not user.may_access_centre(centre):
        raise PatientAccessDeniedError(f"patient {patient_id} belongs to another centre")


def _record(db: Session, user: CurrentUser, patient_id: int) -> PatientRecordView:
    from crlm.registry import repository

    check_access(db, user, patient_id)
    record = repository.get_record(db, patient_id, actor=user.username)
    db.commit()  # keep the audit row of the read
    return PatientRecordView(id=record.id, centre=record.centre, patient=record.patient,
                             version=record.version)


def read_patient(db: Session, user: CurrentUser, patient_id: int) -> PatientRecordView:
    """One patient, if the user may see it (audited)."""
    return _record(db, user, patient_id)


def create_patient(
    db: Session, user: CurrentUser, patient: Patient, centre: str | None = None
) -> int:
    """Store a new patient in the user's centre (admins may name any centre); the new id."""
    from crlm.registry import repository

    _check_role(user)
    target = target_centre(user, centre)
    _check_unique(db, target, patient.id, None)
    new_id = repository.add_patient(db, patient, centre=target, actor=user.username)
    db.commit()
    return new_id


def _check_unique(db: Session, centre: str, external_id: str | None, own_id: int | None) -> None:
    from crlm.registry import repository

    if external_id is None:
        return
    other = repository.find_patient_id(db, centre=centre, external_id=external_id)
    if other is not None and other != own_id:
        raise PatientConflictError(
            f"centre {centre} already has a patient with id {external_id!r} (#{other})"
        )


def replace_patient(
    db: Session, user: CurrentUser, patient_id: int, patient: Patient, version: int | None
) -> PatientRecordView:
    """Replace a patient's data after checking access, if it is still at ``version`` (the one
    the caller read: :class:`PatientVersionError` otherwise); the stored record."""
    from crlm.registry import repository

    current = _record(db, user, patient_id)
    if version != current.version:
        raise PatientVersionError(current.version, version)
    if current.centre:
        _check_unique(db, current.centre, patient.id, patient_id)
    try:
        new_version = repository.update_patient(db, patient_id, patient, actor=user.username,
                                                expected_version=version)
    except repository.VersionConflictError as exc:  # saved by someone else a moment ago
        db.rollback()
        raise PatientVersionError(exc.current.get(patient_id) or 0, version) from None
    db.commit()
    return PatientRecordView(id=current.id, centre=current.centre, patient=patient,
                             version=new_version)


@dataclass(frozen=True)
class SavedChange:
    """One save of a patient by someone: when, who, the version it made, what changed."""

    at: Any
    actor: str
    version: int
    changes: dict[str, list[Any]]


def changes_since(db: Session, patient_id: int, version: int | None) -> list[SavedChange]:
    """The saves of a patient after ``version``, oldest first (from the audit rows' old and
    new values); the caller has checked access."""
    import json

    import sqlalchemy as sa

    from crlm.registry.models import AuditEvent

    rows = db.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity == "patient", AuditEvent.entity_id == str(patient_id),
        AuditEvent.action == "update").order_by(AuditEvent.id.desc()).limit(50))
    out = []
    for event in rows:
        try:
            detail = json.loads(event.detail or "")
        except ValueError:
            continue
        if not isinstance(detail, dict) or detail.get("version", 0) <= (version or 0):
            continue
        out.append(SavedChange(event.at, event.actor, detail["version"],
                               detail.get("changes") or {}))
    return out[::-1]


def remove_patient(db: Session, user: CurrentUser, patient_id: int) -> None:
    """Delete a patient after checking access."""
    from crlm.registry import repository

    _record(db, user, patient_id)
    repository.delete_patient(db, patient_id, actor=user.username)
    db.commit()


def find_patients(
    db: Session,
    user: CurrentUser,
    *,
    search: str | None = None,
    primary_site: str | None = None,
    sex: str | None = None,
    centre: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """Total count and one page of summaries the user may see (search, site, sex and — for
    admins — centre filters, all applied in the database over every patient)."""
    from crlm.registry import repository

    _check_role(user)
    centre = user.centre_filter if user.centre_filter is not None else (centre or None)
    filters = {"search": search or None, "primary_site": primary_site, "sex": sex}
    rows = repository.list_patients(
        db, actor=user.username, centre=centre, limit=limit, offset=offset, **filters
    )
    total = repository.count_patients(db, centre=centre, **filters)
    db.commit()
    return total, [_summary_dict(row) for row in rows]


def _summary_dict(row: Any) -> dict[str, Any]:
    fields = (
        "id", "external_id", "centre", "age_years", "sex", "primary_site", "number_of_metastases",
    )
    return {name: getattr(row, name, None) for name in fields}


@dataclass(frozen=True)
class CohortScope:
    """Whose aggregates a user sees, and the smallest count shown (None: no suppression)."""

    centre: str | None
    small_cell_min: int | None

    @property
    def label(self) -> str:
        """"centre X" or "all centres"."""
        return f"centre {self.centre}" if self.centre else "all centres"


def cohort_scope(user: CurrentUser, centre: str | None) -> CohortScope:
    """Governance of aggregate views, for pages and API alike.

    Clinicians see their own centre only (whatever they ask for). Researchers may see one
    centre or all, with counts under :func:`crlm.web.settings.small_cell_min` suppressed.
    Admins see any centre, unsuppressed.
    """
    from crlm.registry.users import Role
    from crlm.web.settings import small_cell_min

    if user.role == Role.clinician:
        return CohortScope(user.centre, None)
    if user.role == Role.researcher:
        return CohortScope(centre or None, small_cell_min())
    return CohortScope(centre or None, None)


#: The cohort page and its plot image are two requests over the same patients: the second
#: reuses the first read of the same user and centre for 60 s (the page's audit event covers
#: its plot; every page view still writes its own event).
COHORT_CACHE_TTL_S = 60.0
CohortCache = TtlCache[tuple[str, str | None, tuple[str, ...]], Any]


def cohort_cache() -> CohortCache:
    """A cache of the latest cohort reads."""
    return TtlCache(ttl_s=COHORT_CACHE_TTL_S, max_entries=32)


def cohort_frame(
    db: Session,
    user: CurrentUser,
    columns: list[str],
    *,
    centre: str | None = None,
    purpose: str = "cohort",
    cache: CohortCache | None = None,
    audit_reuse: bool = True,
) -> Any:
    """``columns`` of the analysis table for every patient of the cohort (one centre or all),
    as a pandas DataFrame, for de-identified aggregate views.

    Read through :func:`crlm.registry.export.aggregate_frame`: ONE ``aggregate`` audit event
    names the purpose and the number of records covered (no row per patient). With ``cache``,
    a read of the same user, centre and columns from the last ``cache.ttl_s`` seconds is reused
    and the view still writes its event, unless ``audit_reuse`` is False (the plot image of a
    page, covered by the page's event).
    """
    from crlm.registry.export import aggregate_frame, record_aggregate

    key = (user.username, centre, tuple(columns))
    if cache is not None and (hit := cache.get(key)) is not None:
        if audit_reuse:
            record_aggregate(db, len(hit), actor=user.username, centre=centre, purpose=purpose)
            db.commit()
        return hit
    frame = aggregate_frame(db, columns, actor=user.username, centre=centre, purpose=purpose)
    db.commit()
    if cache is not None:
        cache.put(key, frame)
    return frame


def import_csv_upload(
    session_factory: Any, user: CurrentUser, filename: str, data: Any,
    centre: str | None = None, *, replace: bool = False, dictionary: Any = None,
    dag_centres: bool = False,
) -> Any:
    """Import an uploaded CSV or Excel file (``data``: bytes or a binary file, read row by
    row) into the user's centre (admins: ``centre``); ``replace`` clears stored fields the
    file does not have. ``dictionary`` (a :class:`~crlm.registry.dictionary.DataDictionary`,
    e.g. a REDCap project's) names the file's columns; ``dag_centres`` (admins only) sends a
    record in a REDCap data access group to the centre of that name.

    :func:`crlm.registry.importer.import_file` validates every row first; the transaction is
    committed only when no row has an error, so either every row lands or none does. Returns
    the registry's ``ImportResult`` (row-by-row errors naming the column).
    """
    from crlm.registry.importer import ImportResult, RowError, import_file
    from crlm.registry.users import Role

    _check_role(user)
    try:
        target = target_centre(user, centre)
    except (CentreRequiredError, CentreNotAllowedError) as exc:
        message = "name the centre to import into" if isinstance(
            exc, CentreRequiredError) else str(exc)
        problem = RowError(1, None, "centre", message)
        return ImportResult(ok=False, n_rows=0, errors=[problem])
    if dag_centres and user.role != Role.admin:
        problem = RowError(1, None, "centre", "only an administrator imports into the centres "
                           "of REDCap data access groups; a clinician imports into their own")
        return ImportResult(ok=False, n_rows=0, errors=[problem])
    with session_factory() as db:
        fmt = "xlsx" if filename.lower().endswith((".xlsx", ".xlsm")) else "csv"
        result = import_file(db, data, centre=target, actor=user.username, fmt=fmt,
                             source_name=filename, replace=replace, dictionary=dictionary,
                             dag_centres=dag_centres)
        if result.ok:
            db.commit()
        else:
            db.rollback()
    return result
