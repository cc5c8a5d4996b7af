"""Quick calculator: type a case, see scores, volumetry and advice update; nothing is stored.

The page posts the form (debounced, by ``static/calculator.js``) to ``/calculator/assess``,
which answers an HTML fragment; the "Save as patient" button posts the same form to
``/patients/new``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from crlm.domain.errors import parse_patient
from crlm.web.deps import CurrentUser, Db, Role, page_roles
from crlm.web.forms import ALL_FIELDS, FORM_SECTIONS, errors_by_field, field_path, form_to_dict
from crlm.web.pages.common import render, require_csrf
from crlm.web.pages.patients import assessment_context
from crlm.web.records import known_centres

router = APIRouter(include_in_schema=False)

Clinical = Annotated[CurrentUser, page_roles(Role.clinician, Role.admin)]


@router.get("/calculator")
def calculator_page(request: Request, user: Clinical, db: Db) -> HTMLResponse:
    """The patient form beside a live assessment."""
    return render(
        request, "calculator.html", user, sections=FORM_SECTIONS, values={}, errors={},
        patient_id=None, centre=None,
        centres=known_centres(db) if user.role == Role.admin else [],
    )


@router.post("/calculator/assess", dependencies=[Depends(require_csrf)])
async def calculator_assess(request: Request, user: Clinical) -> HTMLResponse:
    """The assessment of the submitted form as an HTML fragment (nothing stored or audited)."""
    data = form_to_dict(await request.form())
    try:
        patient = parse_patient(data)
    except ValidationError as exc:
        by_field, other = errors_by_field(exc)
        problems = [
            (name, ALL_FIELDS[field_path(name)].label, reasons)
            for name, reasons in by_field.items()
        ]
        return render(request, "_calc_result.html", user, problems=problems, other=other,
                      status_code=200)
    return render(request, "_calc_result.html", user, problems=[], other=[],
                  **assessment_context(patient))
