"""Patient request bodies, parsed strictly with :func:`crlm.domain.parse_patient`.

FastAPI's own body parsing would coerce ``"5"`` into ``5``; the patient contract forbids that,
so the raw body is parsed here and the OpenAPI schema is declared by hand (``PATIENT_BODY``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError

from crlm.domain import Patient, parse_patient
from crlm.web.errors import MalformedBodyError, PatientInvalidError, field_errors

MAX_BODY_BYTES = 1_000_000

#: ``openapi_extra`` for operations whose body is one Patient.
PATIENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Patient"}}},
    }
}

#: Documented error answers of operations that take a patient body.
PATIENT_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed JSON"},
    413: {"description": "Body larger than 1 MB"},
    422: {"description": "Invalid patient data: `errors` lists each field and the reason"},
}


async def patient_body(request: Request) -> Patient:
    """The request body as a strictly validated :class:`Patient` (400/413/422 otherwise)."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise MalformedBodyError(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        patient: Patient = parse_patient(raw)
    except ValidationError as exc:
        raise PatientInvalidError(field_errors(exc)) from exc
    except (ValueError, RecursionError) as exc:
        raise MalformedBodyError(str(exc)) from exc
    return patient
