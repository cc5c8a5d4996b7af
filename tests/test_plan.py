"""One coherent plan: timeline → phase → rules → plan. Exclusions declared and enforced, the
phase decides what is said, and every defect of issue 10 pinned by a case worked by hand."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from crlm.clinical.assess import assess
from crlm.clinical.phase import Phase
from crlm.clinical.plan import PlanContradiction, check_consistency
from crlm.clinical.rules import Advice, all_rules
from crlm.clinical.rules.base import Strength
from crlm.clinical.rules.registry import exclusions
from crlm.clinical.vocabulary import FIELDS, needs
from crlm.domain import parse_patient
from strategies import clinical_patients, patients

HYPOTHESIS_DB = DirectoryBasedExampleDatabase(str(Path(__file__).parent / "hypothesis-db"))


def codes_of(doc: dict) -> list[str]:
    a = assess(parse_patient(doc))
    return [x.code for x in a.advice + a.warnings]


# ------------------------------------------------------------------ the exclusion catalogue


def test_exclusions_are_symmetric_and_name_real_codes() -> None:
    declared = {c for spec in all_rules() for c in spec.codes}
    excl = exclusions()
    for code, others in excl.items():
        assert code in declared
        for other in others:
            assert other in declared, f"{code} excludes unknown code {other}"
            assert code in excl.get(other, frozenset()), f"{other} must exclude {code} too"


def test_every_pair_of_one_rules_codes_is_excluded_or_declared_compatible() -> None:
    """Completeness: the codes of one decision (one rule) exclude each other unless the rule
    says they may appear together."""
    excl = exclusions()
    for spec in all_rules():
        for a, b in itertools.combinations(spec.codes, 2):
            if frozenset((a, b)) in spec.compatible:
                continue
            assert b in excl.get(a, frozenset()), f"{spec.name}: {a} and {b} undeclared"


def test_exclusions_are_computed_once_and_read_only() -> None:
    """The plan checks every assessment against this map: it is built once, not per call."""
    first = exclusions()
    assert first is exclusions()
    with pytest.raises(TypeError):
        first["resection.upfront_surgery"] = frozenset()  # type: ignore[index]


def test_plan_refuses_an_excluded_pair() -> None:
    def item(code: str) -> Advice:
        return Advice(code=code, topic="resection", recommendation="x", rationale="y",
                      strength=Strength.moderate, evidence=["ahpba2025"])
    with pytest.raises(PlanContradiction, match="excludes"):
        check_consistency([item("resection.upfront_surgery"), item("sequencing.reverse")])


@settings(max_examples=10_000, deadline=None, database=HYPOTHESIS_DB,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.one_of(clinical_patients(), patients()))
def test_no_assessment_holds_an_excluded_pair_and_every_cannot_decide_names_a_field(p) -> None:
    a = assess(p)  # raises PlanContradiction on an excluded pair
    items = a.advice + a.warnings
    check_consistency(items)
    assert len({x.code for x in items}) == len(items), "one item per code"
    for x in items:
        undecided = x.recommendation.startswith("Cannot") or x.code.endswith(
            ("undetermined", "incomplete"))
        if undecided:
            missing = x.details.get("missing")
            assert missing, f"{x.code} does not name what is missing"
            text = needs(missing)
            assert "_" not in text.replace("≥", ""), text
    for point in a.plan.decision_points:
        assert point.missing
    if a.phase != Phase.surveillance:
        assert not {"surveillance.standard", "surveillance.intensive_beyond_2y"} & {
            x.code for x in items} or a.phase == Phase.primary_pending
    if a.phase == Phase.extrahepatic_recurrence:  # nothing aimed at the liver
        assert not [x.code for x in items if x.code.startswith(
            ("resection.", "ablation.", "sequencing.", "unresectable.", "transplant."))]


# ------------------------------------------------------------------ defects, worked by hand

RECTAL_GRADE_III = {
    "assessment_date": "2025-03-01", "height_cm": 175, "weight_kg": 80,
    "primary": {"site": "rectum", "distance_from_anal_verge_cm": 6, "resected": False,
                "node_positive": True},
    "liver": {"timing": "synchronous", "disease_free_interval_months": 0,
              "number_of_metastases": 3, "largest_diameter_cm": 4.0, "bilobar": True,
              "planned_procedures": ["right_hepatectomy"], "resectability": "resectable"},
    "labs": {"cea_ng_ml": 30},
    "extrahepatic_disease": False,
}


def test_defect4_after_pve_the_advice_is_the_result_never_a_second_pve() -> None:
    doc = {**RECTAL_GRADE_III,
           "treatments": [{"kind": "pve", "date": "2025-01-20"}],
           "volumetry": {"flr_volume_ml": 300, "flr_volume_after_pve_ml": 340,
                         "weeks_after_pve": 4, "liver_condition": "normal"},
           "chemotherapy": {"prehepatectomy_cycles": 0}}
    a = assess(parse_patient(doc))
    got = {x.code for x in a.advice + a.warnings}
    assert a.phase == Phase.after_pve
    assert "resection.pve_required" not in got
    assert "resection.flr_inadequate_after_pve" in got  # sFLR ≈ 18 % < 20 %
    assert "warning.low_kinetic_growth_rate" in got
    step = next(s for s in a.plan.steps if "resection.flr_inadequate_after_pve" in s.codes)
    assert "do not repeat PVE" in step.action
    # volumetry after PVE not yet done: ask for it
    doc["volumetry"] = {"flr_volume_ml": 300, "liver_condition": "normal"}
    got = set(codes_of(doc))
    assert "resection.pve_volumetry_pending" in got and "resection.pve_required" not in got


def test_defect6_one_definition_of_combining_for_a_rectal_primary() -> None:
    # segment 7 (grade III, minor) + anterior resection of an upper rectal tumour
    doc = {**RECTAL_GRADE_III,
           "primary": {**RECTAL_GRADE_III["primary"], "distance_from_anal_verge_cm": 12,
                       "planned_procedure": "anterior_resection"},
           "liver": {**RECTAL_GRADE_III["liver"], "planned_procedures": ["segmentectomy_7"]}}
    got = codes_of(doc)
    assert "sequencing.reverse" in got
    assert "resection.simultaneous_reasonable" not in got


def test_defect7_chemotherapy_already_given_is_not_prescribed_again() -> None:
    doc = {**RECTAL_GRADE_III, "chemotherapy": {"prehepatectomy_cycles": 10,
                                                 "regimen": "FOLFOX", "response": "PR"}}
    a = assess(parse_patient(doc))
    got = {x.code for x in a.advice + a.warnings}
    assert a.phase == Phase.preoperative_therapy
    assert "resection.preoperative_chemotherapy" not in got
    assert "warning.chemo_over_8_cycles" in got and "resection.proceed_to_hepatectomy" in got
    actions = " ".join(s.action for s in a.plan.steps)
    assert "Systemic chemotherapy" not in actions  # the reverse approach's first step is done


def test_defect10_no_fiducials_when_no_chemotherapy_is_planned() -> None:
    doc = {"primary": {"site": "left_colon", "resected": True, "node_positive": False},
           "liver": {"timing": "metachronous", "disease_free_interval_months": 30,
                     "number_of_metastases": 1, "largest_diameter_cm": 1.5,
                     "lesions": [{"segment": 7, "diameter_cm": 1.5, "deep": True}],
                     "resectability": "resectable"},
           "labs": {"cea_ng_ml": 4}, "chemotherapy": {"prehepatectomy_cycles": 0}}
    got = codes_of(doc)
    assert "resection.upfront_surgery" in got and "resection.fiducial_marker" not in got
    doc["liver"]["resectability"] = "borderline"
    got = codes_of(doc)
    assert "resection.preoperative_chemotherapy" in got and "resection.fiducial_marker" in got


def test_phase_from_the_timeline() -> None:
    base = {"primary": {"site": "left_colon", "resected": True},
            "liver": {"timing": "metachronous", "resectability": "resectable"}}

    def phase(*events: dict, **extra: object) -> Phase:
        return assess(parse_patient({**base, **extra, "treatments": list(events)})).phase

    chemo = {"kind": "systemic_therapy", "date": "2024-01-01", "end_date": "2024-03-01",
             "regimen": "folfox"}
    assert phase() == Phase.workup
    assert phase(chemo) == Phase.preoperative_therapy
    assert phase(chemo, {"kind": "pve", "date": "2024-04-01"}) == Phase.after_pve
    stage1 = {"kind": "hepatectomy", "date": "2024-04-01", "hepatectomy_stage": 1}
    assert phase(chemo, stage1) == Phase.between_stages
    assert phase(chemo, stage1, {"kind": "pve", "date": "2024-04-20"}) == Phase.between_stages
    stage2 = {"kind": "hepatectomy", "date": "2024-06-01", "hepatectomy_stage": 2}
    assert phase(chemo, stage1, stage2) == Phase.surveillance
    assert phase(chemo, stage1, stage2, {"kind": "recurrence", "date": "2025-01-01"}) == (
        Phase.workup)
    # a planned event after the assessment date is not done yet
    assert phase(chemo, {"kind": "hepatectomy", "date": "2025-06-01"},
                 assessment_date="2025-05-01") == Phase.preoperative_therapy
    # the old `operations` input maps onto the timeline
    old = {**base, "operations": [{"kind": "pve", "date": "2024-04-01"}]}
    assert assess(parse_patient(old)).phase == Phase.after_pve


def test_workup_after_a_resected_primary_says_so() -> None:
    """Metachronous disease after colectomy: the primary was treated; "no treatment given yet"
    would be false."""
    doc = {"primary": {"site": "left_colon", "resected": True},
           "liver": {"timing": "metachronous", "resectability": "resectable"},
           "chemotherapy": {"prehepatectomy_cycles": 0}}
    a = assess(parse_patient(doc))
    assert a.phase == Phase.workup
    assert a.plan.phase_reasons == ["primary tumour resected; no treatment of the liver "
                                    "metastases yet"]
    doc["primary"]["resected"] = False
    assert assess(parse_patient(doc)).plan.phase_reasons == ["no treatment given yet"]


def test_unknown_history_is_said_not_assumed_silently() -> None:
    a = assess(parse_patient({"liver": {"resectability": "resectable"}}))
    assert a.phase == Phase.workup and a.plan.phase_assumed
    assert a.plan.decision_points[0].missing == ["treatments"]


def test_vocabulary_labels_every_patient_field() -> None:
    from crlm.domain.treatment import TreatmentEvent
    from crlm.registry.dictionary import LEAVES

    missing = [p for p in LEAVES if p not in FIELDS]
    missing += [f"treatments.{n}" for n in TreatmentEvent.model_fields
                if f"treatments.{n}" not in FIELDS]
    assert not missing


def test_defect12_bibliography_states_only_what_the_sources_state() -> None:
    from crlm.evidence import BIBLIOGRAPHY, resolve

    maki = resolve("maki2023_sequencing")
    assert "reverse approach 141, classic 73, combined 60" in (maki.note or "")
    dutch = resolve("dutch_lfa_m1")
    assert dutch.authors is None and dutch.title is None and dutch.year is None
    assert "not stated" in (dutch.note or "")
    bolhuis = resolve("bolhuis2022")
    assert bolhuis.doi == "10.3390/cancers14102356" and bolhuis.journal.startswith("Cancers")
    assert "1,105" in (bolhuis.note or "") and "as quoted" not in bolhuis.citation()
    # every expected-outcome figure a clinician reads traces to a fully identified entry
    from conftest import EXAMPLES

    for path in EXAMPLES.glob("*.json"):
        a = assess(parse_patient(path.read_text(encoding="utf-8")))
        for score in a.scores.values():
            if score.expected_outcome:
                for key in score.evidence:
                    ref = BIBLIOGRAPHY[key]
                    assert ref.authors and ref.title and ref.year, (score.name, key)
    shorts = [r.short for r in BIBLIOGRAPHY.values()]
    assert "Maki 2023a" in shorts and "Maki 2023b" in shorts and "AHPBA guideline 2025" in shorts
    assert len(set(shorts)) == len(shorts), "every in-text citation names one reference"
