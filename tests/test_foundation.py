"""Foundation: package, domain validation basics, bibliography integrity."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from crlm.domain import format_validation_error, parse_patient
from crlm.evidence import BIBLIOGRAPHY, resolve


def test_unknown_field_is_named() -> None:
    with pytest.raises(ValidationError) as exc:
        parse_patient({"liver": {"number_of_metastasis": 3}})
    assert "liver.number_of_metastasis: unknown field" in format_validation_error(exc.value)


@pytest.mark.parametrize(
    ("patient", "field"),
    [
        ({"labs": {"cea_ng_ml": -0.1}}, "labs.cea_ng_ml"),
        ({"liver": {"largest_diameter_cm": 0}}, "liver.largest_diameter_cm"),
        ({"liver": {"largest_diameter_cm": 30.5}}, "liver.largest_diameter_cm"),
        ({"liver": {"number_of_metastases": 201}}, "liver.number_of_metastases"),
        ({"liver": {"number_of_metastases": -1}}, "liver.number_of_metastases"),
        ({"age_years": 17}, "age_years"),
        ({"age_years": 111}, "age_years"),
        ({"height_cm": 40}, "height_cm"),
        ({"weight_kg": 900}, "weight_kg"),
        ({"labs": {"cea_ng_ml": "12"}}, "labs.cea_ng_ml"),
        ({"extrahepatic_disease": 1}, "extrahepatic_disease"),
    ],
)
def test_impossible_values_name_the_field(patient: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_patient(patient)
    assert format_validation_error(exc.value).startswith(field + ":")


def test_missing_is_unknown_not_default() -> None:
    p = parse_patient({})
    assert p.labs.cea_ng_ml is None
    assert p.primary.is_node_positive is None
    assert p.molecular.ras is None


def test_dates_in_order() -> None:
    with pytest.raises(ValidationError, match=r"before primary\.date_of_diagnosis"):
        parse_patient(
            {
                "primary": {"date_of_diagnosis": "2024-03-01"},
                "operations": [{"kind": "hepatectomy", "date": "2024-01-01"}],
            }
        )


def test_bibliography_entries_complete() -> None:
    for key, ref in BIBLIOGRAPHY.items():
        assert ref.key == key
        assert ref.journal and ref.short
        if ref.authors is None or ref.title is None or ref.year is None:
            # only what the source states: the rest is unknown, and the note says so
            assert ref.note and "not stated" in ref.note
        else:
            assert 1900 < ref.year < 2030
        assert ref.doi is None or ref.doi.startswith("10.")
    with pytest.raises(KeyError, match="unknown evidence key"):
        resolve("nope")
