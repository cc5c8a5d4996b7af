"""Sequencing for synchronous liver metastases from rectal cancer (MD Anderson algorithm,
Maki 2023a Fig. 4 and discussion; MDA chemotherapy standard from Maki 2023b)."""

from __future__ import annotations

from collections.abc import Iterator

from crlm.clinical.phase import BEFORE_LIVER_TREATMENT, Phase
from crlm.clinical.rules._facts import (
    UPPER_RECTUM_ABOVE_CM,
    fmt,
    has_symptom,
    hepatectomy_text,
    is_mutant,
    is_synchronous_rectal,
    primary_in_place,
    ras_text,
    rectal_complexity,
)
from crlm.clinical.rules.base import Findings, Strength
from crlm.clinical.rules.registry import Item, rule
from crlm.domain import Patient
from crlm.domain.patient import Mutation, PrimarySite, Symptom, Timing
from crlm.domain.treatment import TreatmentKind

TOPIC = "sequencing"

#: > 8 pre-hepatectomy cycles: HR 1.94 (1.29–2.94) for OS, Maki 2023a Table 2.
MAX_PREHEPATECTOMY_CYCLES = 8
#: Largest liver metastasis > 5 cm: HR 1.83 (1.07–3.13) for OS, Maki 2023a Table 2.
LARGEST_DIAMETER_ADVERSE_ABOVE_CM = 5.0

REVERSE_STEPS = (
    "systemic chemotherapy: MD Anderson standard FOLFOX + bevacizumab for 8–12 weeks",
    "hepatectomy 5–6 weeks after the last chemotherapy dose",
    "short-course radiotherapy to the rectal primary",
    "primary tumour resection (or watch-and-wait after a complete clinical response)",
)


#: Phases in which the order of primary and liver surgery is still open.
SEQUENCING_PHASES = (Phase.workup, Phase.preoperative_therapy)


def applies(patient: Patient, findings: Findings) -> bool | None:
    """Sequencing is discussed for a synchronous rectal primary still in place (None: unknown)."""
    synchronous_rectal = is_synchronous_rectal(patient)
    in_place = primary_in_place(patient, findings)
    if synchronous_rectal is False or in_place is False:
        return False
    if synchronous_rectal is None or in_place is None:
        return None
    return True


def applicability_missing(patient: Patient, findings: Findings) -> list[str]:
    """The fields that would settle whether sequencing applies."""
    missing = []
    if patient.primary.site is None:
        missing.append("primary.site")
    if patient.liver.timing is None:
        missing.append("liver.timing")
    if primary_in_place(patient, findings) is None:
        missing.append("primary.resected")
    return missing


def sequencing_decision(patient: Patient, findings: Findings) -> str | None:
    """``combined`` or ``reverse`` for a synchronous rectal primary in place (Maki 2023a);
    None when sequencing does not apply or cannot be decided. The one definition every rule
    that speaks of combining the resections uses."""
    if applies(patient, findings) is not True:
        return None
    rectal = rectal_complexity(patient)
    if findings.complexity_grade == "III" or rectal.complex is True:
        return "reverse"
    if findings.complexity_grade in ("I", "II") and rectal.complex is False:
        return "combined"
    return None


@rule(
    topic=TOPIC,
    codes=["sequencing.diversion_first"],
    trigger="synchronous rectal primary in place with obstruction or perforation",
    evidence=["maki2023_sequencing"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.conversion),
)
def diversion_first(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Obstruction or perforation: diversion/stent first, then referral to an MDT centre."""
    if applies(patient, findings) is not True or not has_symptom(
            patient, Symptom.obstruction, Symptom.perforation):
        return
    present = [s.value for s in patient.primary.symptoms or []
               if s in (Symptom.obstruction, Symptom.perforation)]
    yield Item(
        code="sequencing.diversion_first",
        recommendation=(
            "Divert (or stent) the obstructing/perforated rectal primary at the first institution "
            "and refer to a centre with a liver–colorectal multidisciplinary team."
        ),
        rationale=(
            f"rectal primary with {', '.join(present)} → diversion first (Maki 2023a Fig. 4); "
            "pre-hepatectomy chemotherapy was then given to 25 of 26 obstructed and 5 of 6 "
            "perforated patients in Maki 2023a."
        ),
        strength=Strength.moderate,
        details={"symptoms": present},
    )


@rule(
    topic=TOPIC,
    codes=["sequencing.classic"],
    trigger=(
        "synchronous rectal primary in place that is an easily resectable upper rectal tumour "
        f"(> {fmt(UPPER_RECTUM_ABOVE_CM)} cm from the anal verge, not judged otherwise) with "
        "obstruction or perforation, or a patient who cannot accept chemotherapy without "
        "rectal resection"
    ),
    evidence=["maki2023_sequencing"],
    phases=(Phase.workup,),
)
def classic_option(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Classic (primary-first) approach, selectively (Maki 2023a discussion)."""
    if applies(patient, findings) is not True:
        return
    prim = patient.primary
    reasons: list[str] = []
    distance = prim.distance_from_anal_verge_cm
    if (
        has_symptom(patient, Symptom.obstruction, Symptom.perforation)
        and distance is not None
        and distance > UPPER_RECTUM_ABOVE_CM
        and prim.easily_resectable is True
    ):
        reasons.append(
            f"upper rectal tumour {fmt(distance)} cm from the anal verge "
            f"(> {fmt(UPPER_RECTUM_ABOVE_CM)} cm) with obstruction/perforation"
        )
    if prim.declines_chemotherapy_before_resection is True:
        reasons.append("patient cannot accept chemotherapy without rectal resection")
    if not reasons:
        return
    yield Item(
        code="sequencing.classic",
        recommendation=(
            "The classic approach (primary resection first, then chemotherapy and hepatectomy) "
            "is an option for this patient."
        ),
        rationale="; ".join(reasons)
        + " → classic approach selectively (Maki 2023a; its use fell from 37 % to 17 %).",
        strength=Strength.weak,
        details={"reasons": reasons},
    )


@rule(
    topic=TOPIC,
    codes=["sequencing.combined", "sequencing.reverse", "sequencing.undetermined",
           "sequencing.applicability_undetermined"],
    trigger=(
        "synchronous rectal primary in place: combined only when the hepatectomy is grade I/II "
        "and the rectal resection is not complex (LAR with diversion, APR, or with no planned "
        f"procedure a tumour ≤ {fmt(UPPER_RECTUM_ABOVE_CM)} cm from the anal verge); grade III "
        "or complex rectal resection → reverse; otherwise state what is missing"
    ),
    evidence=["maki2023_sequencing", "maki2023_locoregional", "shubert2015",
              "kawaguchi2020_complexity"],
    phases=SEQUENCING_PHASES,
    excludes={
        "sequencing.combined": ["sequencing.reverse", "sequencing.undetermined",
                                "resection.staged", "sequencing.applicability_undetermined"],
        "sequencing.reverse": ["sequencing.combined", "sequencing.undetermined",
                               "resection.simultaneous_reasonable", "resection.upfront_surgery",
                               "sequencing.applicability_undetermined"],
        "sequencing.undetermined": ["sequencing.combined", "sequencing.reverse",
                                    "sequencing.applicability_undetermined"],
        "sequencing.applicability_undetermined": ["sequencing.combined", "sequencing.reverse",
                                                  "sequencing.undetermined"],
    },
)
def combined_or_reverse(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Combined resection only when both resections are low-risk; otherwise reverse."""
    applicable = applies(patient, findings)
    if applicable is None:
        missing = applicability_missing(patient, findings)
        relevant = (patient.primary.site in (None, PrimarySite.rectum)
                    and patient.liver.timing in (None, Timing.synchronous)
                    and (patient.primary.site is not None or patient.liver.timing is not None
                         or has_symptom(patient, Symptom.obstruction, Symptom.perforation)))
        if relevant:
            yield Item(
                code="sequencing.applicability_undetermined",
                recommendation="Cannot decide the order of rectal and liver surgery: needs "
                + " and ".join(missing) + ".",
                rationale="Maki 2023a's sequencing algorithm applies to synchronous liver "
                "metastases from a rectal primary that is still in place.",
                strength=Strength.information,
                kind="information",
                evidence=("maki2023_sequencing",),
                details={"missing": missing},
            )
        return
    if not applicable:
        return
    grade = findings.complexity_grade
    liver_txt = hepatectomy_text(patient, grade)
    rectal = rectal_complexity(patient)
    details = {
        "complexity_grade": grade,
        "planned_procedures": [p.value for p in patient.liver.planned_procedures or []],
        "complex_rectal_resection": rectal.complex,
    }
    against: list[str] = []
    if grade == "III":
        against.append(f"{liver_txt} → combined resection not advised (grade III never combined)")
    if rectal.complex is True:
        against.append(f"{rectal.reason} → combined resection not advised")
    if against:
        yield Item(
            code="sequencing.reverse",
            recommendation=(
                "Reverse approach: chemotherapy, hepatectomy, short-course radiotherapy, then "
                "primary resection."
            ),
            rationale=(
                "; ".join(against)
                + ". In Maki 2023a the reverse approach gave survival similar to the combined and "
                "classic approaches (median 4.9 vs 5.6 vs 4.7 years) although 35 % did not undergo "
                "primary resection (mostly because of progression), and 82 % of those never "
                "needed a diversion."
            ),
            strength=Strength.moderate,
            evidence=("maki2023_sequencing", "maki2023_locoregional", "shubert2015",
                      "kawaguchi2020_complexity"),
            details={**details, "steps": list(REVERSE_STEPS)},
        )
        return
    if grade in ("I", "II") and rectal.complex is False:
        yield Item(
            code="sequencing.combined",
            recommendation=(
                "Combined (simultaneous) hepatectomy and rectal resection is acceptable: both "
                "resections are low-risk."
            ),
            rationale=(
                f"{liver_txt} and {rectal.reason} → both low-risk, combined resection allowed "
                "(88 % of combined resections in Maki 2023a were minor liver resections)."
            ),
            strength=Strength.moderate,
            evidence=("maki2023_sequencing", "shubert2015", "kawaguchi2020_complexity"),
            details=details,
        )
        return
    missing: list[str] = []
    if grade is None:
        missing.append("hepatectomy complexity grade (liver.planned_procedures)")
    if rectal.complex is None:
        missing.append("primary.planned_procedure or primary.distance_from_anal_verge_cm")
    yield Item(
        code="sequencing.undetermined",
        recommendation=(
            "Cannot decide between combined and reverse approach: needs "
            + " and ".join(missing) + "."
        ),
        rationale=(
            f"{liver_txt}; {rectal.reason}. Combined resection is allowed only when both "
            "resections are known to be low-risk; otherwise the reverse approach applies."
        ),
        strength=Strength.information,
        kind="information",
        evidence=("maki2023_sequencing",),
        details={**details, "missing": missing},
    )


@rule(
    topic=TOPIC,
    codes=["sequencing.watch_and_wait_option"],
    trigger="synchronous rectal primary in place with a complete clinical response",
    evidence=["maki2023_sequencing", "dutch_lfa_m1"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.primary_pending),
)
def watch_and_wait(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Complete clinical response of the primary → organ preservation may be discussed."""
    if applies(patient, findings) is not True or (
            patient.primary.clinical_complete_response is not True):
        return
    yield Item(
        code="sequencing.watch_and_wait_option",
        recommendation=(
            "Discuss watch-and-wait (organ preservation) for the rectal primary instead of "
            "resection."
        ),
        rationale=(
            "complete clinical response of the rectal primary → watch-and-wait is an option; "
            "in Maki 2023a complete response was the reason for omitting primary resection in 6 % "
            "of incomplete reverse-approach patients, and the Dutch LFA vs M1 study calls "
            "watch-and-wait safe in "
            "stage IV rectal cancer with a (near) complete response."
        ),
        strength=Strength.weak,
    )


@rule(
    topic=TOPIC,
    codes=["warning.ras_tp53_comutation"],
    trigger="RAS (KRAS or NRAS) mutant and TP53 mutant",
    evidence=["maki2023_sequencing", "lillemoe2020", "maki2023_locoregional"],
    phases=BEFORE_LIVER_TREATMENT | {Phase.between_stages},
)
def ras_tp53_comutation(patient: Patient, findings: Findings) -> Iterator[Item]:
    """RAS/TP53 co-mutation: aggressive biology; lower completion of the reverse approach."""
    if not (patient.molecular.ras == Mutation.mutant and is_mutant(patient.molecular.tp53)):
        return
    yield Item(
        code="warning.ras_tp53_comutation",
        recommendation=(
            "RAS/TP53 co-mutation: expect a lower chance of completing the reverse approach and "
            "worse survival; weigh the extent of surgery accordingly."
        ),
        rationale=(
            f"{ras_text(patient)} and TP53 mutant → co-mutation; in Maki 2023a it was the only "
            "independent factor for not completing the reverse approach (OR 0.16, 95 % CI "
            "0.038–0.64, p = 0.010)."
        ),
        strength=Strength.moderate,
        kind="warning",
        details={"odds_ratio_completion": 0.16, "ci95": [0.038, 0.64]},
    )


@rule(
    topic=TOPIC,
    codes=["warning.chemo_over_8_cycles"],
    trigger=f"more than {MAX_PREHEPATECTOMY_CYCLES} pre-hepatectomy chemotherapy cycles",
    evidence=["maki2023_sequencing"],
    phases=(Phase.preoperative_therapy, Phase.conversion, Phase.after_pve),
)
def chemo_over_8_cycles(patient: Patient, findings: Findings) -> Iterator[Item]:
    """> 8 cycles before hepatectomy: independently worse overall survival."""
    cycles = findings.timeline.preoperative.cycles
    if cycles is None or cycles <= MAX_PREHEPATECTOMY_CYCLES:
        return
    yield Item(
        code="warning.chemo_over_8_cycles",
        recommendation=(
            "More than 8 pre-hepatectomy cycles: proceed to hepatectomy without further "
            "prolonging chemotherapy where resectable."
        ),
        rationale=(
            f"{cycles} pre-hepatectomy cycles (> {MAX_PREHEPATECTOMY_CYCLES}) → independently "
            "worse overall survival in Maki 2023a (HR 1.94, 95 % CI 1.29–2.94, p = 0.002)."
        ),
        strength=Strength.moderate,
        kind="warning",
        details={"cycles": cycles, "hazard_ratio_os": 1.94, "ci95": [1.29, 2.94]},
    )


@rule(
    topic=TOPIC,
    codes=["warning.largest_over_5cm"],
    trigger=f"largest liver metastasis > {fmt(LARGEST_DIAMETER_ADVERSE_ABOVE_CM)} cm",
    evidence=["maki2023_sequencing"],
    phases=BEFORE_LIVER_TREATMENT,
)
def largest_over_5cm(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Largest metastasis > 5 cm: independently worse overall survival (Maki 2023a)."""
    largest = patient.liver.largest_cm
    if largest is None or largest <= LARGEST_DIAMETER_ADVERSE_ABOVE_CM:
        return
    yield Item(
        code="warning.largest_over_5cm",
        recommendation="Largest liver metastasis over 5 cm: an independent adverse factor.",
        rationale=(
            f"largest metastasis {fmt(largest)} cm (> {fmt(LARGEST_DIAMETER_ADVERSE_ABOVE_CM)} "
            "cm) → worse overall survival in Maki 2023a (HR 1.83, 95 % CI 1.07–3.13, p = 0.027)."
        ),
        strength=Strength.moderate,
        kind="warning",
        details={"largest_cm": largest, "hazard_ratio_os": 1.83, "ci95": [1.07, 3.13]},
    )


@rule(
    topic=TOPIC,
    codes=["sequencing.complete_with_primary"],
    trigger=(
        "liver metastases treated, primary still in place: rectal → short-course radiotherapy "
        "(unless given) then primary resection, or watch-and-wait after a complete clinical "
        "response; colon → primary resection"
    ),
    evidence=["maki2023_sequencing"],
    phases=(Phase.primary_pending,),
)
def complete_with_primary(patient: Patient, findings: Findings) -> Iterator[Item]:
    """After the hepatectomy of a reverse approach: finish with the primary tumour."""
    hepatectomy = findings.timeline.last(TreatmentKind.hepatectomy, TreatmentKind.alpps,
                                         TreatmentKind.ablation)
    when = f" on {hepatectomy.date.isoformat()}" if hepatectomy and hepatectomy.date else ""
    if patient.primary.site == PrimarySite.rectum:
        radiotherapy = findings.timeline.radiotherapy_given
        action = ("Resect the rectal primary" if radiotherapy else
                  "Short-course radiotherapy to the rectal primary, then resect it")
        yield Item(
            code="sequencing.complete_with_primary",
            recommendation=action + " (watch-and-wait only after a complete clinical "
            "response).",
            rationale=f"liver metastases treated{when}; rectal primary still in place"
            + ("; pelvic radiotherapy already given" if radiotherapy else "")
            + " → the reverse approach ends with radiotherapy and primary resection "
            "(Maki 2023a: 35 % never had the primary resected, mostly because of progression).",
            strength=Strength.moderate,
        )
        return
    yield Item(
        code="sequencing.complete_with_primary",
        recommendation="Resect the primary tumour.",
        rationale=f"liver metastases treated{when}; primary tumour still in place.",
        strength=Strength.moderate,
    )
