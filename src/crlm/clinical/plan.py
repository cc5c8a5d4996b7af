"""The rules' advice → one plan: the next steps in order with their timing, the decision points
still open (each naming what is missing), the alternatives, and where sources disagree.

The plan refuses an assessment that holds two codes declared to exclude each other
(:class:`PlanContradiction`): no report can tell the surgeon two incompatible things. The plan
carries codes, numbers and missing field paths; renderers word them with the vocabulary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from crlm.clinical.phase import Phase, PhaseResult
from crlm.clinical.rules.base import Advice
from crlm.clinical.rules.registry import exclusions
from crlm.clinical.timeline import Timeline


class PlanContradiction(RuntimeError):  # noqa: N818  (names the clinical concept)
    """Two advice codes that exclude each other reached one assessment."""


class PlanStep(BaseModel):
    """One step of the plan, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str
    timing: str | None = None
    reason: str
    codes: list[str]
    evidence: list[str]
    preparatory: bool = Field(default=False, description="Staging, testing or imaging that "
                              "prepares the decision rather than being it.")


class PlanOption(BaseModel):
    """An alternative to the recommended path, with why and its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    option: str
    reason: str
    codes: list[str]
    evidence: list[str]


class DecisionPoint(BaseModel):
    """A decision the MDT cannot take yet, and what is missing for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str
    missing: list[str] = Field(description="Field paths (labelled by the vocabulary).")
    codes: list[str]
    evidence: list[str]


class Disagreement(BaseModel):
    """Where the sources disagree, stated as such."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statement: str
    reason: str
    codes: list[str]
    evidence: list[str]


class KeyNumber(BaseModel):
    """One of the few numbers that drive the plan (formatted by the vocabulary's rules)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: float | str | None
    unit: str | None = None
    note: str | None = None


class Plan(BaseModel):
    """One coherent plan for the patient's current phase."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phase: Phase
    phase_reasons: list[str]
    phase_assumed: bool = Field(description="No treatment history was recorded.")
    steps: list[PlanStep]
    decision_points: list[DecisionPoint]
    alternatives: list[PlanOption]
    disagreements: list[Disagreement]
    warnings: list[str] = Field(description="Codes of the warnings, in report order.")
    key_numbers: list[KeyNumber]


@dataclass(frozen=True)
class _Slot:
    rank: int
    timing: str | None = None


#: Where each advice code sits in the plan: a step (rank orders the steps), an alternative, or
#: a decision point (any "cannot decide" item with missing fields). Codes not listed here and
#: not information are steps ranked by topic.
STEP_SLOTS: dict[str, _Slot] = {
    "sequencing.diversion_first": _Slot(10, "now"),
    "systemic.molecular_testing_missing": _Slot(15, "before choosing systemic therapy"),
    "imaging.ct_staging": _Slot(20, "at work-up and at each restaging"),
    "imaging.mri_liver": _Slot(21, "at work-up and after chemotherapy"),
    "imaging.pet_selective": _Slot(22, "only if extrahepatic disease is indeterminate"),
    "imaging.volumetry": _Slot(23, "before a right hepatectomy or more"),
    "resection.fiducial_marker": _Slot(25, "before the first cycle"),
    "schedule.m1_option": _Slot(28),
    "resection.preoperative_chemotherapy": _Slot(30, "usually 8–12 weeks (MD Anderson: "
                                                     "FOLFOX + bevacizumab)"),
    "unresectable.conversion_chemotherapy": _Slot(30, "restage every 2–3 months"),
    "systemic.bevacizumab_first_choice": _Slot(31),
    "systemic.anti_egfr_candidate": _Slot(31),
    "systemic.pd1_blockade": _Slot(31),
    "systemic.braf_targeted": _Slot(31),
    "resection.restage_after_chemotherapy": _Slot(35, "now"),
    "resection.progression_on_chemotherapy": _Slot(35, "now"),
    "resection.hepatectomy_despite_progression": _Slot(50),
    "resection.pve_volumetry_pending": _Slot(35, "3–4 weeks after PVE"),
    "resection.pve_required": _Slot(40, "before hepatectomy; volumetry 3–4 weeks after"),
    "resection.two_stage": _Slot(45),
    "resection.flr_inadequate_after_pve": _Slot(46, "now"),
    "resection.slow_growth_after_pve": _Slot(46, "before setting the date of surgery"),
    "resection.upfront_surgery": _Slot(50),
    "resection.proceed_to_hepatectomy": _Slot(50, "5–6 weeks after the last dose"),
    "resection.flr_adequate_after_pve": _Slot(50),
    "sequencing.combined": _Slot(50),
    "resection.simultaneous_reasonable": _Slot(50),
    "resection.staged": _Slot(50),
    "resection.staging_individualised": _Slot(50),
    "resection.repeat_hepatectomy": _Slot(49),  # before the upfront-vs-chemotherapy step
    "resection.flr_adequate": _Slot(51),
    "resection.parenchymal_sparing": _Slot(52),
    "ablation.margin_5mm": _Slot(53),
    "ablation.margin_10mm": _Slot(53),
    "sequencing.complete_with_primary": _Slot(60, "after recovery from the liver treatment"),
    "surveillance.extrahepatic_recurrence": _Slot(30, "now"),
    "surveillance.standard": _Slot(90),
    "surveillance.intensive_beyond_2y": _Slot(90),
}

#: Codes that are options beside the recommended path (never the plan's own step).
ALTERNATIVE_CODES = frozenset({
    "sequencing.classic", "sequencing.watch_and_wait_option",
    "resection.completion_ablation_option", "schedule.liver_first_option",
    "schedule.either_schedule", "unresectable.hai_option", "transplant.consider_evaluation",
    "systemic.anti_her2_option",
})


#: Advice that is context for the MDT, not a step (stays in the supporting evidence).
CONTEXT_CODES = frozenset({"systemic.anti_egfr_not_indicated",
                           "transplant.oslo_score_components"})

#: The steps that can be the bottom line's "next step" (a treatment or the decision itself);
#: the others (staging, testing, technique, regimen details) support them.
HEADLINE_CODES = frozenset({
    "sequencing.diversion_first", "resection.preoperative_chemotherapy",
    "unresectable.conversion_chemotherapy", "resection.restage_after_chemotherapy",
    "resection.progression_on_chemotherapy", "resection.hepatectomy_despite_progression",
    "resection.pve_volumetry_pending",
    "resection.pve_required", "resection.two_stage", "resection.flr_inadequate_after_pve",
    "resection.slow_growth_after_pve", "resection.upfront_surgery",
    "resection.proceed_to_hepatectomy", "resection.flr_adequate_after_pve",
    "sequencing.combined", "sequencing.reverse", "resection.simultaneous_reasonable",
    "resection.staged", "resection.staging_individualised", "resection.repeat_hepatectomy",
    "sequencing.complete_with_primary", "surveillance.standard",
    "surveillance.extrahepatic_recurrence",
    "surveillance.intensive_beyond_2y",
})


def check_consistency(items: Sequence[Advice]) -> None:
    """Refuse two codes that exclude each other (raises :class:`PlanContradiction`)."""
    codes = {a.code for a in items}
    excluded = exclusions()
    for code in sorted(codes):
        clash = sorted(excluded.get(code, frozenset()) & codes)
        if clash:
            raise PlanContradiction(f"{code} excludes {', '.join(clash)}")


def _reverse_steps(item: Advice, last_dose: dt.date | None, chemotherapy_given: bool,
                   hepatectomy_step_elsewhere: bool) -> list[tuple[int, PlanStep]]:
    """The reverse approach's remaining steps (chemotherapy already given is not repeated)."""
    steps = item.details.get("steps") or []
    timings = ["8–12 weeks", "5–6 weeks after the last dose", "after recovery from "
               "hepatectomy", "after radiotherapy"]
    out = []
    for i, text in enumerate(steps):
        if (i == 0 and chemotherapy_given) or (i == 1 and hepatectomy_step_elsewhere):
            continue
        timing = timings[i] if i < len(timings) else None
        if i == 1 and last_dose is not None:
            timing += f" (from {last_dose + dt.timedelta(weeks=5)} to " \
                      f"{last_dose + dt.timedelta(weeks=6)})"
        reason = item.rationale if not out else "The reverse approach continues (Maki 2023a)."
        out.append((i, PlanStep(action=str(text)[0].upper() + str(text)[1:], timing=timing,
                                reason=reason, codes=[item.code], evidence=item.evidence)))
    return out


def _missing(item: Advice) -> list[str]:
    raw = item.details.get("missing")
    return [str(m) for m in raw] if isinstance(raw, list) else []


def build_plan(
    items: Sequence[Advice], phase: PhaseResult, timeline: Timeline,
    key_numbers: Sequence[KeyNumber],
) -> Plan:
    """Order the advice into one plan for the phase; refuse contradictions."""
    check_consistency(items)
    steps: list[tuple[int, int, PlanStep]] = []
    points: list[DecisionPoint] = []
    options: list[PlanOption] = []
    disagreements: list[Disagreement] = []
    warnings: list[str] = []
    last_dose = timeline.preoperative.last_dose if timeline.preoperative.given else None
    codes = {a.code for a in items}
    for index, item in enumerate(items):
        if item.code == "resection.preoperative_chemotherapy" and "sequencing.reverse" in codes:
            continue  # the reverse approach's first step is that chemotherapy
        if item.kind == "warning":
            warnings.append(item.code)
            continue
        if item.kind == "disagreement":
            disagreements.append(Disagreement(statement=item.recommendation,
                                              reason=item.rationale, codes=[item.code],
                                              evidence=item.evidence))
            continue
        missing = _missing(item)
        if item.kind == "information" and missing and item.code not in STEP_SLOTS:
            points.append(DecisionPoint(question=item.recommendation, missing=missing,
                                        codes=[item.code], evidence=item.evidence))
            continue
        if item.code in ALTERNATIVE_CODES or (item.code.endswith("_option")
                                               and item.code not in STEP_SLOTS):
            options.append(PlanOption(option=item.recommendation, reason=item.rationale,
                                      codes=[item.code], evidence=item.evidence))
            continue
        if (item.kind == "information" and item.code not in STEP_SLOTS) or (
                item.code in CONTEXT_CODES):
            continue  # context only: stays in the supporting evidence
        if item.code == "sequencing.reverse":
            remaining = _reverse_steps(item, last_dose, bool(timeline.preoperative.given),
                                       "resection.proceed_to_hepatectomy" in codes)
            for k, step in remaining:
                steps.append((30 + 20 * k, index, step))
            continue
        slot = STEP_SLOTS.get(item.code, _Slot(60))
        timing = slot.timing
        if item.code == "resection.proceed_to_hepatectomy" and last_dose is not None:
            timing = (f"5–6 weeks after the last dose (from {last_dose + dt.timedelta(weeks=5)} "
                      f"to {last_dose + dt.timedelta(weeks=6)})")
        steps.append((slot.rank, index, PlanStep(
            action=item.recommendation, timing=timing, reason=item.rationale,
            codes=[item.code], evidence=item.evidence,
            preparatory=item.code not in HEADLINE_CODES)))
    if phase.assumed:
        points.insert(0, DecisionPoint(
            question="No treatment history was recorded: the plan assumes the patient is "
            "treatment-naive. Record the timeline if treatment has started.",
            missing=list(phase.missing), codes=[], evidence=[]))
    elif phase.missing:
        points.insert(0, DecisionPoint(question="Where the patient is in treatment is not "
                                       "certain.", missing=list(phase.missing), codes=[],
                                       evidence=[]))
    ordered = [step for _, _, step in sorted(steps, key=lambda t: (t[0], t[1]))]
    return Plan(phase=phase.phase, phase_reasons=list(phase.reasons),
                phase_assumed=phase.assumed, steps=ordered, decision_points=points,
                alternatives=options, disagreements=disagreements, warnings=warnings,
                key_numbers=list(key_numbers))
