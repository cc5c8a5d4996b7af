"""Patients CRUD (``/api/v1/patients``) for clinicians (own centre) and admins (all centres).

Every read and write goes through :mod:`crlm.registry.repository`, which writes the audit row.
A patient of another centre answers 404, exactly like an unknown id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Response, status
from pydantic import BaseModel

from crlm.domain import Patient
from crlm.domain.patient import PrimarySite, Sex
from crlm.web.api.body import PATIENT_BODY, PATIENT_BODY_ERRORS, patient_body
from crlm.web.deps import CurrentUser, Db, Role, api_roles
from crlm.web.records import (
    CentreNotAllowedError,
    CentreRequiredError,
    PatientAccessDeniedError,
    PatientConflictError,
    PatientVersionError,
    check_access,
    create_patient,
    find_patients,
    read_patient,
    remove_patient,
    replace_patient,
)

router = APIRouter(prefix="/patients", tags=["patients"])

Clinical = Annotated[CurrentUser, api_roles(Role.clinician, Role.admin)]
PatientId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Registry id of the patient")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such patient (or not yours)"}
}


class PatientSummaryOut(BaseModel):
    """One row of the patient list."""

    id: int
    external_id: str | None
    centre: str | None
    age_years: float | None = None
    sex: str | None = None
    primary_site: str | None = None
    number_of_metastases: int | None = None


class PatientListOut(BaseModel):
    """A page of the patient list."""

    total: int
    limit: int
    offset: int
    items: list[PatientSummaryOut]


class PatientRecordOut(BaseModel):
    """A stored patient with its registry id, centre and version (also its ``ETag``)."""

    id: int
    centre: str | None
    version: int
    patient: Patient


class PatientCreatedOut(BaseModel):
    """Answer of a create: the new registry id."""

    id: int


def etag(version: int) -> str:
    """The ``ETag`` of a patient at ``version``."""
    return f'"{version}"'


def _if_match_version(value: str | None) -> int | None:
    """The version an ``If-Match`` header names (``"3"``, ``W/"3"`` or ``3``); None if it
    names none (missing, ``*``, or not a version)."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip().strip('"')
    return int(text) if text.isdigit() and len(text) < 19 else None


VERSIONED: dict[int | str, dict[str, Any]] = {
    412: {"description": "The patient changed since it was read (If-Match does not match its "
                         "ETag): read it again"},
    428: {"description": "If-Match missing: send the ETag of the patient read before"},
}


def _not_found(patient_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no patient with id {patient_id}")


@router.get("")
def list_patients(
    user: Clinical,
    db: Db,
    search: Annotated[str | None, Query(max_length=100, description="Id or text to find")] = None,
    site: Annotated[PrimarySite | None, Query(description="Primary site")] = None,
    sex: Annotated[Sex | None, Query(description="Sex")] = None,
    centre: Annotated[str | None, Query(max_length=64,
                                        description="Centre (admins; others see their own)")
                      ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> PatientListOut:
    """Patients of the caller's centre (all centres for admins), newest first; every filter
    is applied in the database over all patients, then the page is cut."""
    total, rows = find_patients(
        db, user, search=search, primary_site=site.value if site else None,
        sex=sex.value if sex else None, centre=centre, limit=limit, offset=offset)
    return PatientListOut(
        total=total,
        limit=limit,
        offset=offset,
        items=[PatientSummaryOut(**row) for row in rows],
    )


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The centre already has another patient with this id"}
}


def _conflict(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=str(exc))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=PATIENT_BODY,
    responses={**PATIENT_BODY_ERRORS, **CONFLICT},
)
def create(
    user: Clinical,
    db: Db,
    patient: Annotated[Patient, Depends(patient_body)],
    centre: Annotated[
        str | None,
        Query(
            min_length=1, max_length=64,
            description="Centre of the new patient: required for an admin without a centre "
            "of their own; a clinician may only name their own centre (default: own)",
        ),
    ] = None,
) -> PatientCreatedOut:
    """Store a new patient in the caller's centre (an admin chooses the centre).

    The patient form answers the same way: an admin without a centre of their own must choose
    one (422), a clinician naming another centre is refused (403).
    """
    try:
        return PatientCreatedOut(id=create_patient(db, user, patient, centre=centre))
    except PatientConflictError as exc:
        raise _conflict(exc) from None
    except CentreRequiredError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=str(exc),
        ) from None
    except CentreNotAllowedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None


@router.get("/{patient_id}", responses=NOT_FOUND)
def read(patient_id: PatientId, user: Clinical, db: Db, response: Response) -> PatientRecordOut:
    """One patient (the read is audited); its ``ETag`` is the version a PUT must name."""
    try:
        record = read_patient(db, user, patient_id)
    except PatientAccessDeniedError:
        raise _not_found(patient_id) from None
    response.headers["ETag"] = etag(record.version)
    return PatientRecordOut(id=record.id, centre=record.centre, version=record.version,
                            patient=record.patient)


@router.put(
    "/{patient_id}",
    openapi_extra=PATIENT_BODY,
    responses={**PATIENT_BODY_ERRORS, **NOT_FOUND, **CONFLICT, **VERSIONED},
)
def update(
    patient_id: PatientId,
    user: Clinical,
    db: Db,
    patient: Annotated[Patient, Depends(patient_body)],
    response: Response,
    if_match: Annotated[
        str | None, Header(description="The ETag of the patient as read (its version)")
    ] = None,
) -> PatientRecordOut:
    """Replace a patient's data if it is still the version read (``If-Match``: its ETag).

    Without ``If-Match``: 428 (404 first if the patient is not the caller's). When someone
    else saved the patient meanwhile: 412, and nothing is written (read it again, re-apply the
    change, send the new ETag).
    """
    version = _if_match_version(if_match)
    if version is None:
        try:  # a patient the caller may not reach is 404 whatever the headers
            check_access(db, user, patient_id)
        except PatientAccessDeniedError:
            raise _not_found(patient_id) from None
        raise HTTPException(status.HTTP_428_PRECONDITION_REQUIRED, detail=(
            "send If-Match with the ETag of the patient as you read it (GET returns it), so "
            "that a change saved by someone else meanwhile is not overwritten"))
    try:
        record = replace_patient(db, user, patient_id, patient, version)
    except PatientAccessDeniedError:
        raise _not_found(patient_id) from None
    except PatientConflictError as exc:
        raise _conflict(exc) from None
    except PatientVersionError as exc:
        raise HTTPException(
            status.HTTP_412_PRECONDITION_FAILED, headers={"ETag": etag(exc.current)},
            detail=(f"the patient was changed since you read it (version {exc.current} now, "
                    f"you sent {etag(version)}): read it again and re-apply your change"),
        ) from None
    response.headers["ETag"] = etag(record.version)
    return PatientRecordOut(id=record.id, centre=record.centre, version=record.version,
                            patient=record.patient)


@router.delete("/{patient_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete(patient_id: PatientId, user: Clinical, db: Db) -> Response:
    """Delete a patient (the deletion is audited)."""
    try:
        remove_patient(db, user, patient_id)
    except PatientAccessDeniedError:
        raise _not_found(patient_id) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)

