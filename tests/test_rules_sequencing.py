"""Sequencing for synchronous rectal liver metastases (seed 000) and its warnings."""

from __future__ import annotations

import pytest

from rules_support import codes, one, rectal, run

SEQ = ("sequencing.combined", "sequencing.reverse", "sequencing.undetermined")


def seq_codes(patient: dict, **findings: object) -> list[str]:
    return [c for c in codes(patient, **findings) if c in SEQ]


def test_seed000_worked_case_reverse_not_combined() -> None:
    # rectal 6 cm from the verge, 4 bilobar lesions, right hepatectomy planned (grade III)
    patient = rectal(6, liver={"number_of_metastases": 4, "bilobar": True,
                               "planned_procedures": ["right_hepatectomy"]})
    advice = run(patient, complexity_grade="III", major_hepatectomy=True)
    got = [a.code for a in advice]
    assert "sequencing.reverse" in got and "sequencing.combined" not in got
    rev = one(advice, "sequencing.reverse")
    assert "grade III hepatectomy (right hepatectomy) → combined resection not advised" in (
        rev.rationale)
    assert "6 cm from the anal verge (≤ 10 cm) → complex rectal resection" in rev.rationale
    steps = rev.details["steps"]
    assert steps[0].startswith("systemic chemotherapy: MD Anderson standard FOLFOX + bevacizumab")
    assert "8–12 weeks" in steps[0] and "5–6 weeks" in steps[1]
    assert "short-course radiotherapy" in steps[2] and "primary tumour resection" in steps[3]
    # one definition per decision: a rectal primary's combination is decided by the sequencing
    # rule (complexity grade), never also by the colon staged/simultaneous rule
    assert not {"resection.staged", "resection.simultaneous_reasonable"} & set(got)
    assert "imaging.volumetry" in got


@pytest.mark.parametrize(
    ("distance", "expected"),
    [(10.0, "sequencing.reverse"), (10.1, "sequencing.combined"), (3.0, "sequencing.reverse")],
)
def test_distance_boundary_without_planned_procedure(distance: float, expected: str) -> None:
    assert seq_codes(rectal(distance), complexity_grade="I") == [expected]


@pytest.mark.parametrize(
    ("procedure", "expected"),
    [
        ("low_anterior_resection_with_diversion", "sequencing.reverse"),
        ("abdominoperineal_resection", "sequencing.reverse"),
        ("anterior_resection", "sequencing.combined"),
        ("low_anterior_resection", "sequencing.combined"),
    ],
)
def test_planned_procedure_overrides_distance(procedure: str, expected: str) -> None:
    # a planned procedure decides complexity even for a low tumour (4 cm)
    got = seq_codes(rectal(4, planned_procedure=procedure), complexity_grade="II")
    assert got == [expected]


def test_grade_iii_never_combined_even_for_upper_tumour() -> None:
    advice = run(rectal(15, planned_procedure="anterior_resection",
                        liver={"planned_procedures": ["segmentectomy_7"]}),
                 complexity_grade="III")
    assert [a.code for a in advice if a.code in SEQ] == ["sequencing.reverse"]
    assert "grade III hepatectomy (segmentectomy 7)" in one(advice, "sequencing.reverse").rationale


def test_unknown_grade_or_procedure_says_what_is_missing() -> None:
    advice = run(rectal(12))  # no grade
    item = one(advice, "sequencing.undetermined")
    assert item.kind == "information"
    assert item.details["missing"] == ["hepatectomy complexity grade (liver.planned_procedures)"]
    advice = run(rectal(None), complexity_grade="I")  # no distance, no procedure
    item = one(advice, "sequencing.undetermined")
    assert item.details["missing"] == [
        "primary.planned_procedure or primary.distance_from_anal_verge_cm"]
    assert "sequencing.combined" not in [a.code for a in advice]
    # unknown grade but a complex rectal resection: reverse is already decided
    assert seq_codes(rectal(5)) == ["sequencing.reverse"]


def test_sequencing_only_for_synchronous_rectal_primary_in_place() -> None:
    assert seq_codes({"primary": {"site": "left_colon"}, "liver": {"timing": "synchronous"}},
                     complexity_grade="III") == []
    assert seq_codes(rectal(6, liver={"timing": "metachronous"}), complexity_grade="III") == []
    assert seq_codes(rectal(6, resected=True), complexity_grade="III") == []
    assert seq_codes({"primary": {"distance_from_anal_verge_cm": 6}}, complexity_grade="III") == []


def test_diversion_first_for_obstruction_or_perforation_only() -> None:
    assert "sequencing.diversion_first" in codes(rectal(6, symptoms=["obstruction"]))
    assert "sequencing.diversion_first" in codes(rectal(6, symptoms=["perforation"]))
    assert "sequencing.diversion_first" not in codes(rectal(6, symptoms=["bleeding"]))
    assert "sequencing.diversion_first" not in codes(rectal(6))


@pytest.mark.parametrize(("distance", "easy", "classic"),
                         [(10.0, True, False), (10.1, True, True), (None, True, False),
                          (14, None, False)])
def test_classic_option_for_easily_resectable_upper_tumour(distance: float | None,
                                                           easy: bool | None,
                                                           classic: bool) -> None:
    extra = {} if easy is None else {"easily_resectable": easy}
    got = codes(rectal(distance, symptoms=["obstruction"], **extra))
    assert "sequencing.diversion_first" in got
    # defect 11: an unknown "easily resectable" is never read as yes
    assert ("sequencing.classic" in got) is classic


def test_unknown_timing_or_resection_status_asks_instead_of_assuming() -> None:
    """Defect 11: an obstructing rectal primary with unknown timing, or an unknown
    primary.resected, yields a 'cannot decide' naming the field — never silence or a guess."""
    advice = run({"primary": {"site": "rectum", "symptoms": ["obstruction"]}})
    item = one(advice, "sequencing.applicability_undetermined")
    assert "liver.timing" in item.details["missing"]
    advice = run({"primary": {"site": "rectum"}, "liver": {"timing": "synchronous"}},
                 complexity_grade="III")
    item = one(advice, "sequencing.applicability_undetermined")
    assert item.details["missing"] == ["primary.resected"]
    assert "sequencing.reverse" not in [a.code for a in advice]


def test_classic_option_other_triggers_and_exclusions() -> None:
    assert "sequencing.classic" not in codes(rectal(14, symptoms=["obstruction"],
                                                    easily_resectable=False))
    assert "sequencing.classic" not in codes(rectal(14, symptoms=["bleeding"]))
    got = run(rectal(5, declines_chemotherapy_before_resection=True))
    assert "cannot accept chemotherapy" in one(got, "sequencing.classic").rationale


def test_watch_and_wait_after_complete_clinical_response() -> None:
    assert "sequencing.watch_and_wait_option" in codes(rectal(5, clinical_complete_response=True))
    assert "sequencing.watch_and_wait_option" not in codes(
        rectal(5, clinical_complete_response=False))
    assert "sequencing.watch_and_wait_option" not in codes(rectal(5))


@pytest.mark.parametrize(
    ("molecular", "warned"),
    [
        ({"kras": "mutant", "tp53": "mutant"}, True),
        ({"nras": "mutant", "tp53": "mutant"}, True),
        ({"kras": "mutant", "tp53": "wildtype"}, False),
        ({"kras": "mutant"}, False),  # TP53 unknown: no co-mutation asserted
        ({"kras": "wildtype", "nras": "wildtype", "tp53": "mutant"}, False),
    ],
)
def test_ras_tp53_comutation(molecular: dict, warned: bool) -> None:
    advice = run({"molecular": molecular})
    assert ("warning.ras_tp53_comutation" in [a.code for a in advice]) is warned
    if warned:
        item = one(advice, "warning.ras_tp53_comutation")
        assert item.kind == "warning" and "OR 0.16" in item.rationale


@pytest.mark.parametrize(("cycles", "warned"), [(8, False), (9, True), (0, False)])
def test_more_than_8_cycles_boundary(cycles: int, warned: bool) -> None:
    advice = run({"chemotherapy": {"prehepatectomy_cycles": cycles}})
    assert ("warning.chemo_over_8_cycles" in [a.code for a in advice]) is warned
    if warned:
        assert "9 pre-hepatectomy cycles (> 8)" in one(advice, "warning.chemo_over_8_cycles"
                                                       ).rationale
        assert "HR 1.94" in one(advice, "warning.chemo_over_8_cycles").rationale


@pytest.mark.parametrize(("largest", "warned"), [(5.0, False), (5.1, True)])
def test_largest_over_5cm_boundary(largest: float, warned: bool) -> None:
    advice = run({"liver": {"largest_diameter_cm": largest}})
    assert ("warning.largest_over_5cm" in [a.code for a in advice]) is warned
    if warned:
        assert "HR 1.83" in one(advice, "warning.largest_over_5cm").rationale
