"""Patient pages: list with search and filters, form (new/edit) with inline errors, patient
page with the assessment, printable tumour-board summary, delete."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from crlm.domain import Patient, PrimarySite, Sex
from crlm.domain.errors import parse_patient
from crlm.web.deps import CurrentUser, Db, Role, page_roles
from crlm.web.forms import FORM_FIELDS, FORM_SECTIONS, errors_by_field, form_to_dict, form_values
from crlm.web.pages.common import flash, render, require_csrf, sentence
from crlm.web.records import (
    CentreNotAllowedError,
    CentreRequiredError,
    PatientAccessDeniedError,
    PatientConflictError,
    PatientRecordView,
    PatientVersionError,
    changes_since,
    create_patient,
    find_patients,
    known_centres,
    read_patient,
    remove_patient,
    replace_patient,
)
from crlm.web.security import csp_allowing_styles

router = APIRouter(include_in_schema=False)

Clinical = Annotated[CurrentUser, page_roles(Role.clinician, Role.admin)]
PatientId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PAGE_SIZE = 50

def _read(db: Db, user: CurrentUser, patient_id: int) -> PatientRecordView:
    """The patient, or a 404 page (unknown id and another centre's patient look the same)."""
    try:
        return read_patient(db, user, patient_id)
    except PatientAccessDeniedError:
        raise _not_found(patient_id) from None


def _not_found(patient_id: int) -> HTTPException:
    return HTTPException(404, detail=f"No patient #{patient_id} in the records you may see.")


def assessment_context(patient: Patient, field_url: str = "") -> dict[str, Any]:
    """Template variables for ``_patient_data.html`` and ``_assessment.html``.

    The assessment part is :func:`crlm.reports.tumour_board.context` (same titles, order and
    reference numbers as the printable summary). A "needs …" field links to its input at
    ``field_url`` (the edit form; '' for the form on the same page).
    """
    from crlm.clinical.assess import assess
    from crlm.reports.tumour_board import context

    stored = patient.model_dump(mode="json", exclude_none=True)
    return {
        **context(assess(patient), patient),
        "sections": FORM_SECTIONS,
        "form_fields": FORM_FIELDS,
        "field_url": field_url,
        "values": form_values(stored),
    }


@router.get("/patients")
def patient_list(
    request: Request,
    user: Clinical,
    db: Db,
    q: Annotated[str | None, Query(max_length=100)] = None,
    site: Annotated[PrimarySite | None, Query()] = None,
    sex: Annotated[Sex | None, Query()] = None,
    centre: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Patients of the user's centre (all centres for admins, who may pick one)."""
    centre = centre if user.centre_filter is None and centre else None
    total, rows = find_patients(
        db, user, search=q, primary_site=site.value if site else None,
        sex=sex.value if sex else None, centre=centre,
        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
    )
    params = {k: v for k, v in {"q": q, "site": site, "sex": sex, "centre": centre}.items()
              if v}

    def page_url(n: int) -> str:
        return "/patients?" + urlencode({**params, "page": n})

    return render(
        request, "patients.html", user, rows=rows, total=total, q=q,
        site=site.value if site else None, sex=sex.value if sex else None,
        filtered=bool(site or sex or centre), centre=centre,
        centres=known_centres(db) if user.centre_filter is None else [],
        sites=[s.value for s in PrimarySite], sexes=[s.value for s in Sex],
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page * PAGE_SIZE < total else None,
    )


def _form_page(
    request: Request,
    user: CurrentUser,
    db: Db,
    *,
    values: dict[str, Any],
    patient_id: int | None = None,
    centre: str | None = None,
    errors: dict[str, list[str]] | None = None,
    other_errors: list[str] | None = None,
    version: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request, "patient_form.html", user, status_code=status_code,
        sections=FORM_SECTIONS, values=values, patient_id=patient_id, centre=centre,
        centres=known_centres(db) if user.role == Role.admin else [],
        errors=errors or {}, other_errors=other_errors or [], version=version,
    )


def _shown(value: Any) -> str:
    """A stored value as the conflict page shows it."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if all(isinstance(v, str | int | float) for v in value):
            return ", ".join(str(v).replace("_", " ") for v in value) or "none"
        return f"{len(value)} item{'' if len(value) == 1 else 's'}"
    return str(value).replace("_", " ") if isinstance(value, str) else str(value)


def _label(path: str) -> str:
    if path in FORM_FIELDS:
        return FORM_FIELDS[path].label
    return " – ".join(part.replace("_", " ") for part in path.split(".")).capitalize()


def _conflict_page(request: Request, user: CurrentUser, db: Db, patient_id: int,
                   given: int | None, submitted: dict[str, Any]) -> HTMLResponse:
    """409: what others saved since the version the form was filled from, and the form's
    values for those fields; nothing of the form was saved."""
    from crlm.registry.repository import flat_doc

    yours = flat_doc(submitted)
    rows = [
        {"at": f"{c.at:%Y-%m-%d %H:%M}", "actor": c.actor, "label": _label(path),
         "old": _shown(old), "new": _shown(new), "yours": _shown(yours.get(path))}
        for c in (changes_since(db, patient_id, given) if given is not None else [])
        for path, (old, new) in c.changes.items()
    ]
    return render(request, "patient_conflict.html", user, status_code=409,
                  patient_id=patient_id, changes=rows)


def _form_version(form: Any) -> int | None:
    text = form.get("version")
    return int(text) if isinstance(text, str) and text.isdigit() and len(text) < 19 else None


async def _submitted(request: Request, base: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The submitted patient dict, and the Patient or the ValidationError."""
    form = await request.form()
    data = form_to_dict(form, base)
    try:
        return data, parse_patient(data)
    except ValidationError as exc:
        return data, exc


@router.get("/patients/new")
def new_patient_form(request: Request, user: Clinical, db: Db) -> HTMLResponse:
    """Empty patient form."""
    return _form_page(request, user, db, values={})


@router.post("/patients/new", dependencies=[Depends(require_csrf)])
async def new_patient_submit(request: Request, user: Clinical, db: Db) -> Response:
    """Validate and store; on error the form comes back with the messages next to the fields."""
    data, result = await _submitted(request, {})
    raw_centre = (await request.form()).get("centre")
    centre = raw_centre.strip()[:64] if isinstance(raw_centre, str) else None
    if isinstance(result, ValidationError):
        by_field, other = errors_by_field(result)
        return _form_page(
            request, user, db, values=form_values(data), centre=centre, errors=by_field,
            other_errors=other, status_code=422,
        )
    try:
        new_id = create_patient(db, user, result, centre=centre)
    except (PatientConflictError, CentreRequiredError, CentreNotAllowedError) as exc:
        field = "id" if isinstance(exc, PatientConflictError) else "centre"
        status_code = {PatientConflictError: 409, CentreRequiredError: 422}.get(type(exc), 403)
        return _form_page(
            request, user, db, values=form_values(data), centre=centre,
            status_code=status_code, errors={field: [sentence(str(exc))]},
        )
    return RedirectResponse(f"/patients/{new_id}", status_code=303)


@router.get("/patients/{patient_id}")
def patient_page(request: Request, patient_id: PatientId, user: Clinical, db: Db) -> HTMLResponse:
    """The patient's data summary and assessment."""
    record = _read(db, user, patient_id)
    return render(
        request, "patient.html", user, record=record,
        **assessment_context(record.patient, f"/patients/{patient_id}/edit"),
    )


@router.get("/patients/{patient_id}/tumour-board")
def tumour_board_page(
    request: Request, patient_id: PatientId, user: Clinical, db: Db
) -> HTMLResponse:
    """Printable tumour-board summary: the self-contained HTML of ``crlm.reports``.

    Its one inline ``<style>`` block is allowed by hash in this response's CSP (no
    ``unsafe-inline``, no script).
    """
    from crlm.clinical.assess import assess
    from crlm.reports.tumour_board import Header
    from crlm.reports.tumour_board import render as render_report

    record = _read(db, user, patient_id)
    header = Header(patient=record.patient.id or f"#{record.id}", centre=record.centre,
                    meeting_date=record.patient.assessment_date)
    html = render_report(assess(record.patient), record.patient, fmt="html", header=header)
    return HTMLResponse(html, headers={"Content-Security-Policy": csp_allowing_styles(html)})


@router.get("/patients/{patient_id}/tumour-board.pdf")
def tumour_board_pdf(patient_id: PatientId, user: Clinical, db: Db) -> Response:
    """The same tumour-board document as A4 PDF (WeasyPrint from the same HTML)."""
    from crlm.clinical.assess import assess
    from crlm.reports.tumour_board import Header, render_pdf

    record = _read(db, user, patient_id)
    header = Header(patient=record.patient.id or f"#{record.id}", centre=record.centre,
                    meeting_date=record.patient.assessment_date)
    pdf = render_pdf(assess(record.patient), record.patient, header)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="tumour-board-{record.id}.pdf"'})


@router.get("/patients/{patient_id}/edit")
def edit_patient_form(
    request: Request, patient_id: PatientId, user: Clinical, db: Db
) -> HTMLResponse:
    """The form filled with the stored data."""
    record = _read(db, user, patient_id)
    stored = record.patient.model_dump(mode="json", exclude_none=True)
    return _form_page(
        request, user, db, values=form_values(stored), patient_id=patient_id,
        centre=record.centre, version=record.version,
    )


@router.post("/patients/{patient_id}/edit", dependencies=[Depends(require_csrf)])
async def edit_patient_submit(
    request: Request, patient_id: PatientId, user: Clinical, db: Db
) -> Response:
    """Validate and replace (the form holds every field of the patient model), if nobody saved
    the patient since the form was filled (its hidden version; else a conflict page)."""
    record = _read(db, user, patient_id)
    data, result = await _submitted(request, {})
    version = _form_version(await request.form())
    if version != record.version:
        return _conflict_page(request, user, db, patient_id, version, data)
    if isinstance(result, ValidationError):
        by_field, other = errors_by_field(result)
        return _form_page(
            request, user, db, values=form_values(data), patient_id=patient_id,
            centre=record.centre, errors=by_field, other_errors=other, status_code=422,
            version=version,
        )
    try:
        replace_patient(db, user, patient_id, result, version)
    except PatientConflictError as exc:
        return _form_page(
            request, user, db, values=form_values(data), patient_id=patient_id,
            centre=record.centre, errors={"id": [str(exc)]}, status_code=409,
            version=version,
        )
    except PatientVersionError:
        return _conflict_page(request, user, db, patient_id, version, data)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.get("/patients/{patient_id}/delete")
def confirm_delete_page(
    request: Request, patient_id: PatientId, user: Clinical, db: Db
) -> HTMLResponse:
    """Ask before deleting: what will go and what stays."""
    record = _read(db, user, patient_id)
    return render(request, "confirm_delete.html", user, record=record)


@router.post("/patients/{patient_id}/delete", dependencies=[Depends(require_csrf)])
async def delete_patient(
    request: Request, patient_id: PatientId, user: Clinical, db: Db
) -> RedirectResponse:
    """Delete after the confirmation page (a POST without ``confirm=yes`` goes there first)."""
    form = await request.form()
    if form.get("confirm") != "yes":
        return RedirectResponse(f"/patients/{patient_id}/delete", status_code=303)
    record = _read(db, user, patient_id)
    try:
        remove_patient(db, user, patient_id)
    except PatientAccessDeniedError:
        raise _not_found(patient_id) from None
    name = f" ({record.patient.id})" if record.patient.id else ""
    flash(request, f"Patient #{patient_id}{name} of centre {record.centre} was deleted. "
                   "The audit log keeps the record of its reads and of the deletion.")
    return RedirectResponse("/patients", status_code=303)
