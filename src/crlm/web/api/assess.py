"""Assessment endpoints: stateless ``POST /api/v1/assess`` and a stored patient's assessment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from crlm.clinical.assess import Assessment, assess
from crlm.domain import Patient
from crlm.web.api.body import PATIENT_BODY, PATIENT_BODY_ERRORS, patient_body
from crlm.web.api.patients import NOT_FOUND, Clinical, PatientId
from crlm.web.deps import ApiUser, Db
from crlm.web.records import PatientAccessDeniedError, read_patient

router = APIRouter(tags=["assessment"])


@router.post("/assess", openapi_extra=PATIENT_BODY, responses=PATIENT_BODY_ERRORS)
async def assess_patient(
    user: ApiUser, patient: Annotated[Patient, Depends(patient_body)]
) -> Assessment:
    """Scores, volumetry and MDT advice with evidence for the posted patient (nothing stored)."""
    return assess(patient)


@router.get("/patients/{patient_id}/assessment", responses=NOT_FOUND)
def stored_patient_assessment(patient_id: PatientId, user: Clinical, db: Db) -> Assessment:
    """The assessment of a stored patient (the read is audited)."""
    try:
        record = read_patient(db, user, patient_id)
    except PatientAccessDeniedError:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no patient with id {patient_id}"
        ) from None
    return assess(record.patient)
