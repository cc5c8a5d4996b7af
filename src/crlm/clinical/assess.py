"""``assess(patient)``: every score, volumetry, complexity grade and advice for one patient."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crlm import __version__
from crlm.clinical.classify import ComplexityResult, hepatectomy_complexity
from crlm.clinical.rules import evaluate_rules
from crlm.clinical.rules.base import Advice, Findings
from crlm.clinical.scores import (
    ContourModel,
    MolecularProfile,
    ScoreResult,
    all_scores,
    molecular_risk_profile,
)
from crlm.clinical.volumetry import BsaMethod, TlvFormula, VolumetryResult, assess_volumetry
from crlm.domain import Patient


class Assessment(BaseModel):
    """The structured MDT assessment (Assessment JSON of DESIGN.md, extended)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: str | None
    crlm_version: str = __version__
    scores: dict[str, ScoreResult]
    molecular_profile: MolecularProfile
    volumetry: VolumetryResult
    complexity_grade: Literal["I", "II", "III"] | None
    complexity: ComplexityResult | None
    advice: list[Advice]
    warnings: list[Advice]
    evidence: list[str] = Field(description="Every evidence key cited in this assessment.")


def assess(
    patient: Patient,
    *,
    contour_model: ContourModel | None = None,
    bsa_method: BsaMethod = "mosteller",
    tlv_formula: TlvFormula = "bsa",
) -> Assessment:
    """Run every score, volumetry, the complexity grade and all decision rules."""
    scores = all_scores(patient, contour_model)
    volumetry = assess_volumetry(patient, bsa_method=bsa_method, tlv_formula=tlv_formula)
    planned = patient.liver.planned_procedures
    complexity = hepatectomy_complexity(planned) if planned else None
    tbs = scores["tumor_burden_score"].value
    findings = Findings(
        complexity_grade=complexity.grade if complexity else None,
        major_hepatectomy=complexity.major_hepatectomy if complexity else None,
        flr_percent=(volumetry.flr_after_pve_percent if volumetry.flr_after_pve_percent
                     is not None else volumetry.flr_percent),
        flr_threshold_percent=volumetry.flr_threshold_percent,
        flr_adequate=volumetry.flr_adequate,
        kinetic_growth_rate_percent_per_week=volumetry.kinetic_growth_rate_percent_per_week,
        tumour_burden_score=float(tbs) if tbs is not None else None,
        scores={name: s.model_dump() for name, s in scores.items()},
    )
    items = evaluate_rules(patient, findings)
    advice = [a for a in items if a.kind != "warning"]
    warnings = [a for a in items if a.kind == "warning"]
    molecular = molecular_risk_profile(patient)
    keys: set[str] = set(volumetry.evidence) | set(molecular.evidence)
    for s in scores.values():
        keys |= set(s.evidence)
    for a in items:
        keys |= set(a.evidence)
    if complexity:
        keys |= set(complexity.evidence)
    return Assessment(
        patient_id=patient.id,
        scores=scores,
        molecular_profile=molecular,
        volumetry=volumetry,
        complexity_grade=complexity.grade if complexity else None,
        complexity=complexity,
        advice=advice,
        warnings=warnings,
        evidence=sorted(keys),
    )
