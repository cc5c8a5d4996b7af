"""Resection strategy rules (seeds 001, 003, 004)."""

from __future__ import annotations

import pytest

from crlm.clinical.phase import Phase
from rules_support import codes, one, run

CHEMO = ("resection.upfront_surgery", "resection.preoperative_chemotherapy",
         "resection.chemotherapy_timing_undetermined")
STAGING = ("resection.staged", "resection.simultaneous_reasonable",
           "resection.staging_individualised", "resection.staging_undetermined")


def fong(value: int | None = None, rng: list[int] | None = None,
         missing: list[str] | None = None) -> dict:
    return {"fong_crs": {"value": value, "range": rng, "missing": missing or []}}


def chemo_codes(patient: dict, **findings: object) -> list[str]:
    return [c for c in codes(patient, **findings) if c in CHEMO]


@pytest.mark.parametrize(
    ("score", "expected"),
    [(2, "resection.upfront_surgery"), (3, "resection.preoperative_chemotherapy"),
     (0, "resection.upfront_surgery")],
)
def test_upfront_vs_preoperative_by_fong_group(score: int, expected: str) -> None:
    patient = {"liver": {"resectability": "resectable"}}
    assert chemo_codes(patient, scores=fong(score)) == [expected]


def test_fong_range_decides_when_inputs_missing() -> None:
    patient = {"liver": {"resectability": "resectable"}}
    assert chemo_codes(patient, scores=fong(None, [3, 4], ["labs.cea_ng_ml"])) == [
        "resection.preoperative_chemotherapy"]
    assert chemo_codes(patient, scores=fong(None, [1, 2], ["labs.cea_ng_ml"])) == [
        "resection.upfront_surgery"]
    advice = run(patient, scores=fong(None, [2, 3], ["labs.cea_ng_ml"]))
    item = one(advice, "resection.chemotherapy_timing_undetermined")
    assert item.details["missing"] == ["fong_crs input: labs.cea_ng_ml"]
    assert "between 2 and 3" in item.rationale


def test_resectability_decides_setting() -> None:
    assert chemo_codes({"liver": {"resectability": "borderline"}}) == [
        "resection.preoperative_chemotherapy"]
    assert chemo_codes({"liver": {"resectability": "unresectable"}}) == []
    item = one(run({}), "resection.chemotherapy_timing_undetermined")
    assert item.details["missing"] == ["liver.resectability"]


def test_upfront_vs_reverse_is_stated_as_a_disagreement() -> None:
    """Defect 9: low Fong score (guideline: upfront) with a synchronous rectal primary that the
    reverse approach (chemotherapy first) applies to → one disagreement item, not two plans."""
    patient = {"primary": {"site": "rectum", "resected": False},
               "liver": {"timing": "synchronous", "resectability": "resectable"}}
    advice = run(patient, scores=fong(1), complexity_grade="III")
    got = [a.code for a in advice]
    item = one(advice, "resection.upfront_vs_reverse_disagreement")
    assert item.kind == "disagreement"
    assert {"ahpba2025", "maki2023_sequencing"} <= set(item.evidence)
    assert "resection.upfront_surgery" not in got and "sequencing.reverse" in got
    # when the sequencing allows a combined resection, upfront surgery is coherent
    patient["primary"].update(planned_procedure="anterior_resection")
    got = codes(patient, scores=fong(1), complexity_grade="I")
    assert "resection.upfront_surgery" in got and "sequencing.combined" in got


@pytest.mark.parametrize(
    ("chemo", "warned"),
    [
        ({"duration_weeks": 12}, False),
        ({"duration_weeks": 12.5}, True),
        ({"duration_weeks": 10, "prehepatectomy_cycles": 9}, False),  # weeks take precedence
        ({"prehepatectomy_cycles": 6, "regimen": "FOLFOX"}, False),  # 12 weeks
        ({"prehepatectomy_cycles": 7, "regimen": "FOLFOX"}, True),  # 14 weeks
        ({"prehepatectomy_cycles": 7}, False),  # weeks unknown: asked for, not guessed
        ({}, False),
    ],
)
def test_cali_warning_for_long_chemotherapy(chemo: dict, warned: bool) -> None:
    advice = run({"chemotherapy": chemo})
    assert ("warning.cali_long_chemotherapy" in [a.code for a in advice]) is warned
    if warned:
        assert "30 %" in one(advice, "warning.cali_long_chemotherapy").recommendation


def staging(site: str, procedure: str | None, major: bool | None, **primary: object) -> list[str]:
    prim: dict = {"site": site, "resected": False, **primary}
    if procedure:
        prim["planned_procedure"] = procedure
    patient = {"primary": prim, "liver": {"timing": "synchronous"}}
    return [c for c in codes(patient, major_hepatectomy=major) if c in STAGING]


def test_staged_vs_simultaneous() -> None:
    # a rectal primary is decided by the sequencing rule alone (defect 6)
    assert staging("rectum", "abdominoperineal_resection", True) == []
    assert staging("rectum", None, True, distance_from_anal_verge_cm=8) == []
    assert staging("left_colon", "sigmoid_colectomy", False) == [
        "resection.simultaneous_reasonable"]
    assert staging("right_colon", "right_colectomy", True) == ["resection.staging_individualised"]
    assert staging("right_colon", None, False) == ["resection.staging_undetermined"]
    assert staging("right_colon", "right_colectomy", None) == ["resection.staging_undetermined"]
    assert staging("right_colon", "total_colectomy", True) == ["resection.staging_individualised"]


def test_staging_not_discussed_when_primary_resected_or_metachronous() -> None:
    patient = {"primary": {"site": "rectum", "resected": True,
                           "planned_procedure": "abdominoperineal_resection"},
               "liver": {"timing": "synchronous"}}
    assert not set(codes(patient, major_hepatectomy=True)) & set(STAGING)
    patient = {"primary": {"site": "left_colon"}, "liver": {"timing": "metachronous"}}
    assert not set(codes(patient, major_hepatectomy=True)) & set(STAGING)


@pytest.mark.parametrize(("largest", "sparing"), [(2.9, True), (3.0, False)])
def test_parenchymal_sparing_boundary(largest: float, sparing: bool) -> None:
    got = codes({"liver": {"largest_diameter_cm": largest}})
    assert ("resection.parenchymal_sparing" in got) is sparing


def test_fiducial_marker_small_deep_lesion_before_chemotherapy() -> None:
    lesions = [{"segment": 7, "diameter_cm": 1.5, "deep": True},
               {"segment": 3, "diameter_cm": 1.0, "deep": False}]
    advice = run({"liver": {"lesions": lesions}, "chemotherapy": {"prehepatectomy_cycles": 0}})
    item = one(advice, "resection.fiducial_marker")
    assert "1.5 cm in segment 7" in item.rationale and item.details["lesions"] == 1
    # 2.0 cm is not < 2 cm; chemotherapy already started; surface lesion
    assert "resection.fiducial_marker" not in codes(
        {"liver": {"lesions": [{"diameter_cm": 2.0, "deep": True}]}})
    assert "resection.fiducial_marker" not in codes(
        {"liver": {"lesions": [{"diameter_cm": 1.0, "deep": True}]},
         "chemotherapy": {"prehepatectomy_cycles": 2}})
    assert "resection.fiducial_marker" not in codes(
        {"liver": {"lesions": [{"diameter_cm": 1.0}]}})


def test_two_stage_for_bilateral_extensive_disease() -> None:
    advice = run({"liver": {"bilobar": True, "extensive_disease": True,
                            "number_of_metastases": 8}})
    item = one(advice, "resection.two_stage")
    assert "ALPPS is not advised" in item.recommendation
    assert item.details == {"fast_track_second_stage_within_weeks": 4, "alpps_advised": False}
    assert "8 metastases" in item.rationale
    assert one(advice, "resection.completion_ablation_option").kind == "information"
    for liver in ({"bilobar": True}, {"bilobar": False, "extensive_disease": True}):
        assert "resection.two_stage" not in codes({"liver": liver})


@pytest.mark.parametrize("resectability", ["unresectable", "borderline", None])
def test_two_stage_on_conversion_therapy_is_the_strategy_once_resectable(
        resectability: str | None) -> None:
    """Beside "continue conversion therapy" a plain "plan a two-stage hepatectomy" reads as a
    decision to operate now: until a surgeon judges the liver resectable it is conditional."""
    liver = {"bilobar": True, "extensive_disease": True, "number_of_metastases": 14}
    if resectability is not None:
        liver["resectability"] = resectability
    advice = run({"liver": liver}, phase=Phase.conversion)
    item = one(advice, "resection.two_stage")
    assert item.recommendation.startswith("If conversion therapy makes the liver resectable, "
                                          "plan a two-stage hepatectomy")
    assert item.details["conditional"] is True
    assert one(advice, "resection.completion_ablation_option").recommendation.startswith(
        "Alternative once resectable:")
    resectable = run({"liver": {**liver, "resectability": "resectable"}},
                     phase=Phase.conversion)
    assert one(resectable, "resection.two_stage").recommendation.startswith("Plan a two-stage")
    assert "conditional" not in one(resectable, "resection.two_stage").details


def test_ablation_with_major_hepatectomy_is_avoided() -> None:
    got = codes({"liver": {"planned_ablation": True}}, major_hepatectomy=True)
    assert "warning.avoid_ablation_with_major_hepatectomy" in got
    assert "warning.avoid_ablation_with_major_hepatectomy" not in codes(
        {"liver": {"planned_ablation": True}}, major_hepatectomy=False)
    assert "warning.avoid_ablation_with_major_hepatectomy" not in codes(
        {"liver": {"planned_ablation": True}})


def test_flr_from_findings() -> None:
    advice = run({}, flr_percent=18.0, flr_threshold_percent=20.0, flr_adequate=False)
    assert "standardized FLR 18.0 % vs threshold 20 %" in one(
        advice, "resection.pve_required").rationale
    advice = run({}, flr_percent=20.0, flr_threshold_percent=20.0, flr_adequate=True)
    assert "standardized FLR 20.0 % vs threshold 20 %" in one(
        advice, "resection.flr_adequate").rationale
    item = one(run({}, major_hepatectomy=True), "resection.flr_undetermined")
    assert item.kind == "information"
    got = codes({})
    assert not {"resection.pve_required", "resection.flr_adequate",
                "resection.flr_undetermined"} & set(got)


@pytest.mark.parametrize(("kgr", "shindoh", "leung"),
                         [(1.9, True, True), (2.0, False, True), (2.65, False, True),
                          (2.66, False, False)])
def test_kinetic_growth_rate_thresholds(kgr: float, shindoh: bool, leung: bool) -> None:
    advice = run({}, kinetic_growth_rate_percent_per_week=kgr, phase=Phase.after_pve)
    present = "warning.low_kinetic_growth_rate" in [a.code for a in advice]
    assert present is leung
    if present:
        rationale = one(advice, "warning.low_kinetic_growth_rate").rationale
        assert ("Shindoh" in rationale) is shindoh and "Leung" in rationale


@pytest.mark.parametrize(("nodules", "warned"), [(10, False), (11, True)])
def test_more_than_10_nodules_boundary(nodules: int, warned: bool) -> None:
    advice = run({"liver": {"number_of_metastases": nodules}})
    assert ("warning.more_than_10_nodules" in [a.code for a in advice]) is warned
    if warned:
        r = one(advice, "warning.more_than_10_nodules").rationale
        assert "HR 4.28" in r and "11.1 % vs 54.8 %" in r


def test_repeat_hepatectomy_after_two_stage() -> None:
    liver = {"prior_two_stage_hepatectomy": True, "intrahepatic_progression": True}
    advice = run({"liver": {**liver, "resectability": "resectable"}})
    assert "49.6" in one(advice, "resection.repeat_hepatectomy").rationale
    item = one(run({"liver": liver}), "resection.repeat_hepatectomy_undetermined")
    assert item.details["missing"] == ["liver.resectability"]
    assert "resection.repeat_hepatectomy" not in codes(
        {"liver": {**liver, "resectability": "unresectable"}})
    assert "resection.repeat_hepatectomy" not in codes(
        {"liver": {"intrahepatic_progression": True, "resectability": "resectable"}})
