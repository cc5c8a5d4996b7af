"""MDT meeting pages: list and create meetings, the meeting's patients with crlm's plan and
the MDT's decision, one tumour-board PDF for the whole meeting, concordance page and CSV."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crlm.safe_output import safe_csv_writer
from crlm.web import mdt
from crlm.web.deps import CurrentUser, Db, Role, page_roles
from crlm.web.pages.common import flash, render, require_csrf, sentence
from crlm.web.records import (
    CentreNotAllowedError,
    CentreRequiredError,
    PatientAccessDeniedError,
    known_centres,
    read_patient,
)

router = APIRouter(include_in_schema=False)

Clinical = Annotated[CurrentUser, page_roles(Role.clinician, Role.admin)]
MeetingId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PatientId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _meeting(db: Db, user: CurrentUser, meeting_id: int) -> Any:
    try:
        return mdt.get_meeting(db, user, meeting_id)
    except mdt.MeetingNotFoundError:
        raise HTTPException(404, detail=f"No MDT meeting #{meeting_id} you may see.") from None


def _list_page(request: Request, user: CurrentUser, db: Db, error: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    return render(
        request, "mdt_list.html", user, status_code=status_code,
        meetings=mdt.meetings_of(db, user), error=error, today=dt.date.today().isoformat(),
        centres=known_centres(db) if user.role == Role.admin else [],
    )


@router.get("/mdt")
def meetings_page(request: Request, user: Clinical, db: Db) -> HTMLResponse:
    """The meetings of the user's centre (all for admins) and a form to create one."""
    return _list_page(request, user, db)


@router.post("/mdt", dependencies=[Depends(require_csrf)])
def create_meeting(
    request: Request,
    user: Clinical,
    db: Db,
    date: Annotated[str, Form(max_length=10)],
    centre: Annotated[str, Form(max_length=64)] = "",
    title: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create a meeting and open it."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        return _list_page(request, user, db, "Enter the meeting's date.", 422)
    try:
        meeting = mdt.create_meeting(db, user, day, centre or None, title)
    except (CentreRequiredError, CentreNotAllowedError) as exc:
        db.rollback()
        return _list_page(request, user, db, sentence(str(exc)), 422)
    return RedirectResponse(f"/mdt/{meeting.id}", status_code=303)


def _rows(db: Db, user: CurrentUser, cases: list[Any]) -> list[dict[str, Any]]:
    """Each case with the patient (audited read) and crlm's current plan."""
    from crlm.clinical.assess import assess

    rows = []
    for case in cases:
        try:
            record = read_patient(db, user, case.patient_id)
        except PatientAccessDeniedError:
            continue
        plan, advice = mdt.crlm_plan(assess(record.patient))
        rows.append({"case": case, "record": record, "plan": plan, "advice": advice,
                     "concordant": mdt.concordant(case)})
    return rows


@router.get("/mdt/concordance")
def concordance_page(
    request: Request, user: Clinical, db: Db,
    meeting: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    """Decision vs crlm's plan for every decided case (one meeting or all)."""
    rows = mdt.concordance(db, user, meeting)
    agree, comparable = mdt.concordance_rate(rows)
    return render(
        request, "mdt_concordance.html", user, rows=rows, agree=agree, comparable=comparable,
        meeting=meeting, label=mdt.plan_label,
        csv_url="/mdt/concordance.csv" + (f"?meeting={meeting}" if meeting else ""),
    )


CONCORDANCE_COLUMNS = ["meeting", "meeting_date", "centre", "patient", "mdt_decision",
                       "crlm_plan", "concordant", "attendees", "decision_text"]


@router.get("/mdt/concordance.csv")
def concordance_csv(
    user: Clinical, db: Db,
    meeting: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    """The concordance table as CSV (plans in words; concordant yes/no/blank)."""
    out = io.StringIO()
    writer = safe_csv_writer(out)
    writer.writerow(CONCORDANCE_COLUMNS)
    for r in mdt.concordance(db, user, meeting):
        writer.writerow([
            r.meeting_id, r.date.isoformat(), r.centre, r.patient_id,
            mdt.plan_label(r.decision_plan), mdt.plan_label(r.crlm_plan) if r.crlm_plan else "",
            {True: "yes", False: "no"}.get(r.concordant, ""), r.attendees or "",
            r.decision_text or "",
        ])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="crlm-mdt-concordance.csv"'})


@router.get("/mdt/{meeting_id}")
def meeting_page(request: Request, meeting_id: MeetingId, user: Clinical, db: Db) -> HTMLResponse:
    """The meeting's patients, crlm's plan and the decision form for each."""
    meeting = _meeting(db, user, meeting_id)
    rows = _rows(db, user, mdt.cases_of(db, meeting))
    agree, comparable = mdt.concordance_rate(mdt.concordance(db, user, meeting_id))
    return render(
        request, "mdt_meeting.html", user, meeting=meeting, rows=rows,
        options=mdt.PLAN_OPTIONS, label=mdt.plan_label, agree=agree, comparable=comparable,
    )


@router.post("/mdt/{meeting_id}/patients", dependencies=[Depends(require_csrf)])
def add_patient(
    request: Request, meeting_id: MeetingId, user: Clinical, db: Db,
    patient: Annotated[str, Form(max_length=64)],
) -> RedirectResponse:
    """Put a patient of the meeting's centre on the list."""
    meeting = _meeting(db, user, meeting_id)
    try:
        pid = mdt.add_case(db, user, meeting, patient)
        flash(request, f"Patient #{pid} added to the meeting.")
    except ValueError as exc:
        db.rollback()
        flash(request, sentence(str(exc)))
    return RedirectResponse(f"/mdt/{meeting_id}", status_code=303)


@router.post("/mdt/{meeting_id}/patients/{patient_id}/remove",
             dependencies=[Depends(require_csrf)])
def remove_patient(
    request: Request, meeting_id: MeetingId, patient_id: PatientId, user: Clinical, db: Db
) -> RedirectResponse:
    """Take a patient off the list."""
    mdt.remove_case(db, user, _meeting(db, user, meeting_id), patient_id)
    flash(request, f"Patient #{patient_id} taken off the meeting's list.")
    return RedirectResponse(f"/mdt/{meeting_id}", status_code=303)


@router.post("/mdt/{meeting_id}/patients/{patient_id}/decision",
             dependencies=[Depends(require_csrf)])
def record_decision(
    request: Request, meeting_id: MeetingId, patient_id: PatientId, user: Clinical, db: Db,
    plan: Annotated[str, Form(max_length=40)] = "",
    text: Annotated[str, Form(max_length=5000)] = "",
    attendees: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    """Store the MDT's decision for one patient beside crlm's plan."""
    from crlm.clinical.assess import assess

    meeting = _meeting(db, user, meeting_id)
    try:
        record = read_patient(db, user, patient_id)
        crlm = mdt.crlm_plan(assess(record.patient))
        mdt.record_decision(db, user, meeting, patient_id, plan=plan, text=text,
                            attendees=attendees, crlm=crlm)
        flash(request, f"Decision for patient #{patient_id} recorded: {mdt.plan_label(plan)}.")
    except (ValueError, PatientAccessDeniedError) as exc:
        db.rollback()
        flash(request, sentence(str(exc)))
    return RedirectResponse(f"/mdt/{meeting_id}#case-{patient_id}", status_code=303)


@router.get("/mdt/{meeting_id}/tumour-board.pdf")
def meeting_pdf(meeting_id: MeetingId, user: Clinical, db: Db) -> Response:
    """One PDF for the whole meeting: a cover list, then each patient's tumour-board summary."""
    from crlm.reports.meeting import meeting_pdf as build

    meeting = _meeting(db, user, meeting_id)
    records = [r["record"] for r in _rows(db, user, mdt.cases_of(db, meeting))]
    if not records:
        raise HTTPException(409, detail="The meeting has no patient yet: add patients first.")
    pdf = build(meeting.date, meeting.centre, meeting.title,
                [(r.id, r.patient) for r in records])
    name = f"crlm-mdt-{meeting.centre}-{meeting.date.isoformat()}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})
