"""Imaging advice (AHPBA guideline 2025): MRI for detection, CT for staging, PET selectively,
volumetry."""

from __future__ import annotations

from collections.abc import Iterator

from crlm.clinical.phase import BEFORE_LIVER_TREATMENT, Phase
from crlm.clinical.rules._facts import fmt
from crlm.clinical.rules.base import Findings, Strength
from crlm.clinical.rules.registry import Item, rule
from crlm.domain import Patient
from crlm.domain.patient import HepatectomyProcedure

TOPIC = "imaging"

#: Lesions under 1 cm are where MRI (hepatobiliary contrast + DWI) outperforms CT and PET.
SMALL_LESION_BELOW_CM = 1.0
#: Resections of the right liver or more: volumetry considered / routine (AHPBA guideline 2025).
VOLUMETRY_PROCEDURES = frozenset(
    {
        HepatectomyProcedure.right_hepatectomy,
        HepatectomyProcedure.extended_right_hepatectomy,
        HepatectomyProcedure.extended_left_hepatectomy,
    }
)


@rule(
    topic=TOPIC,
    codes=["imaging.mri_liver"],
    trigger="every patient (emphasised for lesions < 1 cm or after chemotherapy)",
    evidence=["ahpba2025", "adams2013"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.conversion),
)
def mri_liver(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Liver MRI with hepatobiliary contrast and DWI for lesion detection."""
    reasons: list[str] = []
    small = [les.diameter_cm for les in patient.liver.lesions or []
             if les.diameter_cm is not None and les.diameter_cm < SMALL_LESION_BELOW_CM]
    if small:
        reasons.append(f"{len(small)} lesion(s) < {fmt(SMALL_LESION_BELOW_CM)} cm")
    cycles = patient.chemotherapy.prehepatectomy_cycles
    if cycles:
        reasons.append(f"after {cycles} cycles of chemotherapy (steatosis, disappearing lesions)")
    why = "; ".join(reasons) if reasons else "lesion detection and characterisation"
    yield Item(
        code="imaging.mri_liver",
        recommendation="Liver MRI with hepatobiliary contrast and diffusion-weighted imaging "
        "before liver-directed treatment.",
        rationale=f"{why} → most sensitive modality (sensitivity MRI 93.1 % vs CT 82.1 % vs "
        "PET/CT 74.1 % in chemotherapy-naive patients), best for lesions < 1 cm and after "
        "chemotherapy, and for chemotherapy-associated liver injury (AHPBA guideline 2025).",
        strength=Strength.strong,
    )


@rule(
    topic=TOPIC,
    codes=["imaging.ct_staging"],
    trigger="every patient",
    evidence=["ahpba2025"],
    phases=(Phase.workup, Phase.preoperative_therapy, Phase.conversion,
            Phase.extrahepatic_recurrence),
)
def ct_staging(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Contrast CT chest/abdomen/pelvis for whole-body staging."""
    ehd = patient.extrahepatic_disease
    status = ("extrahepatic disease status not recorded" if ehd is None
              else "extrahepatic disease present" if ehd else "no known extrahepatic disease")
    yield Item(
        code="imaging.ct_staging",
        recommendation="Multiphase contrast CT of chest, abdomen and pelvis (2–4 mm slices) for "
        "staging and surgical planning.",
        rationale=f"{status} → CT is the standard one-session whole-body staging, with "
        "vascular reconstruction for planning (AHPBA guideline 2025).",
        strength=Strength.strong,
    )


@rule(
    topic=TOPIC,
    codes=["imaging.pet_selective"],
    trigger="every patient (PET only for indeterminate extrahepatic findings)",
    evidence=["ahpba2025", "moulton2014_pet"],
    phases=(Phase.workup, Phase.conversion, Phase.extrahepatic_recurrence),
)
def pet_selective(patient: Patient, findings: Findings) -> Iterator[Item]:
    """PET is not routine; use it for indeterminate (extrahepatic) lesions."""
    yield Item(
        code="imaging.pet_selective",
        recommendation="PET/CT only to characterise indeterminate (extrahepatic) lesions "
        "(≥ 8 mm), not routinely.",
        rationale="routine PET before liver resection did not change surgical management or "
        "survival in a randomised trial (Moulton 2014); PET/CT has the lowest sensitivity for "
        "CRLM (AHPBA guideline 2025).",
        strength=Strength.strong,
        kind="information",
    )


@rule(
    topic=TOPIC,
    codes=["imaging.volumetry"],
    trigger=("right hepatectomy or more extensive resection planned, or a major hepatectomy, "
             "and the remnant not yet measured after portal vein embolization"),
    evidence=["ahpba2025", "vauthey2002"],
    phases=BEFORE_LIVER_TREATMENT | {Phase.between_stages},
)
def volumetry(patient: Patient, findings: Findings) -> Iterator[Item]:
    """CT volumetry of the future liver remnant before right hepatectomy or more — unless the
    remnant was measured after portal vein embolization: that is the measurement the remnant
    rules judge, and nothing is left to repeat. (A remnant measured at work-up is measured
    again after chemotherapy, which changes its threshold.)"""
    planned = [p.value for p in patient.liver.planned_procedures or []
               if p in VOLUMETRY_PROCEDURES]
    if not planned and findings.major_hepatectomy is not True:
        return
    if patient.volumetry.flr_volume_after_pve_ml is not None:
        return
    what = ", ".join(planned) if planned else "major hepatectomy"
    done = (f"; standardized FLR {findings.flr_percent:.1f} % at the last measurement"
            if findings.flr_percent is not None else "")
    yield Item(
        code="imaging.volumetry",
        recommendation="CT volumetry of the future liver remnant (standardized to body surface "
        "area); repeat 3–4 weeks after any portal vein embolization.",
        rationale=f"{what} planned{done} → the right liver is on average 65 % of the total "
        "liver volume, so volumetry is needed for right-sided and more extensive resections, "
        "particularly after chemotherapy (AHPBA guideline 2025).",
        strength=Strength.strong,
    )
