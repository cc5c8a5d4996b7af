"""Table-driven whole-patient cases: the complete list of codes an MDT would see."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import EXAMPLES
from crlm.clinical.rules import Findings, evaluate_rules
from crlm.domain import parse_patient

CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    (
        # seed-000-like: low rectal (6 cm), 4 bilobar lesions, right hepatectomy, RAS/TP53
        "rectal_reverse",
        {
            "primary": {"site": "rectum", "distance_from_anal_verge_cm": 6,
                        "symptoms": ["bleeding"], "locally_advanced": True},
            "liver": {"timing": "synchronous", "number_of_metastases": 4,
                      "largest_diameter_cm": 3.5, "bilobar": True, "extensive_disease": False,
                      "planned_procedures": ["right_hepatectomy"],
                      "resectability": "resectable"},
            "molecular": {"kras": "mutant", "nras": "wildtype", "tp53": "mutant",
                          "braf": "wildtype", "msi": "mss", "her2": "not_amplified"},
            "operations": [{"kind": "hepatectomy", "date": "2024-05-15"}],
        },
        {"complexity_grade": "III", "major_hepatectomy": True, "flr_percent": 35.0,
         "flr_threshold_percent": 20.0, "flr_adequate": True,
         "scores": {"fong_crs": {"value": 3, "missing": []}}},
        ["sequencing.reverse", "warning.ras_tp53_comutation", "schedule.m1_option",
         "schedule.sources_disagree", "resection.preoperative_chemotherapy", "resection.staged",
         "resection.flr_adequate", "ablation.margin_10mm", "systemic.anti_egfr_not_indicated",
         "systemic.bevacizumab_first_choice", "surveillance.intensive_beyond_2y",
         "surveillance.ctdna_information", "imaging.mri_liver", "imaging.ct_staging",
         "imaging.pet_selective", "imaging.volumetry"],
    ),
    (
        "colon_simultaneous",
        {
            "primary": {"site": "left_colon", "planned_procedure": "sigmoid_colectomy",
                        "symptoms": []},
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
         "systemic.anti_egfr_not_indicated", "surveillance.standard",
         "surveillance.ctdna_information", "imaging.mri_liver", "imaging.ct_staging",
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
        ["warning.chemo_over_8_cycles", "warning.cali_long_chemotherapy",
         "warning.more_than_10_nodules", "ablation.margin_5mm", "systemic.anti_egfr_candidate",
         "systemic.anti_her2_option", "unresectable.conversion_chemotherapy",
         "unresectable.hai_option", "transplant.consider_evaluation",
         "transplant.oslo_score_components", "surveillance.standard",
         "surveillance.ctdna_information", "imaging.mri_liver", "imaging.ct_staging",
         "imaging.pet_selective"],
    ),
]


@pytest.mark.parametrize(("name", "patient", "findings", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_worked_case(name: str, patient: dict, findings: dict, expected: list[str]) -> None:
    got = [a.code for a in evaluate_rules(parse_patient(patient), Findings(**findings))]
    assert got == expected


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_example_patients_run_with_invariants(path) -> None:  # type: ignore[no-untyped-def]
    """Every shipped example patient (if any) runs through the rules with the invariants."""
    patient = parse_patient(json.loads(path.read_text(encoding="utf-8")))
    got = [a.code for a in evaluate_rules(patient, Findings())]
    assert sum(c.startswith("ablation.margin_") for c in got) == 1
    assert sum(c in {"surveillance.standard", "surveillance.intensive_beyond_2y"}
               for c in got) == 1
