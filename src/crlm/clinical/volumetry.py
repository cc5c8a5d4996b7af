"""Liver volumetry (CLINICAL_SPEC §2): BSA, standardized TLV, sFLR, thresholds, PVE kinetics."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from crlm.clinical.formulas import BsaMethod, TlvFormula
from crlm.clinical.timeline import SystemicExposure, build_timeline
from crlm.domain import Patient
from crlm.domain.patient import LiverCondition
from crlm.evidence import cite

#: Minimum safe sFLR by liver condition (AHPBA guideline 2025): normal 20 %, after extensive
#: chemotherapy
#: (> 12 weeks) 30 %, cirrhosis 40 %.
FLR_THRESHOLD_PERCENT = {
    LiverCondition.normal: 20.0,
    LiverCondition.chemotherapy_injured: 30.0,
    LiverCondition.cirrhosis: 40.0,
}
EXTENSIVE_CHEMOTHERAPY_WEEKS = 12.0

#: Kinetic growth rate below which post-hepatectomy insufficiency is predicted.
KGR_THRESHOLDS = (
    (2.0, "shindoh2013", "KGR < 2.0 %/week: hepatic insufficiency 21.6 % vs 0 % (Shindoh 2013a)"),
    (2.66, "leung2014", "KGR < 2.66 %/week: predicts post-hepatectomy liver failure "
                        "(Leung 2014, as quoted by AHPBA guideline 2025)"),
)


def body_surface_area_m2(
    height_cm: float, weight_kg: float, method: BsaMethod = "mosteller"
) -> float:
    """BSA in m²: Mosteller √(height × weight / 3600) or DuBois 0.007184 · W^0.425 · H^0.725."""
    if method == "mosteller":
        return math.sqrt(height_cm * weight_kg / 3600.0)
    return 0.007184 * weight_kg**0.425 * height_cm**0.725


def standardized_total_liver_volume_ml(
    *, bsa_m2: float | None = None, weight_kg: float | None = None, formula: TlvFormula = "bsa"
) -> float:
    """sTLV (Vauthey 2002): −794.41 + 1267.28 × BSA, or 191.8 + 18.51 × weight (kg)."""
    if formula == "bsa":
        if bsa_m2 is None:
            raise ValueError("bsa_m2 is required for the BSA formula")
        return -794.41 + 1267.28 * bsa_m2
    if weight_kg is None:
        raise ValueError("weight_kg is required for the weight formula")
    return 191.8 + 18.51 * weight_kg


def standardized_flr_percent(flr_volume_ml: float, standardized_tlv_ml: float) -> float:
    """sFLR % = FLR volume / sTLV × 100."""
    return flr_volume_ml / standardized_tlv_ml * 100.0


def degree_of_hypertrophy_percent(sflr_before_percent: float, sflr_after_percent: float) -> float:
    """DH in percentage points: sFLR after PVE − sFLR before."""
    return sflr_after_percent - sflr_before_percent


def kinetic_growth_rate(degree_of_hypertrophy: float, weeks_after_pve: float) -> float:
    """KGR in %/week = DH / weeks since PVE (Shindoh 2013)."""
    if weeks_after_pve <= 0:
        raise ValueError("weeks_after_pve must be > 0")
    return degree_of_hypertrophy / weeks_after_pve


@dataclass(frozen=True)
class FlrThreshold:
    """The minimum safe sFLR for this patient (``percent`` None = undetermined, see missing)."""

    percent: float | None
    reason: str
    missing: tuple[str, ...] = ()


def extensive_chemotherapy(exposure: SystemicExposure) -> bool | None:
    """More than 12 weeks of preoperative chemotherapy (Shindoh 2013); None when unknown."""
    if exposure.given is False:
        return False
    if exposure.weeks is None:
        return None
    return exposure.weeks > EXTENSIVE_CHEMOTHERAPY_WEEKS


def _weeks_text(exposure: SystemicExposure) -> str:
    basis = f", {exposure.weeks_basis}" if exposure.weeks_basis else ""
    return f"{exposure.weeks:.1f} weeks of chemotherapy{basis}" if exposure.weeks else ""


def flr_threshold(condition: LiverCondition | None, exposure: SystemicExposure) -> FlrThreshold:
    """The one minimum safe sFLR used by volumetry, rules and warnings alike.

    Cirrhosis 40 %; chemotherapy-injured liver 30 %; more than 12 weeks of chemotherapy → 30 %
    whatever the recorded condition short of cirrhosis (Shindoh 2013); a normal liver after at
    most 12 weeks (or none) 20 %. An unknown condition, or a normal liver whose chemotherapy
    duration is unknown, leaves the threshold undetermined and names the missing field.
    """
    extensive = extensive_chemotherapy(exposure)
    if condition == LiverCondition.cirrhosis:
        return FlrThreshold(40.0, "cirrhotic liver")
    if condition == LiverCondition.chemotherapy_injured:
        return FlrThreshold(30.0, "chemotherapy-injured liver")
    if extensive is True:
        why = _weeks_text(exposure) + f" (more than {EXTENSIVE_CHEMOTHERAPY_WEEKS:g} weeks)"
        if condition is None:
            return FlrThreshold(30.0, why + "; 40 % if the liver is cirrhotic (liver condition "
                                "not recorded)")
        return FlrThreshold(30.0, why)
    if condition == LiverCondition.normal:
        if extensive is False:
            return FlrThreshold(20.0, "normal liver" + (
                f" after {_weeks_text(exposure)}" if exposure.weeks else ""))
        return FlrThreshold(None, "normal liver, but the length of chemotherapy is unknown",
                            exposure.missing or ("chemotherapy.duration_weeks",))
    missing = ("volumetry.liver_condition",) + (exposure.missing if extensive is None else ())
    return FlrThreshold(None, "liver condition not recorded", missing)


class KgrReading(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold_percent_per_week: float
    below: bool
    source: str
    statement: str


class VolumetryResult(BaseModel):
    """Volumetry of one patient; ``None`` = not computable (see ``missing``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bsa_m2: float | None = None
    bsa_method: BsaMethod = "mosteller"
    standardized_tlv_ml: float | None = None
    tlv_formula: TlvFormula = "bsa"
    flr_percent: float | None = None
    flr_after_pve_percent: float | None = None
    degree_of_hypertrophy_percent: float | None = None
    kinetic_growth_rate_percent_per_week: float | None = None
    kgr_thresholds: list[KgrReading] = Field(default_factory=list)
    flr_threshold_percent: float | None = None
    flr_threshold_reason: str | None = None
    flr_adequate: bool | None = None
    missing: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)


def assess_volumetry(
    patient: Patient, *, bsa_method: BsaMethod = "mosteller", tlv_formula: TlvFormula = "bsa",
    exposure: SystemicExposure | None = None,
) -> VolumetryResult:
    """Every volumetric quantity computable from the patient; the rest listed as missing."""
    vol = patient.volumetry
    missing: list[str] = []
    notes: list[str] = []
    evidence = cite("vauthey2002", "ahpba2025")
    evidence += cite("mosteller1987") if bsa_method == "mosteller" else cite("dubois1916")
    h, w = patient.height_cm, patient.weight_kg
    bsa = body_surface_area_m2(h, w, bsa_method) if h is not None and w is not None else None
    if tlv_formula == "bsa":
        if bsa is None:
            missing += [f for f, v in (("height_cm", h), ("weight_kg", w)) if v is None]
            stlv = None
        else:
            stlv = standardized_total_liver_volume_ml(bsa_m2=bsa)
    elif w is None:
        missing.append("weight_kg")
        stlv = None
    else:
        stlv = standardized_total_liver_volume_ml(weight_kg=w, formula="weight")
    sflr = sflr_after = dh = kgr = None
    if vol.flr_volume_ml is None:
        missing.append("volumetry.flr_volume_ml")
    elif stlv is not None:
        sflr = standardized_flr_percent(vol.flr_volume_ml, stlv)
    kgr_readings: list[KgrReading] = []
    if vol.flr_volume_after_pve_ml is not None:
        if stlv is not None:
            sflr_after = standardized_flr_percent(vol.flr_volume_after_pve_ml, stlv)
        if sflr is not None and sflr_after is not None:
            dh = degree_of_hypertrophy_percent(sflr, sflr_after)
            if vol.weeks_after_pve is None:
                missing.append("volumetry.weeks_after_pve")
            else:
                kgr = kinetic_growth_rate(dh, vol.weeks_after_pve)
                for cut, key, statement in KGR_THRESHOLDS:
                    kgr_readings.append(KgrReading(threshold_percent_per_week=cut,
                                                   below=kgr < cut, source=key,
                                                   statement=statement))
                evidence += cite("shindoh2013", "leung2014")
                if not 3 <= vol.weeks_after_pve <= 4:
                    notes.append(f"volumetry {vol.weeks_after_pve:g} weeks after PVE; AHPBA "
                                 "guideline 2025 advises repeat volumetry 3–4 weeks after PVE")
    if exposure is None:
        exposure = build_timeline(patient).preoperative
    threshold = flr_threshold(vol.liver_condition, exposure)
    missing += threshold.missing
    if threshold.percent is not None and (exposure.weeks or 0) > EXTENSIVE_CHEMOTHERAPY_WEEKS:
        evidence += cite("shindoh2013_chemo")
    current = sflr_after if sflr_after is not None else sflr
    adequate = None
    if threshold.percent is not None and current is not None:
        adequate = current >= threshold.percent
    if vol.total_liver_volume_ml is not None:
        notes.append("measured total liver volume given; sFLR uses the standardized TLV "
                     "(AHPBA guideline 2025), which is not distorted by tumour volume")
    return VolumetryResult(
        bsa_m2=bsa, bsa_method=bsa_method, standardized_tlv_ml=stlv, tlv_formula=tlv_formula,
        flr_percent=sflr, flr_after_pve_percent=sflr_after, degree_of_hypertrophy_percent=dh,
        kinetic_growth_rate_percent_per_week=kgr, kgr_thresholds=kgr_readings,
        flr_threshold_percent=threshold.percent, flr_threshold_reason=threshold.reason,
        flr_adequate=adequate,
        missing=sorted(set(missing)), notes=notes, evidence=sorted(set(evidence)),
    )
