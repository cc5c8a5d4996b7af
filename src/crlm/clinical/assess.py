"""``assess(patient)``: every score, volumetry, complexity grade and advice for one patient."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crlm import __version__
from crlm.clinical.classify import ComplexityResult, hepatectomy_complexity
from crlm.clinical.phase import Phase, current_phase
from crlm.clinical.plan import KeyNumber, Plan, build_plan
from crlm.clinical.rules import evaluate_rules
from crlm.clinical.rules.base import Advice, Findings
from crlm.clinical.scores import (
    ContourModel,
    MolecularProfile,
    ScoreResult,
    all_scores,
    molecular_risk_profile,
)
from crlm.clinical.timeline import SystemicExposure, build_timeline
from crlm.clinical.volumetry import BsaMethod, TlvFormula, VolumetryResult, assess_volumetry
from crlm.domain import Patient
from crlm.evidence import resolve


class Assessment(BaseModel):
    """The structured MDT assessment (Assessment JSON of DESIGN.md, extended)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: str | None
    crlm_version: str = __version__
    phase: Phase
    plan: Plan
    scores: dict[str, ScoreResult]
    molecular_profile: MolecularProfile
    volumetry: VolumetryResult
    complexity_grade: Literal["I", "II", "III"] | None
    complexity: ComplexityResult | None
    advice: list[Advice]
    warnings: list[Advice]
    evidence: list[str] = Field(description="Every evidence key cited in this assessment.")


class _ScoreDumps(Mapping[str, Mapping[str, Any]]):
    """``Findings.scores``: each score as a plain dict, dumped when a rule first reads it (most
    rules read none, one reads the Fong score)."""

    def __init__(self, scores: Mapping[str, ScoreResult]) -> None:
        self._scores = scores
        self._dumped: dict[str, dict[str, Any]] = {}

    def __getitem__(self, name: str) -> dict[str, Any]:
        dumped = self._dumped.get(name)
        if dumped is None:
            dumped = self._dumped[name] = self._scores[name].model_dump()
        return dumped

    def __iter__(self) -> Iterator[str]:
        return iter(self._scores)

    def __len__(self) -> int:
        return len(self._scores)


def _key_numbers(scores: dict[str, ScoreResult], volumetry: VolumetryResult,
                 complexity: ComplexityResult | None, exposure: SystemicExposure,
                 ) -> list[KeyNumber]:
    """The few numbers that drive the plan: Fong score, complexity grade, FLR, growth, chemo."""
    out: list[KeyNumber] = []
    fong = scores["fong_crs"]
    if fong.value is not None:
        out.append(KeyNumber(name="fong_crs", value=float(fong.value),
                             note=f"{fong.risk_group} risk" if fong.risk_group else None))
    elif fong.range is not None:
        out.append(KeyNumber(name="fong_crs", value=f"{fong.range[0]}–{fong.range[1]}",
                             note="inputs missing"))
    if complexity is not None:
        out.append(KeyNumber(name="complexity_grade", value=complexity.grade))
    current = (volumetry.flr_after_pve_percent if volumetry.flr_after_pve_percent is not None
               else volumetry.flr_percent)
    if current is not None:
        out.append(KeyNumber(name="flr_percent", value=current, unit="%",
                             note=(f"threshold {volumetry.flr_threshold_percent:g} %"
                                   if volumetry.flr_threshold_percent is not None
                                   else "threshold undetermined")))
    if volumetry.kinetic_growth_rate_percent_per_week is not None:
        out.append(KeyNumber(name="kinetic_growth_rate",
                             value=volumetry.kinetic_growth_rate_percent_per_week,
                             unit="%/week"))
    if exposure.given and exposure.weeks is not None:
        out.append(KeyNumber(name="chemotherapy_weeks", value=exposure.weeks, unit="weeks",
                             note=f"{exposure.cycles} cycles" if exposure.cycles else None))
    return out


def assess(
    patient: Patient,
    *,
    contour_model: ContourModel | None = None,
    bsa_method: BsaMethod = "mosteller",
    tlv_formula: TlvFormula = "bsa",
) -> Assessment:
    """Timeline → phase → scores and volumetry → rules → plan, for one patient."""
    timeline = build_timeline(patient)
    phase = current_phase(patient, timeline)
    scores = all_scores(patient, contour_model)
    volumetry = assess_volumetry(patient, bsa_method=bsa_method, tlv_formula=tlv_formula,
                                 exposure=timeline.preoperative)
    planned = patient.liver.planned_procedures
    complexity = hepatectomy_complexity(planned) if planned else None
    tbs = scores["tumor_burden_score"].value
    findings = Findings(
        phase=phase.phase,
        timeline=timeline,
        complexity_grade=complexity.grade if complexity else None,
        major_hepatectomy=complexity.major_hepatectomy if complexity else None,
        flr_percent=(volumetry.flr_after_pve_percent if volumetry.flr_after_pve_percent
                     is not None else volumetry.flr_percent),
        flr_threshold_percent=volumetry.flr_threshold_percent,
        flr_adequate=volumetry.flr_adequate,
        flr_threshold_missing=tuple(m for m in volumetry.missing if m not in {
            "height_cm", "weight_kg", "volumetry.flr_volume_ml"}),
        kinetic_growth_rate_percent_per_week=volumetry.kinetic_growth_rate_percent_per_week,
        tumour_burden_score=float(tbs) if tbs is not None else None,
        scores=_ScoreDumps(scores),
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
    plan = build_plan(items, phase, timeline, _key_numbers(scores, volumetry, complexity,
                                                          timeline.preoperative))
    return Assessment(
        patient_id=patient.id,
        phase=phase.phase,
        plan=plan,
        scores=scores,
        molecular_profile=molecular,
        volumetry=volumetry,
        complexity_grade=complexity.grade if complexity else None,
        complexity=complexity,
        advice=advice,
        warnings=warnings,
        evidence=sorted(keys, key=lambda k: (resolve(k).short.casefold(), k)),
    )
