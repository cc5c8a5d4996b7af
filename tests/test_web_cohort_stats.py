"""Web cohort page helpers: Table 1 never tests the grouping against itself; score validation."""

from __future__ import annotations

import pytest

from crlm.registry.analysis import frame_of
from crlm.synth import synthetic_rectal_cohort, to_patients
from crlm.web.cohort import Endpoint, SurvivalOrigin, summarise, validate_scores


@pytest.fixture(scope="module")
def patients():  # type: ignore[no-untyped-def]  (the cohort frame)
    return frame_of(list(to_patients(synthetic_rectal_cohort(120, seed=5))))


@pytest.mark.parametrize(("grouping", "own"), [
    ("sex", "Sex"), ("largest_diameter", "Largest metastasis"),
    ("number_of_metastases", "Number of metastases")])
def test_table1_leaves_out_the_grouping_variable(patients: list, grouping: str, own: str
                                                 ) -> None:
    summary = summarise(patients, grouping)
    assert summary.problem is None
    labels = [row[0] for row in summary.rows]
    assert not any(label.startswith(own) for label in labels), labels
    assert any(label.startswith("Age") for label in labels)


def test_cohort_page_validates_the_scores(patients: list) -> None:
    table = validate_scores(patients, Endpoint.overall_survival, SurvivalOrigin.diagnosis)
    assert table.problem is None
    assert [row[0] for row in table.rows] == ["Tumour burden score"]
    assert table.columns[3] == "Harrell's C (95% CI)"
    assert any("Fong clinical risk score not validated" in f for f in table.footnotes)


def test_cohort_page_competing_risks(patients: list) -> None:
    from crlm.web.cohort import competing_risks

    table = competing_risks(patients, "sex", SurvivalOrigin.diagnosis)
    assert table.problem is None, table.problem
    assert table.columns == ["Group", "Event", "1 year (%)", "3 years (%)", "5 years (%)"]
    # synthetic deaths all follow a recurrence: only the recurrence curve exists here
    assert {row[1] for row in table.rows} == {"Recurrence"}
    assert {row[0] for row in table.rows} == {"female", "male"}
    assert "Gray's test for recurrence" in table.footnotes[0]


def test_competing_risks_of_one_group_or_none_say_what_is_missing(patients: list) -> None:
    from crlm.web.cohort import competing_risks

    one_sex = patients[patients["sex"] == "female"]
    table = competing_risks(one_sex, "sex", SurvivalOrigin.diagnosis)
    assert table.problem is None and {row[0] for row in table.rows} == {"female"}
    assert "Gray's test needs two groups or more." in table.footnotes[0]
    empty = competing_risks(patients.iloc[:0], "sex", SurvivalOrigin.diagnosis)
    assert empty.problem == ("Competing risks not computable: no patient has follow-up and a "
                             "known group.")


def test_table1_of_one_group_says_so_in_words(patients: list) -> None:
    one = summarise(patients[patients["sex"] == "female"], "sex")
    assert one.problem == ("Table 1 compares groups (Sex): this cohort has only female; "
                           "choose another grouping.")
    none = summarise(patients.iloc[:0], "sex")
    assert none.problem is not None and "no patient with a known value" in none.problem
