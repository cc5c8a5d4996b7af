"""Locally advanced rectal primary with synchronous liver metastases: liver-first approach (LFA)
vs M1 schedule (the Dutch LFA vs M1 study), and where Maki 2023a disagrees about symptomatic
primaries."""

from __future__ import annotations

from collections.abc import Iterator

from crlm.clinical.phase import Phase
from crlm.clinical.rules._facts import has_symptom, is_synchronous_rectal, primary_in_place
from crlm.clinical.rules.base import Findings, Strength
from crlm.clinical.rules.registry import Item, rule
from crlm.domain import Patient
from crlm.domain.patient import Symptom

TOPIC = "schedule"

#: Symptoms the Dutch LFA vs M1 study names for upfront short-course radiotherapy ("bleeding and
#: obstructive").
M1_SYMPTOMS = (Symptom.bleeding, Symptom.obstruction)

#: The Dutch LFA vs M1 study facts every schedule item carries.
SCHEDULE_FACTS = {
    "simultaneous_resection_major_liver_complications_m1_percent": 33,
    "staged_resection_total_complications_lfa_percent": 16,
    "treatment_duration_weeks_median": {"LFA": 44.0, "M1": 35.9},
    "liver_first_precludes_simultaneous_resection": True,
}
FACTS_TEXT = (
    "Liver-first precludes simultaneous resection of both sites; within M1, simultaneous "
    "resection carried 33 % major liver complications (vs 16 % in total for staged LFA "
    "resections); completed schedules took 44.0 (LFA) vs 35.9 (M1) weeks; overall and "
    "progression-free survival did not differ (the Dutch LFA vs M1 study)."
)


def _larc(patient: Patient, findings: Findings) -> bool | None:
    """Synchronous rectal primary in place that is locally advanced (None = unknown)."""
    if is_synchronous_rectal(patient) is not True or primary_in_place(patient, findings) is False:
        return False
    if primary_in_place(patient, findings) is None:
        return None if patient.primary.locally_advanced is not False else False
    return patient.primary.locally_advanced


def _symptomatic(patient: Patient) -> bool | None:
    return has_symptom(patient, *M1_SYMPTOMS)


def _symptom_names(patient: Patient) -> list[str]:
    return [s.value for s in patient.primary.symptoms or [] if s in M1_SYMPTOMS]


@rule(
    topic=TOPIC,
    codes=[
        "schedule.m1_option",
        "schedule.liver_first_option",
        "schedule.either_schedule",
        "schedule.undetermined",
    ],
    trigger=(
        "locally advanced synchronous rectal primary in place: bleeding/obstruction → M1 "
        "option; MDT-judged extensive liver disease → liver-first option (both when both); "
        "neither → either schedule; unknown inputs → what is missing"
    ),
    evidence=["dutch_lfa_m1"],
    phases=(Phase.workup,),
    excludes={
        "schedule.either_schedule": ["schedule.undetermined", "schedule.m1_option",
                                     "schedule.liver_first_option"],
        "schedule.undetermined": ["schedule.either_schedule"],
        "schedule.m1_option": ["schedule.either_schedule"],
        "schedule.liver_first_option": ["schedule.either_schedule"],
    },
    compatible=[("schedule.m1_option", "schedule.liver_first_option"),
                ("schedule.m1_option", "schedule.undetermined"),
                ("schedule.liver_first_option", "schedule.undetermined")],
)
def lfa_vs_m1(patient: Patient, findings: Findings) -> Iterator[Item]:
    """The Dutch LFA vs M1 study considerations for LFA vs M1 (both shown when both apply)."""
    larc = _larc(patient, findings)
    if larc is False:
        return
    if larc is None:
        yield Item(
            code="schedule.undetermined",
            recommendation=(
                "Cannot weigh liver-first vs M1 schedule: needs primary.locally_advanced."
            ),
            rationale=(
                "synchronous rectal primary, local stage not recorded; the Dutch LFA vs M1 study "
                "compares the "
                "schedules for locally advanced rectal cancer only."
            ),
            strength=Strength.information,
            kind="information",
            details={"missing": ["primary.locally_advanced"]},
        )
        return
    symptomatic = _symptomatic(patient)
    extensive = patient.liver.extensive_disease
    if symptomatic:
        yield Item(
            code="schedule.m1_option",
            recommendation=(
                "M1 schedule is an option: short-course radiotherapy (5 × 5 Gy) first for "
                "durable local control, then systemic therapy and surgery."
            ),
            rationale=(
                "symptomatic locally advanced rectal primary "
                f"({', '.join(_symptom_names(patient))}) → upfront short-course radiotherapy for "
                "local control, which may reduce the "
                "risk of an emergency stoma. " + FACTS_TEXT
            ),
            strength=Strength.weak,
            details=SCHEDULE_FACTS,
        )
    if extensive is True:
        yield Item(
            code="schedule.liver_first_option",
            recommendation=(
                "Liver-first approach is an option: induction chemotherapy and liver treatment "
                "first, long-course (chemo)radiotherapy and rectal resection afterwards."
            ),
            rationale=(
                "extensive liver disease (MDT judgement) → lower expected chance of completing "
                "the full schedule, so liver-first avoids futile radiotherapy and its morbidity. "
                + FACTS_TEXT
            ),
            strength=Strength.weak,
            details=SCHEDULE_FACTS,
        )
    missing: list[str] = []
    if symptomatic is None:
        missing.append("primary.symptoms")
    if extensive is None:
        missing.append("liver.extensive_disease")
    if missing:
        yield Item(
            code="schedule.undetermined",
            recommendation=(
                "Liver-first vs M1 considerations incomplete: needs " + " and ".join(missing) + "."
            ),
            rationale=(
                "the Dutch LFA vs M1 study favours M1 for bleeding/obstructing primaries and "
                "liver-first for "
                "extensive liver disease (no numeric cut-off given). " + FACTS_TEXT
            ),
            strength=Strength.information,
            kind="information",
            details={"missing": missing, **SCHEDULE_FACTS},
        )
    elif symptomatic is False and extensive is False:
        yield Item(
            code="schedule.either_schedule",
            recommendation=(
                "Either liver-first or M1 schedule is reasonable; choose with the patient."
            ),
            rationale="no bleeding/obstruction and liver disease not extensive. " + FACTS_TEXT,
            strength=Strength.weak,
            details=SCHEDULE_FACTS,
        )


@rule(
    topic=TOPIC,
    codes=["schedule.sources_disagree"],
    trigger=(
        "locally advanced synchronous rectal primary in place with bleeding or obstruction "
        "(the Dutch LFA vs M1 study and Maki 2023a disagree about symptoms)"
    ),
    evidence=["dutch_lfa_m1", "maki2023_sequencing"],
    phases=(Phase.workup,),
)
def symptomatic_primary_disagreement(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Show both published options for a symptomatic primary, with their sources."""
    if _larc(patient, findings) is not True or not _symptomatic(patient):
        return
    yield Item(
        code="schedule.sources_disagree",
        recommendation=(
            "Sources disagree for a symptomatic primary: the Dutch LFA vs M1 study suggests "
            "short-course "
            "radiotherapy first (M1); Maki 2023a does not let symptoms change the sequence "
            "(reverse approach; divert only for obstruction or perforation)."
        ),
        rationale=(
            f"symptomatic rectal primary ({', '.join(_symptom_names(patient))}). The Dutch LFA vs "
            f"M1 study "
            "(Dutch LFA vs M1): upfront short-course radiotherapy gives durable local control "
            "and may reduce emergency stomas. Maki 2023a (MD Anderson): 225 of 258 patients "
            "(87 %) were symptomatic and pre-hepatectomy chemotherapy was given safely to 217 "
            "of 225, so its algorithm does not consider symptoms."
        ),
        strength=Strength.information,
        kind="disagreement",
        details={
            "options": [
                {"source": "dutch_lfa_m1", "option": "M1 schedule: short-course RT first"},
                {
                    "source": "maki2023_sequencing",
                    "option": "reverse approach regardless of symptoms; diversion only for "
                    "obstruction/perforation",
                },
            ]
        },
    )
