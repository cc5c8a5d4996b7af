"""Liver-first vs M1 schedule (seed 002) and the seed 000 / seed 002 disagreement."""

from __future__ import annotations

from rules_support import codes, one, rectal, run

SCHEDULE = ("schedule.m1_option", "schedule.liver_first_option", "schedule.either_schedule",
            "schedule.undetermined")


def larc(symptoms: list[str] | None, extensive: bool | None) -> dict:
    liver = {} if extensive is None else {"extensive_disease": extensive}
    prim: dict = {"locally_advanced": True, "liver": liver}
    if symptoms is not None:
        prim["symptoms"] = symptoms
    return rectal(7, **prim)


def sched(patient: dict) -> list[str]:
    return [c for c in codes(patient) if c in SCHEDULE]


def test_both_options_shown_when_both_apply() -> None:
    advice = run(larc(["bleeding"], True))
    got = [a.code for a in advice if a.code in SCHEDULE]
    assert got == ["schedule.m1_option", "schedule.liver_first_option"]
    for code in got:
        item = one(advice, code)
        assert "Liver-first precludes simultaneous resection" in item.rationale
        assert "33 % major liver complications" in item.rationale
        assert item.details["simultaneous_resection_major_liver_complications_m1_percent"] == 33
        assert item.details["treatment_duration_weeks_median"] == {"LFA": 44.0, "M1": 35.9}


def test_single_options_and_neither() -> None:
    assert sched(larc(["obstruction"], False)) == ["schedule.m1_option"]
    assert sched(larc(["pain"], True)) == ["schedule.liver_first_option"]
    assert sched(larc([], False)) == ["schedule.either_schedule"]


def test_unknown_inputs_are_named() -> None:
    advice = run(larc(None, None))
    item = one(advice, "schedule.undetermined")
    assert item.details["missing"] == ["primary.symptoms", "liver.extensive_disease"]
    advice = run(larc(["bleeding"], None))
    assert [a.code for a in advice if a.code in SCHEDULE] == [
        "schedule.m1_option", "schedule.undetermined"]
    assert one(advice, "schedule.undetermined").details["missing"] == ["liver.extensive_disease"]
    # local stage unknown
    item = one(run(rectal(7)), "schedule.undetermined")
    assert item.details["missing"] == ["primary.locally_advanced"]


def test_not_locally_advanced_or_not_rectal_has_no_schedule() -> None:
    assert sched(rectal(7, locally_advanced=False, symptoms=["bleeding"])) == []
    assert sched({"primary": {"site": "right_colon", "locally_advanced": True},
                  "liver": {"timing": "synchronous"}}) == []


def test_disagreement_shows_both_options_with_both_sources() -> None:
    advice = run(larc(["bleeding"], False))
    item = one(advice, "schedule.sources_disagree")
    assert item.evidence == ["dutch_lfa_m1", "maki2023_sequencing"]
    sources = [o["source"] for o in item.details["options"]]
    assert sources == ["dutch_lfa_m1", "maki2023_sequencing"]
    assert "Dutch LFA vs M1 study" in item.recommendation and "Maki 2023a" in item.recommendation
    assert item.kind == "disagreement"
    assert "217 of 225" in item.rationale
    # and the seed 000 reverse approach is still shown alongside the M1 option
    patient = larc(["bleeding"], False)
    patient["liver"]["planned_procedures"] = ["right_hepatectomy"]
    got = codes(patient, complexity_grade="III")
    assert "schedule.m1_option" in got and "sequencing.reverse" in got


def test_no_disagreement_without_symptoms() -> None:
    assert "schedule.sources_disagree" not in codes(larc([], True))
    assert "schedule.sources_disagree" not in codes(larc(None, True))
