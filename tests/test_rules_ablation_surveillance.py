"""Ablation margin and surveillance: exactly-one invariants, dated schedules, ctDNA."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crlm.clinical.phase import Phase, current_phase
from crlm.clinical.rules import Findings, all_rules, evaluate_rules
from crlm.clinical.rules._facts import add_months
from crlm.clinical.timeline import build_timeline
from crlm.domain import parse_patient
from rules_support import one, run

MARGINS = {"ablation.margin_5mm", "ablation.margin_10mm"}
SURVEILLANCE = {"surveillance.standard", "surveillance.intensive_beyond_2y"}


@pytest.mark.parametrize(
    ("molecular", "code", "mm"),
    [
        ({"kras": "wildtype", "nras": "wildtype"}, "ablation.margin_5mm", 5),
        ({"kras": "mutant"}, "ablation.margin_10mm", 10),
        ({"kras": "wildtype", "nras": "mutant"}, "ablation.margin_10mm", 10),
        ({"kras": "wildtype"}, "ablation.margin_10mm", 10),  # NRAS unknown → RAS unknown
        ({"kras": "wildtype", "nras": "unknown"}, "ablation.margin_10mm", 10),
        ({}, "ablation.margin_10mm", 10),
    ],
)
def test_ablation_margin_by_ras(molecular: dict, code: str, mm: int) -> None:
    advice = run({"molecular": molecular})
    assert [a.code for a in advice if a.code in MARGINS] == [code]
    item = one(advice, code)
    assert item.details["margin_mm"] == mm
    assert item.kind == "information"  # no ablation planned
    if molecular.get("kras") != "mutant" and mm == 10 and molecular.get("nras") != "mutant":
        assert item.details["missing"] == ["molecular.kras", "molecular.nras"]
        assert "unknown" in item.rationale


def test_ablation_margin_is_advice_when_ablation_planned() -> None:
    item = one(run({"liver": {"planned_ablation": True}}), "ablation.margin_10mm")
    assert item.kind == "advice" and "ablation planned" in item.recommendation


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2023, 1, 31), 1) == dt.date(2023, 2, 28)
    assert add_months(dt.date(2024, 11, 15), 3) == dt.date(2025, 2, 15)
    assert add_months(dt.date(2024, 1, 31), 60) == dt.date(2029, 1, 31)


HEPATECTOMIES = [
    {"kind": "hepatectomy", "date": "2023-06-10"},
    {"kind": "pve", "date": "2023-12-01"},
    {"kind": "hepatectomy", "date": "2024-01-31"},  # the latest hepatectomy: the anchor
]


def test_standard_schedule_dated_from_latest_hepatectomy() -> None:
    advice = run({"operations": HEPATECTOMIES,
                  "molecular": {"kras": "wildtype", "nras": "wildtype"}})
    assert [a.code for a in advice if a.code in SURVEILLANCE] == ["surveillance.standard"]
    item = one(advice, "surveillance.standard")
    visits = item.details["visits"]
    assert item.details["resection_date"] == "2024-01-31"
    assert [v["month"] for v in visits] == [3, 6, 9, 12, 15, 18, 21, 24, 30, 36, 42, 48, 54, 60]
    assert visits[0]["date"] == "2024-04-30"  # 31 Jan + 3 months → 30 Apr
    assert visits[7]["date"] == "2026-01-31"  # month 24
    assert visits[8]["date"] == "2026-07-31"  # month 30
    assert visits[-1]["date"] == "2029-01-31"  # 5 years
    assert visits[0]["interval_months_range"] == [3, 6]
    assert visits[8]["interval_months_range"] == [6, 12]
    assert visits[0]["tests"] == ["clinical visit", "CEA", "CT chest/abdomen/pelvis"]
    assert "14 visits" in item.recommendation and "2024-01-31" in item.recommendation
    assert "missing" not in item.details


def test_intensive_schedule_for_ras_mutant() -> None:
    advice = run({"operations": HEPATECTOMIES, "molecular": {"kras": "mutant"}})
    assert [a.code for a in advice if a.code in SURVEILLANCE] == [
        "surveillance.intensive_beyond_2y"]
    visits = one(advice, "surveillance.intensive_beyond_2y").details["visits"]
    assert [v["month"] for v in visits] == list(range(3, 61, 3))
    assert visits[8] == {"month": 27, "date": "2026-04-30", "interval_months_range": [3, 6],
                         "tests": ["clinical visit", "CEA", "CT chest/abdomen/pelvis"]}
    assert visits[-1]["date"] == "2029-01-31"


def test_schedule_without_resection_date_is_relative_and_says_so() -> None:
    item = one(run({"operations": [{"kind": "hepatectomy"}]}), "surveillance.standard")
    assert all(v["date"] is None for v in item.details["visits"])
    assert item.details["missing"] == ["treatments.date", "molecular.kras", "molecular.nras"]
    assert "RAS status unknown" in item.rationale


def test_ctdna_information_in_surveillance() -> None:
    item = one(run({"operations": HEPATECTOMIES, "primary": {"resected": True}}),
               "surveillance.ctdna_information")
    assert item.kind == "information" and "newhook2022_ctdna" in item.evidence


# ------------------------------------------------------------------ hypothesis invariants

MUT = st.sampled_from([None, "mutant", "wildtype", "unknown"])
maybe = st.none() | st.booleans()


@st.composite
def patients(draw: st.DrawFn) -> dict:
    n = draw(st.none() | st.integers(0, 30))
    lesions = draw(st.lists(
        st.fixed_dictionaries({"diameter_cm": st.floats(0.2, 4.0), "deep": maybe,
                               "segment": st.integers(1, 8)}),
        max_size=min(n, 3) if n is not None else 3))
    largest = draw(st.none() | st.floats(4.0, 15.0))
    synchronous = draw(st.sampled_from([None, "synchronous", "metachronous"]))
    liver = {
        "timing": synchronous,
        "number_of_metastases": n,
        "largest_diameter_cm": largest,
        "bilobar": draw(maybe),
        "extensive_disease": draw(maybe),
        "lesions": lesions or None,
        "planned_procedures": draw(st.none() | st.lists(st.sampled_from(
            ["wedge_resection", "right_hepatectomy", "left_hepatectomy", "segmentectomy_7"]),
            max_size=2)),
        "planned_ablation": draw(maybe),
        "resectability": draw(st.sampled_from([None, "resectable", "borderline",
                                               "unresectable"])),
        "prior_two_stage_hepatectomy": draw(maybe),
        "intrahepatic_progression": draw(maybe),
    }
    primary = {
        "site": draw(st.sampled_from([None, "rectum", "left_colon", "right_colon",
                                      "transverse_colon"])),
        "distance_from_anal_verge_cm": draw(st.none() | st.floats(0, 20)),
        "symptoms": draw(st.none() | st.lists(st.sampled_from(
            ["bleeding", "obstruction", "perforation", "pain"]), max_size=2)),
        "resected": draw(maybe),
        "planned_procedure": draw(st.sampled_from([None, "abdominoperineal_resection",
                                                   "low_anterior_resection_with_diversion",
                                                   "anterior_resection", "right_colectomy",
                                                   "total_colectomy"])),
        "locally_advanced": draw(maybe),
        "clinical_complete_response": draw(maybe),
        "date_of_diagnosis": draw(st.none() | st.just("2019-05-02")),
    }
    ops = draw(st.none() | st.lists(st.fixed_dictionaries({
        "kind": st.sampled_from(["hepatectomy", "primary_resection", "pve"]),
        "date": st.none() | st.dates(dt.date(2020, 1, 1), dt.date(2024, 12, 31)).map(str),
    }), max_size=3))
    molecular = {"kras": draw(MUT), "nras": draw(MUT), "tp53": draw(MUT),
                 "braf": draw(st.sampled_from([None, "v600e", "non_v600e", "wildtype"])),
                 "msi": draw(st.sampled_from([None, "msi_high", "mss"])),
                 "her2": draw(st.sampled_from([None, "amplified", "not_amplified"]))}
    chemo = {"prehepatectomy_cycles": draw(st.none() | st.integers(0, 16)),
             "duration_weeks": draw(st.none() | st.floats(0, 40)),
             "anti_vegf": draw(maybe),
             "response": draw(st.sampled_from([None, "CR", "PR", "SD", "PD"]))}

    def clean(d: dict) -> dict:
        return {k: v for k, v in d.items() if v is not None}

    return clean({
        "assessment_date": draw(st.none() | st.just("2025-01-15")),
        "primary": clean(primary), "liver": clean(liver), "molecular": clean(molecular),
        "chemotherapy": clean(chemo), "operations": ops,
        "extrahepatic_disease": draw(maybe),
        "labs": {"cea_ng_ml": draw(st.floats(0, 500))},
    })


@st.composite
def findings(draw: st.DrawFn) -> Findings:
    value = draw(st.none() | st.integers(0, 5))
    lo = draw(st.integers(0, 5))
    rng = None if value is not None else draw(st.none() | st.just([lo, draw(st.integers(lo, 5))]))
    return Findings(
        complexity_grade=draw(st.sampled_from([None, "I", "II", "III"])),
        major_hepatectomy=draw(maybe),
        flr_percent=draw(st.none() | st.floats(5, 80)),
        flr_threshold_percent=draw(st.sampled_from([None, 20.0, 30.0, 40.0])),
        flr_adequate=draw(maybe),
        kinetic_growth_rate_percent_per_week=draw(st.none() | st.floats(0, 8)),
        tumour_burden_score=draw(st.none() | st.floats(0, 20)),
        scores={"fong_crs": {"value": value, "range": rng, "missing": []}},
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patients(), findings())
def test_exactly_one_margin_and_one_surveillance_code(raw: dict, f: Findings) -> None:
    patient = parse_patient(raw)
    timeline = build_timeline(patient)
    phase = current_phase(patient, timeline).phase
    f = dataclasses.replace(f, timeline=timeline, phase=phase)
    advice = evaluate_rules(patient, f)
    got = [a.code for a in advice]
    json.dumps([a.model_dump(mode="json") for a in advice])  # every item serialises
    assert all(a.rationale and a.recommendation for a in advice)
    # exactly one margin / surveillance code in the phases those rules speak to, else none
    margin_phases = {s.phases for s in all_rules() if s.name == "ablation.ablation_margin"}
    surveillance_phases = {Phase.surveillance, Phase.primary_pending}
    assert sum(c in MARGINS for c in got) == (1 if phase in next(iter(margin_phases)) else 0)
    assert sum(c in SURVEILLANCE for c in got) == (1 if phase in surveillance_phases else 0)
    # mutually exclusive decisions never appear together
    for group in (
        {"sequencing.combined", "sequencing.reverse", "sequencing.undetermined"},
        {"systemic.anti_egfr_candidate", "systemic.anti_egfr_not_indicated",
         "systemic.anti_egfr_undetermined"},
        {"transplant.consider_evaluation", "transplant.not_candidate",
         "transplant.eligibility_incomplete"},
        {"resection.upfront_surgery", "resection.preoperative_chemotherapy",
         "resection.chemotherapy_timing_undetermined"},
        {"resection.pve_required", "resection.flr_adequate", "resection.flr_undetermined"},
    ):
        assert sum(c in group for c in got) <= 1, (group, got)
    # the margin follows RAS exactly; unknown RAS never gets 5 mm
    ras = patient.molecular.ras
    expected = "ablation.margin_5mm" if ras is not None and ras.value == "wildtype" else (
        "ablation.margin_10mm")
    assert expected in got or phase not in next(iter(margin_phases))
    # grade III never combined
    if f.complexity_grade == "III":
        assert "sequencing.combined" not in got
