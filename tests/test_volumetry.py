"""Volumetry against the published formulas (seed 003; Vauthey 2002), to 0.01 mL."""

from __future__ import annotations

import math

import pytest

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


@pytest.mark.parametrize(
    ("condition", "weeks", "expected"),
    [
        (LiverCondition.normal, None, 20.0),
        (LiverCondition.chemotherapy_injured, None, 30.0),
        (LiverCondition.cirrhosis, 4, 40.0),
        (None, 12.0, 20.0),  # exactly 12 weeks is not extensive (> 12)
        (None, 12.5, 30.0),
        (None, None, None),
    ],
)
def test_threshold(condition: LiverCondition | None, weeks: float | None,
                   expected: float | None) -> None:
    got = flr_threshold(condition, weeks)
    assert (got[0] if got else None) == expected


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
