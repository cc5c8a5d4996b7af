"""Where the patient is now in their treatment, from the timeline and the assessment date.

One function, like a guideline's "Is the recommendation applicable?": every rule declares the
phases it speaks to and stays silent outside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from crlm.clinical.timeline import Timeline
from crlm.domain import Patient
from crlm.domain.patient import Resectability
from crlm.domain.treatment import RecurrenceSite, TherapyIntent, TreatmentEvent, TreatmentKind


class Phase(StrEnum):
    """The treatment phases a tumour board distinguishes."""

    workup = "workup"  # treatment-naive (or a new recurrence): decide the strategy
    preoperative_therapy = "preoperative_therapy"  # on or after preoperative systemic therapy
    conversion = "conversion"  # unresectable liver disease, on or before conversion therapy
    after_pve = "after_pve"  # PVE done, hepatectomy not yet: waiting for volumetry
    between_stages = "between_stages"  # first stage of a two-stage hepatectomy done
    primary_pending = "primary_pending"  # liver treated, rectal/colonic primary still in place
    surveillance = "surveillance"  # after curative-intent treatment of liver and primary
    extrahepatic_recurrence = "extrahepatic_recurrence"  # recurrence outside the liver only


ALL_PHASES = frozenset(Phase)
#: Phases in which the strategy for the liver is still being set.
BEFORE_LIVER_TREATMENT = frozenset(
    {Phase.workup, Phase.preoperative_therapy, Phase.conversion, Phase.after_pve}
)


@dataclass(frozen=True)
class PhaseResult:
    """The phase and the facts that put the patient there (``assumed``: no history recorded)."""

    phase: Phase
    reasons: tuple[str, ...]
    assumed: bool = False
    missing: tuple[str, ...] = ()


def _is_first_stage(event: TreatmentEvent) -> bool:
    return event.hepatectomy_stage == 1


def _is_definitive_liver(event: TreatmentEvent) -> bool:
    if event.kind == TreatmentKind.ablation:
        return True
    return event.kind in (TreatmentKind.hepatectomy, TreatmentKind.alpps) and (
        event.hepatectomy_stage != 1)


def _recurrence_phase(recurrence: TreatmentEvent) -> PhaseResult:
    """A recurrence after curative-intent liver treatment: a new work-up when the liver is
    involved (or the site is not recorded, which is said), else a recurrence outside the liver."""
    sites = recurrence.recurrence_sites or []
    if not sites:
        return PhaseResult(Phase.workup, ("recurrence after curative-intent treatment, site not "
                                          "recorded",), missing=("treatments.recurrence_sites",))
    where = ", ".join(site.value.replace("_", " ") for site in sites)
    if RecurrenceSite.liver in sites:
        return PhaseResult(Phase.workup, (f"recurrence after curative-intent treatment ({where})",))
    return PhaseResult(Phase.extrahepatic_recurrence, (
        f"recurrence outside the liver after curative-intent treatment ({where})",))


def current_phase(patient: Patient, timeline: Timeline) -> PhaseResult:
    """The patient's phase on the assessment date."""
    events = timeline.events
    liver = [e for e in events if e.kind in (
        TreatmentKind.hepatectomy, TreatmentKind.alpps, TreatmentKind.ablation, TreatmentKind.pve)]
    last_liver = liver[-1] if liver else None
    recurrence = timeline.last(TreatmentKind.recurrence)
    definitive = [e for e in liver if _is_definitive_liver(e)]
    if patient.liver.prior_two_stage_hepatectomy is True and patient.liver.intrahepatic_progression:
        return PhaseResult(Phase.workup, ("intrahepatic progression after two-stage "
                                          "hepatectomy",))
    if definitive and last_liver is not None and _is_definitive_liver(last_liver):
        if recurrence is not None and (recurrence.date is None or last_liver.date is None
                                       or recurrence.date >= last_liver.date):
            return _recurrence_phase(recurrence)
        primary_done = timeline.primary_resected or patient.primary.resected is True
        if not primary_done:
            missing = ("primary.resected",) if patient.primary.resected is None and not (
                timeline.primary_resected) else ()
            if patient.primary.clinical_complete_response is True:
                return PhaseResult(Phase.surveillance, (
                    "liver metastases treated; primary in complete clinical response "
                    "(watch-and-wait)",))
            return PhaseResult(Phase.primary_pending, (
                "liver metastases treated; primary tumour not resected",), missing=missing)
        return PhaseResult(Phase.surveillance, ("liver metastases and primary treated",))
    if last_liver is not None and last_liver.kind in (
            TreatmentKind.hepatectomy, TreatmentKind.alpps) and _is_first_stage(last_liver):
        return PhaseResult(Phase.between_stages, ("first stage of a two-stage hepatectomy done",))
    if last_liver is not None and last_liver.kind == TreatmentKind.pve:
        if any(_is_first_stage(e) for e in liver):
            return PhaseResult(Phase.between_stages, (
                "first stage done, portal vein embolization after it",))
        return PhaseResult(Phase.after_pve, ("portal vein embolization done, hepatectomy not "
                                             "yet",))
    exposure = timeline.preoperative
    if patient.liver.resectability == Resectability.unresectable or (
            exposure.intent == TherapyIntent.conversion):
        return PhaseResult(Phase.conversion, ("liver metastases unresectable"
                                              if patient.liver.resectability
                                              == Resectability.unresectable
                                              else "systemic therapy given with conversion "
                                              "intent",))
    if exposure.given:
        return PhaseResult(Phase.preoperative_therapy, ("systemic therapy given, no liver "
                                                        "treatment yet",))
    if not timeline.recorded:
        return PhaseResult(Phase.workup, ("no treatment history recorded",), assumed=True,
                           missing=("treatments",))
    if timeline.primary_resected or patient.primary.resected is True:  # metachronous, often
        return PhaseResult(Phase.workup, ("primary tumour resected; no treatment of the liver "
                                          "metastases yet",))
    return PhaseResult(Phase.workup, ("no treatment given yet",))
