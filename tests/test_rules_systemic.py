"""Systemic therapy, unresectable disease / transplant and imaging rules (seed 003)."""

from __future__ import annotations

import pytest

from rules_support import codes, one, run

EGFR = ("systemic.anti_egfr_candidate", "systemic.anti_egfr_not_indicated",
        "systemic.anti_egfr_undetermined")
ALL_WT = {"kras": "wildtype", "nras": "wildtype", "braf": "wildtype", "her2": "not_amplified"}


def egfr(site: str | None, resectability: str | None, **molecular: str) -> list:
    patient: dict = {"molecular": {**ALL_WT, **molecular}, "liver": {}}
    if site:
        patient["primary"] = {"site": site}
    if resectability:
        patient["liver"]["resectability"] = resectability
    return [a for a in run(patient) if a.code in EGFR]


def test_anti_egfr_candidate_needs_every_criterion() -> None:
    (item,) = egfr("left_colon", "unresectable")
    assert item.code == "systemic.anti_egfr_candidate"
    assert [c["status"] for c in item.details["criteria"]] == ["met"] * 6
    (item,) = egfr("rectum", "unresectable", braf="non_v600e")
    assert item.code == "systemic.anti_egfr_candidate"


def test_her2_amplification_removes_anti_egfr_candidacy() -> None:
    """Defect 8: the guideline names HER2 amplification as a cause of anti-EGFR resistance."""
    (item,) = egfr("left_colon", "unresectable", her2="amplified")
    assert item.code == "systemic.anti_egfr_not_indicated"
    failed = [c["criterion"] for c in item.details["criteria"] if c["status"] == "failed"]
    assert failed == ["HER2 not amplified (HER2 amplification causes anti-EGFR resistance)"]
    (item,) = egfr("left_colon", "unresectable", her2="unknown")
    assert item.code == "systemic.anti_egfr_undetermined"


@pytest.mark.parametrize(
    ("site", "resectability", "molecular", "failed"),
    [
        ("right_colon", "unresectable", {}, "left-sided primary (rectum, left colon)"),
        ("left_colon", "resectable", {}, "unresectable setting"),
        ("left_colon", "borderline", {}, "unresectable setting"),
        ("left_colon", "unresectable", {"kras": "mutant"}, "KRAS wild type"),
        ("left_colon", "unresectable", {"nras": "mutant"}, "NRAS wild type"),
        ("left_colon", "unresectable", {"braf": "v600e"}, "BRAF V600E not present"),
    ],
)
def test_anti_egfr_not_indicated_names_the_failed_criterion(
    site: str, resectability: str, molecular: dict, failed: str
) -> None:
    (item,) = egfr(site, resectability, **molecular)
    assert item.code == "systemic.anti_egfr_not_indicated"
    failed_names = [c["criterion"] for c in item.details["criteria"] if c["status"] == "failed"]
    assert len(failed_names) == 1 and failed_names[0].startswith(failed)
    if resectability != "unresectable":
        assert "New EPOC" in item.rationale


def test_anti_egfr_unknown_inputs_are_named_not_assumed() -> None:
    (item,) = egfr(None, "unresectable", kras="unknown")
    assert item.code == "systemic.anti_egfr_undetermined"
    assert item.details["missing"] == ["KRAS wild type", "left-sided primary (rectum, left colon)"]
    # a known failure decides even with unknowns
    (item,) = egfr(None, None, kras="mutant")
    assert item.code == "systemic.anti_egfr_not_indicated"


def test_molecular_flags() -> None:
    assert "systemic.pd1_blockade" in codes({"molecular": {"msi": "msi_high"}})
    assert "systemic.pd1_blockade" not in codes({"molecular": {"msi": "mss"}})
    assert "systemic.anti_her2_option" in codes({"molecular": {"her2": "amplified"}})
    assert "systemic.anti_her2_option" not in codes({"molecular": {"her2": "not_amplified"}})
    assert "systemic.braf_targeted" in codes({"molecular": {"braf": "v600e"}})
    assert "systemic.braf_targeted" not in codes({"molecular": {"braf": "non_v600e"}})
    item = one(run({"molecular": {"kras": "mutant", "msi": "unknown"}}),
               "systemic.molecular_testing_missing")
    assert item.details["missing"] == ["molecular.nras", "molecular.braf", "molecular.msi",
                                       "molecular.her2"]
    full = {**ALL_WT, "msi": "mss", "her2": "not_amplified"}
    assert "systemic.molecular_testing_missing" not in codes({"molecular": full})


def test_bevacizumab_with_preoperative_chemotherapy_and_interval() -> None:
    item = one(run({"liver": {"resectability": "borderline"}}),
               "systemic.bevacizumab_first_choice")
    assert item.details == {"chemotherapy_weeks": [8, 12], "surgery_after_last_dose_weeks": [5, 6]}
    assert "5–6 weeks" in item.recommendation
    assert "systemic.bevacizumab_first_choice" in codes({"chemotherapy": {"anti_vegf": True}})
    # resectable, low risk: upfront surgery, so no preoperative biologic
    low = {"fong_crs": {"value": 1, "missing": []}}
    assert "systemic.bevacizumab_first_choice" not in codes(
        {"liver": {"resectability": "resectable"}}, scores=low)


TRANSPLANT_OK = {
    "assessment_date": "2025-03-01",
    "primary": {"site": "left_colon", "resected": True, "date_of_diagnosis": "2024-03-01"},
    "liver": {"resectability": "unresectable", "largest_diameter_cm": 4.0},
    "extrahepatic_disease": False,
    "molecular": {"braf": "wildtype"},
    "chemotherapy": {"response": "PR"},
    "labs": {"cea_ng_ml": 12.0},
}


def _with(**changes: object) -> dict:
    import copy

    patient = copy.deepcopy(TRANSPLANT_OK)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = patient
        for p in parents:
            target = target[p]
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return patient


def test_transplant_consider_evaluation_exactly_one_year() -> None:
    advice = run(TRANSPLANT_OK)
    item = one(advice, "transplant.consider_evaluation")
    assert [c["status"] for c in item.details["criteria"]] == ["met"] * 5
    assert "unresectable.conversion_chemotherapy" in [a.code for a in advice]
    assert "unresectable.hai_option" in [a.code for a in advice]


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"extrahepatic_disease": True}, "no extrahepatic disease"),
        ({"assessment_date": "2025-02-28"}, "≥ 1 year from primary diagnosis"),
        ({"chemotherapy__response": "PD"}, "response to systemic therapy"),
        ({"molecular__braf": "v600e"}, "no BRAF V600E mutation"),
        ({"primary__resected": False}, "primary resected"),
    ],
)
def test_transplant_not_candidate_lists_failed(change: dict, failed: str) -> None:
    item = one(run(_with(**change)), "transplant.not_candidate")
    assert [c["criterion"] for c in item.details["criteria"] if c["status"] == "failed"] == [
        failed]
    assert failed in item.rationale


def test_transplant_unknown_criteria_are_listed() -> None:
    item = one(run(_with(assessment_date=None, molecular__braf=None)),
               "transplant.eligibility_incomplete")
    assert item.details["missing"] == ["≥ 1 year from primary diagnosis",
                                       "no BRAF V600E mutation"]
    statuses = {c["criterion"]: c["status"] for c in item.details["criteria"]}
    assert statuses["no extrahepatic disease"] == "met"


def test_stable_disease_is_not_an_exclusion_by_itself() -> None:
    """Defect 5: SECA-II asks for a ≥ 10 % response; a series selected stable disease. SD
    without the % change asks for it; SD with a known change does not exclude."""
    item = one(run(_with(chemotherapy__response="SD")), "transplant.eligibility_incomplete")
    response = next(c for c in item.details["criteria"]
                    if c["criterion"] == "response to systemic therapy")
    assert response["status"] == "unknown" and "% change in tumour size" in response["value"]
    timeline = {"treatments": [{"kind": "systemic_therapy", "date": "2024-04-01",
                                "end_date": "2024-08-01", "regimen": "folfox",
                                "intent": "conversion", "response": "SD",
                                "tumour_size_change_percent": -12.0}]}
    patient = _with(chemotherapy__response=None)
    patient.pop("chemotherapy")
    item = one(run({**patient, **timeline}), "transplant.consider_evaluation")
    assert "SECA-II" in next(c["value"] for c in item.details["criteria"]
                             if c["criterion"] == "response to systemic therapy")
    timeline["treatments"][0]["tumour_size_change_percent"] = -4.0
    item = one(run({**patient, **timeline}), "transplant.consider_evaluation")
    assert "Hernandez-Alejandro" in item.rationale or any(
        "Hernandez-Alejandro" in str(c["value"]) for c in item.details["criteria"])


def test_hai_and_transplant_only_when_unresectable() -> None:
    assert "unresectable.hai_option" not in codes(_with(extrahepatic_disease=True))
    assert "unresectable.hai_undetermined" in codes(_with(extrahepatic_disease=None))
    got = codes(_with(liver__resectability="resectable"))
    assert not [c for c in got if c.startswith(("transplant.", "unresectable."))]


def test_oslo_score_is_components_only() -> None:
    item = one(run(TRANSPLANT_OK), "transplant.oslo_score_components")
    assert item.kind == "information"
    assert "missing" not in item.details  # crlm's sources lack the cut-offs: no MDT decision
    values = {c["component"]: c["value"] for c in item.details["components"]}
    assert values["tumour size (largest diameter)"] == "4 cm"
    assert values["CEA level"] == "12 ng/mL"
    assert values["response to chemotherapy"] == "partial response"
    # "listed for the transplant team": in the words a reader sees, no field paths
    assert "Components: tumour size (largest diameter) 4 cm; CEA level 12 ng/mL" in (
        item.rationale)
    assert "[" not in item.rationale and "_" not in item.rationale


def test_oslo_interval_from_the_dated_primary_resection_on_the_timeline() -> None:
    dated = _with(treatments=[{"kind": "primary_resection", "date": "2024-03-15"}])
    item = one(run(dated), "transplant.oslo_score_components")
    values = {c["component"]: c["value"] for c in item.details["components"]}
    assert values["interval from resection of the primary tumour"] == "351 days"
    undated = one(run(TRANSPLANT_OK), "transplant.oslo_score_components")
    assert "date of the primary resection not recorded" in undated.rationale


def test_imaging_items() -> None:
    advice = run({"liver": {"lesions": [{"diameter_cm": 0.8}], "number_of_metastases": 2},
                  "chemotherapy": {"prehepatectomy_cycles": 6}})
    mri = one(advice, "imaging.mri_liver")
    assert "1 lesion(s) < 1 cm" in mri.rationale and "after 6 cycles" in mri.rationale
    assert "imaging.ct_staging" in [a.code for a in advice]
    assert "imaging.volumetry" not in [a.code for a in advice]
    assert "imaging.volumetry" in codes({"liver": {"planned_procedures": ["right_hepatectomy"]}})
    assert "imaging.volumetry" in codes({}, major_hepatectomy=True)
    assert "imaging.volumetry" not in codes({"liver": {"planned_procedures": ["left_hepatectomy"]}})


def test_volumetry_is_not_asked_again_once_measured_after_pve() -> None:
    """After PVE the measured remnant is judged (adequate, slow growth, too small): a step
    "CT volumetry; repeat after PVE" would ask for what is done. A remnant measured at work-up
    is still to be measured after chemotherapy."""
    right = {"liver": {"planned_procedures": ["right_hepatectomy"]}, "height_cm": 170,
             "weight_kg": 70}
    measured = {**right, "volumetry": {"flr_volume_ml": 400}}
    item = one(run(measured, flr_percent=30.0), "imaging.volumetry")
    assert "at the last measurement" in item.rationale
    after_pve = {**right, "volumetry": {"flr_volume_ml": 400, "flr_volume_after_pve_ml": 560,
                                        "weeks_after_pve": 4}}
    assert "imaging.volumetry" not in codes(after_pve, flr_percent=42.0)
