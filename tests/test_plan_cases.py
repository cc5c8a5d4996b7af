"""Plans for cases worked by hand: progression on systemic therapy, conversion that worked,
recurrence after liver treatment, and how open decisions read.

Shimizu 2024: resectable progression during preoperative chemotherapy → hepatectomy rather than
chemotherapy alone (3-year survival 49.3 % vs 10.6 %). Progression that is not resectable → the
first-line regimen has failed: change regimen, restage, surgeon reassesses (AHPBA 2025). Nothing
in the plan may then say "continue conversion therapy" or "operate 5–6 weeks after the dose".
"""

from __future__ import annotations

from typing import Any

import pytest

from crlm.clinical.assess import assess
from crlm.clinical.phase import Phase
from crlm.domain import parse_patient
from crlm.evidence import resolve
from crlm.reports.tumour_board import render


def case(resectability: str | None, response: str, intent: str = "conversion") -> dict[str, Any]:
    liver: dict[str, Any] = {"timing": "synchronous", "disease_free_interval_months": 0,
                             "number_of_metastases": 6, "largest_diameter_cm": 6.5,
                             "bilobar": True}
    if resectability is not None:
        liver["resectability"] = resectability
    return {
        "id": "PROG", "age_years": 58, "sex": "male", "height_cm": 180, "weight_kg": 80,
        "assessment_date": "2025-10-01",
        "primary": {"site": "right_colon", "t_category": "T4a", "n_category": "N2",
                    "node_positive": True, "resected": False,
                    "date_of_diagnosis": "2025-05-01"},
        "liver": liver, "extrahepatic_disease": False, "labs": {"cea_ng_ml": 250},
        "molecular": {"kras": "mutant", "nras": "wildtype", "braf": "wildtype", "msi": "mss",
                      "her2": "not_amplified"},
        "treatments": [{"kind": "systemic_therapy", "date": "2025-06-01",
                        "end_date": "2025-09-01", "regimen": "folfoxiri",
                        "biologic": "bevacizumab", "cycles": 6, "intent": intent,
                        "response": response}],
    }


def plan_codes(doc: dict[str, Any]) -> tuple[Any, list[str], list[str]]:
    a = assess(parse_patient(doc))
    steps = [c for s in a.plan.steps for c in s.codes]
    headline = [c for s in a.plan.steps if not s.preparatory for c in s.codes]
    return a, steps, headline


NEVER_WITH_PROGRESSION = {"systemic.bevacizumab_first_choice",
                          "unresectable.conversion_chemotherapy",
                          "resection.proceed_to_hepatectomy",
                          "resection.restage_after_chemotherapy"}


@pytest.mark.parametrize("resectability", ["borderline", "unresectable"])
def test_progression_not_resectable_changes_the_regimen(resectability: str) -> None:
    a, _steps, headline = plan_codes(case(resectability, "PD"))
    assert a.phase == Phase.conversion
    assert headline[0] == "resection.progression_on_chemotherapy"
    step = next(s for s in a.plan.steps if "resection.progression_on_chemotherapy" in s.codes)
    assert "second-line" in step.action and "no hepatectomy" in step.action
    assert not NEVER_WITH_PROGRESSION & {x.code for x in a.advice}


def test_progression_still_resectable_proceeds_to_hepatectomy_shimizu2024() -> None:
    a, _steps, headline = plan_codes(case("resectable", "PD", intent="preoperative"))
    assert a.phase == Phase.preoperative_therapy
    assert headline[0] == "resection.hepatectomy_despite_progression"
    step = a.plan.steps[[s.codes[0] for s in a.plan.steps].index(headline[0])]
    assert "proceed to hepatectomy" in step.action
    assert "49.3 %" in step.reason and "10.6 %" in step.reason
    assert step.evidence == ["shimizu2024"]
    assert not NEVER_WITH_PROGRESSION & {x.code for x in a.advice}


def test_progression_with_unknown_resectability_is_an_open_decision() -> None:
    a, _steps, _headline = plan_codes(case(None, "PD", intent="preoperative"))
    point = next(p for p in a.plan.decision_points
                 if "resection.progression_undetermined" in p.codes)
    assert point.missing == ["liver.resectability"]
    assert "resection.progression_on_chemotherapy" not in {x.code for x in a.advice}


def test_borderline_responding_to_conversion_is_restaged_for_resectability() -> None:
    a, _steps, headline = plan_codes(case("borderline", "PR"))
    assert headline[0] == "resection.restage_after_chemotherapy"
    step = a.plan.steps[[s.codes[0] for s in a.plan.steps].index(headline[0])]
    assert "liver surgeon judge whether the disease has become resectable" in step.action
    assert "resection.proceed_to_hepatectomy" not in {x.code for x in a.advice}


def test_resectable_after_conversion_proceeds_with_dates() -> None:
    a, _steps, headline = plan_codes(case("resectable", "PR"))
    assert headline[0] == "resection.proceed_to_hepatectomy"
    step = a.plan.steps[[s.codes[0] for s in a.plan.steps].index(headline[0])]
    assert step.timing is not None and "2025-10-06" in step.timing  # last dose + 5 weeks


def test_unresectable_responding_still_continues_conversion() -> None:
    _a, _steps, headline = plan_codes(case("unresectable", "PR"))
    assert headline[0] == "unresectable.conversion_chemotherapy"


def test_references_in_author_year_order_and_well_punctuated() -> None:
    a = assess(parse_patient(case("borderline", "PD")))
    labels = [resolve(k).short for k in a.evidence]
    assert labels == sorted(labels, key=str.casefold)
    text = render(a, parse_patient(case("borderline", "PD")))
    references = text[text.index("## References"):]
    assert ".." not in references.replace("...", "")


def test_bottom_line_never_points_to_decisions_that_do_not_exist() -> None:
    patient = parse_patient(case("borderline", "PD"))
    a = assess(patient)
    empty = a.model_copy(update={"plan": a.plan.model_copy(
        update={"steps": [], "decision_points": []})})
    text = render(empty, patient)
    assert "open decisions below" not in text
    assert "none follows from the recorded data alone" in text


# ------------------------------------------------------------- recurrence after liver treatment

def recurrence_case(sites: list[str] | None, two_stage: bool = False) -> dict[str, Any]:
    liver_ops: list[dict[str, Any]] = (
        [{"kind": "hepatectomy", "date": "2024-01-10", "hepatectomy_stage": 1,
          "procedures": ["wedge_resection"]},
         {"kind": "pve", "date": "2024-01-30"},
         {"kind": "hepatectomy", "date": "2024-03-10", "hepatectomy_stage": 2,
          "procedures": ["right_hepatectomy"], "margin_mm": 3}]
        if two_stage else
        [{"kind": "hepatectomy", "date": "2024-04-10", "procedures": ["segmentectomy_6"],
          "margin_mm": 3}])
    recurrence: dict[str, Any] = {"kind": "recurrence", "date": "2025-09-01"}
    if sites is not None:
        recurrence["recurrence_sites"] = sites
    return {
        "id": "REC", "age_years": 61, "sex": "female", "height_cm": 165, "weight_kg": 60,
        "assessment_date": "2025-10-01",
        "primary": {"site": "left_colon", "t_category": "T3", "n_category": "N1",
                    "node_positive": True, "resected": True, "date_of_diagnosis": "2023-01-10"},
        "liver": {"timing": "metachronous", "disease_free_interval_months": 14,
                  "number_of_metastases": 2, "largest_diameter_cm": 3.0, "bilobar": False,
                  "resectability": "resectable"},
        "extrahepatic_disease": False, "labs": {"cea_ng_ml": 12},
        "molecular": {"kras": "wildtype", "nras": "wildtype", "braf": "wildtype", "msi": "mss",
                      "her2": "not_amplified"},
        "treatments": [{"kind": "primary_resection", "date": "2023-02-01"}, *liver_ops,
                       recurrence],
    }


LIVER_DIRECTED = ("resection.", "ablation.", "sequencing.", "imaging.mri_liver",
                  "systemic.bevacizumab_first_choice", "unresectable.", "transplant.")


def test_recurrence_outside_the_liver_gets_no_liver_directed_advice() -> None:
    a = assess(parse_patient(recurrence_case(["lung"])))
    assert a.phase == Phase.extrahepatic_recurrence
    codes = {x.code for x in a.advice + a.warnings}
    assert not [c for c in codes if c.startswith(LIVER_DIRECTED)]
    headline = [s for s in a.plan.steps if not s.preparatory]
    assert headline[0].codes == ["surveillance.extrahepatic_recurrence"]
    assert "lung" in headline[0].reason


def test_liver_recurrence_is_a_new_work_up_and_the_site_is_asked_when_missing() -> None:
    assert assess(parse_patient(recurrence_case(["liver", "lung"]))).phase == Phase.workup
    a = assess(parse_patient(recurrence_case(None)))
    assert a.phase == Phase.workup
    assert any("treatments.recurrence_sites" in p.missing for p in a.plan.decision_points)


def test_liver_recurrence_after_two_stage_from_the_timeline_offers_repeat_hepatectomy() -> None:
    a = assess(parse_patient(recurrence_case(["liver"], two_stage=True)))
    headline = [s for s in a.plan.steps if not s.preparatory]
    assert headline[0].codes == ["resection.repeat_hepatectomy"]
    assert "49.6 months" in headline[0].reason  # Shimizu 2024
    one_stage = assess(parse_patient(recurrence_case(["liver"])))
    assert "resection.repeat_hepatectomy" not in {x.code for x in one_stage.advice}


def test_an_open_decision_names_what_it_needs_once_and_only_what_is_missing() -> None:
    doc = case("resectable", "PD")
    doc["treatments"] = []
    doc["liver"].update({"number_of_metastases": 2, "bilobar": False,
                         "largest_diameter_cm": 3.0})
    patient = parse_patient(doc)
    a = assess(patient)
    point = next(p for p in a.plan.decision_points
                 if "resection.staging_undetermined" in p.codes)
    assert point.missing == ["liver.planned_procedures", "primary.planned_procedure"]
    line = next(x for x in render(a, patient).splitlines()
                if x.startswith("- Cannot weigh staged vs simultaneous"))
    assert line.count("needs") == 1
    assert "site of the primary" not in line and "anal verge" not in line


def test_conversion_example_plans_the_two_stage_only_once_resectable_and_no_false_decision(
        ) -> None:
    """examples/conversion.json: unresectable bilobar disease on conversion therapy. The next
    step is more conversion therapy; the two-stage hepatectomy is the strategy for when the
    liver becomes resectable; the Oslo score's missing cut-offs are crlm's limit, not an open
    decision for the MDT."""
    import json
    from pathlib import Path

    doc = json.loads((Path(__file__).resolve().parents[1] / "examples" / "conversion.json")
                     .read_text())
    a, _steps, headline = plan_codes(doc)
    assert a.phase == Phase.conversion
    assert headline[0] == "unresectable.conversion_chemotherapy"
    two_stage = next(s for s in a.plan.steps if "resection.two_stage" in s.codes)
    assert two_stage.action.startswith("If conversion therapy makes the liver resectable")
    assert not [p for p in a.plan.decision_points
                if "transplant.oslo_score_components" in p.codes]
