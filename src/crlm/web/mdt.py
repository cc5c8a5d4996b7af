"""MDT meetings: create, add patients, record decisions beside crlm's plan, concordance.

crlm's plan for a patient is the first step of :class:`crlm.clinical.plan.Plan` that states
a strategy (its code is in :data:`PLAN_FROM_CODES`; staging, testing and technique steps are
not); without such a step, the first strategy advice code in that table's
order; ``None`` when the data are too incomplete for any. The MDT's decision is chosen from the same
:data:`PLAN_OPTIONS`, so the two compare one to one. Access follows the patients: a clinician
works on their own centre's meetings, an admin on every centre's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crlm.registry.models import MdtCase, MdtMeeting
from crlm.web.deps import CurrentUser

PLAN_OPTIONS: dict[str, str] = {
    "primary_first": "Primary first (classic)",
    "simultaneous": "Simultaneous resection of primary and liver",
    "liver_first": "Liver first (reverse)",
    "diversion_first": "Diverting stoma first",
    "watch_and_wait": "Watch and wait for the rectal primary",
    "upfront_hepatectomy": "Hepatectomy now",
    "preoperative_chemotherapy": "Preoperative chemotherapy, then hepatectomy",
    "pve_then_hepatectomy": "Portal vein embolisation, then hepatectomy",
    "two_stage_hepatectomy": "Two-stage hepatectomy",
    "conversion_chemotherapy": "Conversion chemotherapy",
    "transplant_evaluation": "Evaluate for liver transplantation",
    "ablation": "Ablation",
    "palliative_systemic_therapy": "Palliative systemic therapy",
    "best_supportive_care": "Best supportive care",
    "more_workup": "More work-up or restaging first (imaging, volumetry, testing)",
    "primary_resection": "Resection of the primary (liver already treated)",
    "surveillance": "Surveillance",
    "other": "Other (see the free text)",
}

#: Advice codes that state a strategy, most decisive first → the plan option they mean.
PLAN_FROM_CODES: list[tuple[str, str]] = [
    ("sequencing.diversion_first", "diversion_first"),
    ("sequencing.watch_and_wait_option", "watch_and_wait"),
    ("unresectable.conversion_chemotherapy", "conversion_chemotherapy"),
    ("transplant.consider_evaluation", "transplant_evaluation"),
    ("resection.two_stage", "two_stage_hepatectomy"),
    ("resection.pve_required", "pve_then_hepatectomy"),
    ("sequencing.reverse", "liver_first"),
    ("schedule.liver_first_option", "liver_first"),
    ("sequencing.combined", "simultaneous"),
    ("resection.simultaneous_reasonable", "simultaneous"),
    ("sequencing.classic", "primary_first"),
    ("schedule.m1_option", "primary_first"),
    ("resection.preoperative_chemotherapy", "preoperative_chemotherapy"),
    ("resection.upfront_surgery", "upfront_hepatectomy"),
    ("resection.proceed_to_hepatectomy", "upfront_hepatectomy"),
    ("resection.flr_adequate_after_pve", "upfront_hepatectomy"),
    ("resection.repeat_hepatectomy", "upfront_hepatectomy"),
    ("resection.hepatectomy_despite_progression", "upfront_hepatectomy"),
    ("resection.restage_after_chemotherapy", "more_workup"),
    ("resection.pve_volumetry_pending", "more_workup"),
    ("resection.slow_growth_after_pve", "more_workup"),
    ("resection.progression_on_chemotherapy", "conversion_chemotherapy"),
    ("resection.flr_inadequate_after_pve", "two_stage_hepatectomy"),
    ("sequencing.complete_with_primary", "primary_resection"),
    ("surveillance.standard", "surveillance"),
    ("surveillance.intensive_beyond_2y", "surveillance"),
]
_OPTION_OF = dict(PLAN_FROM_CODES)


class MeetingNotFoundError(Exception):
    """Unknown meeting, or one of a centre the user may not reach (both look the same)."""


def crlm_plan(assessment: Any) -> tuple[str | None, str]:
    """(plan option, the words it comes from) for an assessment: its plan's first step that
    states a strategy, else the advice (surveillance advice alone is not a strategy there)."""
    plan = getattr(assessment, "plan", None)
    for step in plan.steps if plan is not None else []:
        for code in step.codes:
            if code in _OPTION_OF:
                return _OPTION_OF[code], step.action
    by_code = {item.code: item for item in assessment.advice}
    for code, option in PLAN_FROM_CODES:
        if code in by_code and option != "surveillance":
            return option, by_code[code].recommendation
    return None, "crlm proposes no strategy yet (data incomplete): see the missing fields."


def plan_label(code: str | None) -> str:
    """A plan option in words ('–' for none)."""
    return PLAN_OPTIONS.get(code or "", "–") if code else "–"


def concordant(case: MdtCase) -> bool | None:
    """Decision = crlm's plan; None while undecided or when crlm had no plan."""
    if case.decision_plan is None or case.crlm_plan is None:
        return None
    return case.decision_plan == case.crlm_plan


# ---------------------------------------------------------------------------- storage


def meetings_of(db: Session, user: CurrentUser) -> list[MdtMeeting]:
    """The meetings the user may see, newest first."""
    query = sa.select(MdtMeeting).order_by(MdtMeeting.date.desc(), MdtMeeting.id.desc())
    if user.centre_filter is not None:
        query = query.where(MdtMeeting.centre == user.centre_filter)
    return list(db.scalars(query))


def create_meeting(
    db: Session, user: CurrentUser, date: dt.date, centre: str | None, title: str | None
) -> MdtMeeting:
    """A new meeting of the user's centre (an admin chooses the centre)."""
    from crlm.registry import audit
    from crlm.web.records import target_centre

    meeting = MdtMeeting(centre=target_centre(user, centre), date=date,
                         title=(title or "").strip() or None, created_by=user.username)
    db.add(meeting)
    db.flush()
    audit.record(db, actor=user.username, action="create", entity="mdt_meeting",
                 entity_id=meeting.id, detail=f"{meeting.centre} {meeting.date}")
    db.commit()
    return meeting


def get_meeting(db: Session, user: CurrentUser, meeting_id: int) -> MdtMeeting:
    """The meeting, if the user may reach its centre."""
    meeting = db.get(MdtMeeting, meeting_id)
    if meeting is None or not user.may_access_centre(meeting.centre):
        raise MeetingNotFoundError(f"no MDT meeting #{meeting_id}")
    return meeting


def cases_of(db: Session, meeting: MdtMeeting) -> list[MdtCase]:
    """The meeting's patients in the order they were added."""
    return list(db.scalars(
        sa.select(MdtCase).where(MdtCase.meeting_id == meeting.id).order_by(MdtCase.position)
    ))


def add_case(db: Session, user: CurrentUser, meeting: MdtMeeting, patient_ref: str) -> int:
    """Add a patient (registry number like "12" / "#12", or the hospital id) of the meeting's
    centre; the registry id. Raises ValueError naming what is wrong."""
    from crlm.registry import audit, repository

    ref = patient_ref.strip().lstrip("#")
    patient_id = None
    if ref.isdigit() and repository.patient_centre(db, int(ref)) == meeting.centre:
        patient_id = int(ref)
    elif ref:
        patient_id = repository.find_patient_id(db, centre=meeting.centre, external_id=ref)
    if patient_id is None:
        raise ValueError(f"no patient “{patient_ref.strip()}” in centre {meeting.centre}")
    exists = db.scalar(sa.select(MdtCase.id).where(
        MdtCase.meeting_id == meeting.id, MdtCase.patient_id == patient_id))
    if exists is not None:
        raise ValueError(f"patient #{patient_id} is already on this meeting's list")
    position = (db.scalar(sa.select(sa.func.max(MdtCase.position)).where(
        MdtCase.meeting_id == meeting.id)) or 0) + 1
    db.add(MdtCase(meeting_id=meeting.id, patient_id=patient_id, position=position))
    audit.record(db, actor=user.username, action="update", entity="mdt_meeting",
                 entity_id=meeting.id, detail=f"added patient #{patient_id}")
    db.commit()
    return patient_id


def remove_case(db: Session, user: CurrentUser, meeting: MdtMeeting, patient_id: int) -> None:
    """Take a patient off the meeting's list."""
    from crlm.registry import audit

    db.execute(sa.delete(MdtCase).where(
        MdtCase.meeting_id == meeting.id, MdtCase.patient_id == patient_id))
    audit.record(db, actor=user.username, action="update", entity="mdt_meeting",
                 entity_id=meeting.id, detail=f"removed patient #{patient_id}")
    db.commit()


def record_decision(
    db: Session, user: CurrentUser, meeting: MdtMeeting, patient_id: int, *,
    plan: str, text: str | None, attendees: str | None, crlm: tuple[str | None, str],
) -> MdtCase:
    """Store the MDT's decision with crlm's plan of that moment beside it."""
    from crlm.registry import audit

    if plan not in PLAN_OPTIONS:
        raise ValueError("choose the plan the MDT decided")
    case = db.scalar(sa.select(MdtCase).where(
        MdtCase.meeting_id == meeting.id, MdtCase.patient_id == patient_id))
    if case is None:
        raise ValueError(f"patient #{patient_id} is not on this meeting's list")
    case.decision_plan, case.crlm_plan, case.crlm_advice = plan, crlm[0], crlm[1]
    case.decision_text = (text or "").strip() or None
    case.attendees = (attendees or "").strip() or None
    case.decided_by, case.decided_at = user.username, dt.datetime.now(dt.UTC)
    audit.record(db, actor=user.username, action="update", entity="patient",
                 entity_id=patient_id, detail=f"MDT decision at meeting #{meeting.id}: {plan}")
    db.commit()
    return case


@dataclass(frozen=True)
class ConcordanceRow:
    """One decided case for the concordance page and CSV."""

    meeting_id: int
    date: dt.date
    centre: str
    patient_id: int
    decision_plan: str | None
    crlm_plan: str | None
    concordant: bool | None
    attendees: str | None
    decision_text: str | None


def concordance(
    db: Session, user: CurrentUser, meeting_id: int | None = None
) -> list[ConcordanceRow]:
    """Every decided case the user may see (one meeting, or all), oldest meeting first."""
    query = (
        sa.select(MdtCase, MdtMeeting)
        .join(MdtMeeting, MdtMeeting.id == MdtCase.meeting_id)
        .where(MdtCase.decision_plan.is_not(None))
        .order_by(MdtMeeting.date, MdtMeeting.id, MdtCase.position)
    )
    if user.centre_filter is not None:
        query = query.where(MdtMeeting.centre == user.centre_filter)
    if meeting_id is not None:
        query = query.where(MdtMeeting.id == meeting_id)
    return [
        ConcordanceRow(m.id, m.date, m.centre, c.patient_id, c.decision_plan, c.crlm_plan,
                       concordant(c), c.attendees, c.decision_text)
        for c, m in db.execute(query).all()
    ]


def concordance_rate(rows: list[ConcordanceRow]) -> tuple[int, int]:
    """(concordant, comparable): cases where crlm had a plan and the MDT decided."""
    comparable = [r for r in rows if r.concordant is not None]
    return sum(1 for r in comparable if r.concordant), len(comparable)
