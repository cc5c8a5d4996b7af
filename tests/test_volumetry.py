"""Volumetry against the published formulas (seed 003; Vauthey 2002), to 0.01 mL."""

from __future__ import annotations

import json
import math

import pytest
from tests.conftest import EXAMPLES

from crlm.clinical.assess import assess
from crlm.clinical.timeline import SystemicExposure, build_timeline
from crlm.clinical.volumetry import (
    assess_volumetry,
    body_surface_area_m2,
    degree_of_hypertrophy_percent,
    flr_threshold,
    kinetic_growth_rate,
    standardized_flr_percent,
    standardized_total_liver_volume_ml,
)
from crlm.domain import parse_patient
from crlm.domain.patient import LiverCondition


def test_bsa_formulas() -> None:
    # Mosteller: √(175 × 80 / 3600) = √3.8889 = 1.97203
    assert body_surface_area_m2(175, 80) == pytest.approx(math.sqrt(175 * 80 / 3600), rel=1e-12)
    assert body_surface_area_m2(175, 80) == pytest.approx(1.97203, abs=1e-5)
    # DuBois: 0.007184 × 80^0.425 × 175^0.725 = 0.007184 × 6.43890 × 42.2878 = 1.95613
    assert body_surface_area_m2(175, 80, "dubois") == pytest.approx(1.95613, abs=1e-4)


def test_standardized_tlv_to_001_ml() -> None:
    # BSA 2.0 m²: −794.41 + 1267.28 × 2.0 = 1740.15 mL
    assert standardized_total_liver_volume_ml(bsa_m2=2.0) == pytest.approx(1740.15, abs=0.01)
    # weight 70 kg: 191.8 + 18.51 × 70 = 1487.50 mL
    assert standardized_total_liver_volume_ml(weight_kg=70, formula="weight") == pytest.approx(
        1487.50, abs=0.01)
    # height 170, weight 70: BSA √(11900/3600) = 1.818119; sTLV = 1509.66 mL
    bsa = body_surface_area_m2(170, 70)
    assert standardized_total_liver_volume_ml(bsa_m2=bsa) == pytest.approx(
        -794.41 + 1267.28 * 1.8181186, abs=0.01)


def test_sflr_dh_kgr_worked_example() -> None:
    # sTLV 1509.66: FLR 350 → 23.18 %, after PVE 520 → 34.44 %; DH 11.26 points; 4 weeks → 2.82
    stlv = -794.41 + 1267.28 * math.sqrt(170 * 70 / 3600)
    before, after = standardized_flr_percent(350, stlv), standardized_flr_percent(520, stlv)
    assert before == pytest.approx(350 / stlv * 100)
    dh = degree_of_hypertrophy_percent(before, after)
    assert dh == pytest.approx(170 / stlv * 100)
    assert kinetic_growth_rate(dh, 4) == pytest.approx(170 / stlv * 100 / 4)
    with pytest.raises(ValueError):
        kinetic_growth_rate(dh, 0)


def _exposure(weeks: float | None, given: bool | None = True) -> SystemicExposure:
    missing = ("chemotherapy.duration_weeks",) if given and weeks is None else ()
    return SystemicExposure(given=given, weeks=weeks, missing=missing)


@pytest.mark.parametrize(
    ("condition", "exposure", "expected"),
    [
        (LiverCondition.normal, _exposure(0.0, given=False), 20.0),
        (LiverCondition.normal, _exposure(12.0), 20.0),  # exactly 12 weeks is not extensive
        (LiverCondition.normal, _exposure(12.5), 30.0),  # defect 2: extensive chemo → 30 %
        (LiverCondition.normal, _exposure(None), None),  # duration unknown: undetermined
        (LiverCondition.chemotherapy_injured, _exposure(None, given=None), 30.0),
        (LiverCondition.cirrhosis, _exposure(4.0), 40.0),
        (LiverCondition.cirrhosis, _exposure(20.0), 40.0),
        (None, _exposure(12.0), None),  # defect 1: never silently a normal liver
        (None, _exposure(12.5), 30.0),
        (None, _exposure(None, given=None), None),
    ],
)
def test_threshold(condition: LiverCondition | None, exposure: SystemicExposure,
                   expected: float | None) -> None:
    got = flr_threshold(condition, exposure)
    assert got.percent == expected
    if expected is None:
        assert got.missing  # an undetermined threshold always names what is missing


def test_unknown_condition_after_short_chemotherapy_is_reported_missing() -> None:
    p = parse_patient({"height_cm": 170, "weight_kg": 70, "volumetry": {"flr_volume_ml": 350},
                       "chemotherapy": {"duration_weeks": 10}})
    v = assess_volumetry(p)
    assert v.flr_threshold_percent is None and v.flr_adequate is None
    assert "volumetry.liver_condition" in v.missing


def test_one_threshold_for_volumetry_rules_and_warnings() -> None:
    """Defect 2: a normal liver after > 12 weeks gets 30 % in volumetry, the FLR rule and the
    CALI warning alike — never 'adequate' beside a warning that asks for more."""
    p = parse_patient({
        "height_cm": 170, "weight_kg": 70, "assessment_date": "2025-03-01",
        "liver": {"planned_procedures": ["right_hepatectomy"], "resectability": "resectable"},
        "volumetry": {"flr_volume_ml": 380, "liver_condition": "normal"},
        "chemotherapy": {"prehepatectomy_cycles": 8, "duration_weeks": 16}})
    a = assess(p)
    assert a.volumetry.flr_threshold_percent == 30.0
    assert a.volumetry.flr_adequate is False  # sFLR ≈ 25 %
    codes = {x.code for x in a.advice + a.warnings}
    assert "resection.flr_adequate" not in codes and "resection.pve_required" in codes
    cali = next(x for x in a.warnings if x.code == "warning.cali_long_chemotherapy")
    assert "30 %" in cali.recommendation


@pytest.mark.parametrize(("regimen", "cycles", "weeks", "threshold"), [
    ("FOLFOX", 7, 14.0, 30.0),  # q14d: 7 cycles = 14 weeks (> 12)
    ("CAPOX", 4, 12.0, 20.0),   # q21d: 4 cycles = 12 weeks (not > 12)
    ("CAPOX", 5, 15.0, 30.0),
    (None, 7, None, None),      # regimen unknown: cycles cannot be read as weeks → ask
])
def test_cycles_read_one_way_everywhere(regimen: str | None, cycles: int, weeks: float | None,
                                        threshold: float | None) -> None:
    """Defect 3: cycles without a duration are read with the regimen's cycle length, else the
    duration is asked for; volumetry, rules and warnings use the same reading."""
    chemo: dict = {"prehepatectomy_cycles": cycles}
    if regimen:
        chemo["regimen"] = regimen
    p = parse_patient({"height_cm": 170, "weight_kg": 70, "chemotherapy": chemo,
                       "volumetry": {"flr_volume_ml": 400, "liver_condition": "normal"}})
    exposure = build_timeline(p).preoperative
    assert exposure.weeks == weeks
    v = assess_volumetry(p)
    assert v.flr_threshold_percent == threshold
    if threshold is None:
        assert "chemotherapy.duration_weeks" in v.missing
    a = assess(p)
    cali = [x for x in a.warnings if x.code == "warning.cali_long_chemotherapy"]
    assert bool(cali) == (weeks is not None and weeks > 12)


def test_assess_volumetry_after_pve_with_both_kgr_thresholds() -> None:
    p = parse_patient({"height_cm": 170, "weight_kg": 70, "volumetry": {
        "flr_volume_ml": 350, "flr_volume_after_pve_ml": 520, "weeks_after_pve": 4,
        "liver_condition": "chemotherapy_injured"}})
    v = assess_volumetry(p)
    stlv = -794.41 + 1267.28 * math.sqrt(170 * 70 / 3600)
    assert v.standardized_tlv_ml == pytest.approx(stlv, abs=0.01)
    assert v.flr_after_pve_percent == pytest.approx(520 / stlv * 100)
    kgr = 170 / stlv * 100 / 4  # 2.815 %/week
    assert v.kinetic_growth_rate_percent_per_week == pytest.approx(kgr)
    assert [(k.threshold_percent_per_week, k.below, k.source) for k in v.kgr_thresholds] == [
        (2.0, False, "shindoh2013"), (2.66, False, "leung2014")]
    assert v.flr_threshold_percent == 30.0 and v.flr_adequate is True  # 34.4 % ≥ 30 %
    assert v.missing == []


def test_kgr_between_the_two_thresholds() -> None:
    p = parse_patient({"height_cm": 170, "weight_kg": 70, "volumetry": {
        "flr_volume_ml": 350, "flr_volume_after_pve_ml": 500, "weeks_after_pve": 4,
        "liver_condition": "normal"}})
    v = assess_volumetry(p)  # KGR = 150/1509.66·100/4 = 2.48: ≥ 2.0 but < 2.66
    assert [k.below for k in v.kgr_thresholds] == [False, True]


def test_missing_inputs_are_reported_not_defaulted() -> None:
    v = assess_volumetry(parse_patient({"volumetry": {"flr_volume_ml": 400}}))
    assert v.standardized_tlv_ml is None and v.flr_percent is None and v.flr_adequate is None
    assert v.missing == ["height_cm", "volumetry.liver_condition", "weight_kg"]
    v = assess_volumetry(parse_patient({"weight_kg": 70, "volumetry": {"flr_volume_ml": 400}}),
                         tlv_formula="weight")
    assert v.standardized_tlv_ml == pytest.approx(1487.5) and v.flr_percent == pytest.approx(
        400 / 1487.5 * 100)


def test_the_low_growth_warning_names_each_threshold_once() -> None:
    """"below 2.66 %/week", not "below < 2.66 %/week"."""
    patient = parse_patient(json.loads((EXAMPLES / "between_stages.json").read_text()))
    warning = next(i for i in assess(patient).warnings
                   if i.code == "warning.low_kinetic_growth_rate")
    assert "below 2.66 %/week (Leung 2014" in warning.rationale
    assert "< " not in warning.rationale
