"""Table-driven whole-patient cases: the complete list of codes an MDT would see."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import EXAMPLES
from crlm.clinical.assess import assess
from crlm.clinical.phase import Phase
from crlm.clinical.plan import check_consistency
from crlm.domain import parse_patient
from rules_support import run

CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    (
        # seed-000-like: low rectal (6 cm), 4 bilobar lesions, right hepatectomy, RAS/TP53
        "rectal_reverse",
        {
            "primary": {"site": "rectum", "distance_from_anal_verge_cm": 6, "resected": False,
                        "symptoms": ["bleeding"], "locally_advanced": True},
            "liver": {"timing": "synchronous", "number_of_metastases": 4,
                      "largest_diameter_cm": 3.5, "bilobar": True, "extensive_disease": False,
                      "planned_procedures": ["right_hepatectomy"],
                      "resectability": "resectable"},
            "molecular": {"kras": "mutant", "nras": "wildtype", "tp53": "mutant",
                          "braf": "wildtype", "msi": "mss", "her2": "not_amplified"},
        },
        {"complexity_grade": "III", "major_hepatectomy": True, "flr_percent": 35.0,
         "flr_threshold_percent": 20.0, "flr_adequate": True,
         "scores": {"fong_crs": {"value": 3, "missing": []}}},
        # work-up: no surveillance yet, no staged/simultaneous from the colon rule
        ["sequencing.reverse", "warning.ras_tp53_comutation", "schedule.m1_option",
         "schedule.sources_disagree", "resection.preoperative_chemotherapy",
         "resection.flr_adequate", "ablation.margin_10mm", "systemic.anti_egfr_not_indicated",
         "systemic.bevacizumab_first_choice", "imaging.mri_liver", "imaging.ct_staging",
         "imaging.pet_selective", "imaging.volumetry"],
    ),
    (
        # the same patient after chemotherapy and the hepatectomy of the reverse approach
        "rectal_after_hepatectomy",
        {
            "primary": {"site": "rectum", "distance_from_anal_verge_cm": 6, "resected": False,
                        "symptoms": ["bleeding"], "locally_advanced": True},
            "liver": {"timing": "synchronous", "number_of_metastases": 4,
                      "largest_diameter_cm": 3.5, "bilobar": True,
                      "planned_procedures": ["right_hepatectomy"],
                      "resectability": "resectable"},
            "molecular": {"kras": "mutant", "nras": "wildtype", "tp53": "mutant",
                          "braf": "wildtype", "msi": "mss", "her2": "not_amplified"},
            "treatments": [
                {"kind": "systemic_therapy", "date": "2024-01-08", "end_date": "2024-03-18",
                 "regimen": "folfox", "biologic": "bevacizumab", "cycles": 6,
                 "response": "PR"},
                {"kind": "hepatectomy", "date": "2024-05-15",
                 "procedures": ["right_hepatectomy"]},
            ],
        },
        {"complexity_grade": "III", "major_hepatectomy": True},
        ["sequencing.complete_with_primary", "surveillance.intensive_beyond_2y",
         "surveillance.ctdna_information"],
    ),
    (
        "colon_simultaneous",
        {
            "primary": {"site": "left_colon", "planned_procedure": "sigmoid_colectomy",
                        "symptoms": [], "resected": False},
            "liver": {"timing": "synchronous", "number_of_metastases": 1,
                      "largest_diameter_cm": 1.8,
                      "lesions": [{"segment": 3, "diameter_cm": 1.8, "deep": False}],
                      "planned_procedures": ["wedge_resection"], "resectability": "resectable"},
            "extrahepatic_disease": False,
            "molecular": {"kras": "wildtype", "nras": "wildtype", "braf": "wildtype",
                          "msi": "mss", "her2": "not_amplified"},
        },
        {"complexity_grade": "I", "major_hepatectomy": False,
         "scores": {"fong_crs": {"value": 1, "missing": []}}},
        ["resection.upfront_surgery", "resection.simultaneous_reasonable",
         "resection.parenchymal_sparing", "ablation.margin_5mm",
         "systemic.anti_egfr_not_indicated", "imaging.mri_liver", "imaging.ct_staging",
         "imaging.pet_selective"],
    ),
    (
        "unresectable_transplant",
        {
            "assessment_date": "2025-06-01",
            "primary": {"site": "rectum", "resected": True, "date_of_diagnosis": "2023-01-10"},
            "liver": {"timing": "synchronous", "number_of_metastases": 14,
                      "largest_diameter_cm": 4.2, "bilobar": True,
                      "resectability": "unresectable"},
            "extrahepatic_disease": False,
            "chemotherapy": {"response": "PR", "prehepatectomy_cycles": 12,
                             "duration_weeks": 24},
            "molecular": {"kras": "wildtype", "nras": "wildtype", "braf": "wildtype",
                          "msi": "mss", "her2": "amplified"},
        },
        {},
        # conversion phase; HER2 amplified → no anti-EGFR (defect 8)
        ["warning.chemo_over_8_cycles", "warning.cali_long_chemotherapy",
         "warning.more_than_10_nodules", "ablation.margin_5mm",
         "systemic.anti_egfr_not_indicated", "systemic.anti_her2_option",
         "unresectable.conversion_chemotherapy", "unresectable.hai_option",
         "transplant.consider_evaluation", "transplant.oslo_score_components",
         "imaging.mri_liver", "imaging.ct_staging", "imaging.pet_selective"],
    ),
]


@pytest.mark.parametrize(("name", "patient", "findings", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_worked_case(name: str, patient: dict, findings: dict, expected: list[str]) -> None:
    got = [a.code for a in run(patient, **findings)]
    assert got == expected


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_example_patients_run_with_invariants(path) -> None:  # type: ignore[no-untyped-def]
    """Every shipped example patient assesses to one consistent plan for its phase."""
    patient = parse_patient(json.loads(path.read_text(encoding="utf-8")))
    a = assess(patient)
    got = [x.code for x in a.advice + a.warnings]
    check_consistency(a.advice + a.warnings)
    assert sum(c.startswith("ablation.margin_") for c in got) <= 1
    surveillance = sum(c in {"surveillance.standard", "surveillance.intensive_beyond_2y"}
                       for c in got)
    assert surveillance == (1 if a.phase in (Phase.surveillance, Phase.primary_pending) else 0)
    assert a.plan.steps, "every example has a next step"
