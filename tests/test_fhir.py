"""FHIR interchange: lossless round trip, mCODE structure, determinism, clear import errors."""

from __future__ import annotations

import contextlib
import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from tests.conftest import EXAMPLES
from tests.registry_support import rich_patient
from tests.strategies import patient_documents
from typer.testing import CliRunner

from crlm.cli import app
from crlm.domain import Patient, parse_patient
from crlm.registry.fhir import MCODE, FhirImportError, fhir_to_patient, patient_to_fhir


def _round_trip(p: Patient) -> Patient:
    return fhir_to_patient(json.loads(json.dumps(patient_to_fhir(p))))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(patient_documents)
def test_round_trip_is_lossless_for_any_valid_patient(doc: dict) -> None:
    p = parse_patient(doc)
    assert _round_trip(p) == p


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_examples_round_trip(path: Path) -> None:
    p = parse_patient(path.read_text())
    assert _round_trip(p) == p


def test_empty_lists_stay_apart_from_unknown() -> None:
    for doc in ({"liver": {"lesions": []}, "operations": []}, {}):
        p = parse_patient({"id": "E1", **doc})
        assert _round_trip(p) == p


def _resources(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle["entry"]]


def test_mcode_structure_loinc_ucum_hgnc() -> None:
    bundle = patient_to_fhir(rich_patient())
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    res = _resources(bundle)
    profiles = {p for r in res for p in r.get("meta", {}).get("profile", [])}
    for name in ("mcode-primary-cancer-condition", "mcode-secondary-cancer-condition",
                 "mcode-tumor-size", "mcode-tnm-primary-tumor-category"):
        assert MCODE + name in profiles
    cea = next(r for r in res if r.get("code", {}).get("coding", [{}])[0].get("code") == "2039-6")
    assert cea["code"]["coding"][0]["system"] == "http://loinc.org"
    assert cea["valueQuantity"] == {"value": 12.0, "unit": "ng/mL",
                                    "system": "http://unitsofmeasure.org", "code": "ng/mL"}
    kras = next(r for r in res if any(
        c.get("valueCodeableConcept", {}).get("coding", [{}])[0].get("code") == "HGNC:6407"
        for c in r.get("component", [])))
    assert kras["code"]["coding"][0]["code"] == "69548-6"
    assert kras["valueCodeableConcept"]["coding"][0]["code"] == "LA9633-4"  # present
    secondary = next(r for r in res if MCODE + "mcode-secondary-cancer-condition"
                     in r.get("meta", {}).get("profile", []))
    urls = {e["url"].rsplit("/", 1)[-1] for e in secondary["extension"]}
    assert {"liver.number_of_metastases", "liver.margin_mm", "tumour-burden-score",
            "liver.lesions"} <= urls
    refs = {r["subject"]["reference"] for r in res if "subject" in r}
    patient_id = next(r["id"] for r in res if r["resourceType"] == "Patient")
    assert refs == {f"urn:uuid:{patient_id}"}
    assert f"urn:uuid:{patient_id}" in {e["fullUrl"] for e in bundle["entry"]}


def test_export_is_deterministic() -> None:
    assert patient_to_fhir(rich_patient()) == patient_to_fhir(rich_patient())
    ids = [e["resource"]["id"] for e in patient_to_fhir(rich_patient())["entry"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b.update(resourceType="Patient"), "resourceType must be 'Bundle'"),
        (lambda b: b["entry"].append({"resource": {"resourceType": "Encounter"}}),
         "unsupported resource type 'Encounter'"),
        (lambda b: b["entry"][0]["resource"]["extension"].append(
            {"url": "http://example.org/x", "valueString": "y"}), "unsupported extension"),
        (lambda b: b["entry"][0]["resource"].update(gender="robot"), "sex"),
    ],
)
def test_bad_bundle_names_the_element(mutate, needle: str) -> None:  # type: ignore[no-untyped-def]
    bundle = copy.deepcopy(patient_to_fhir(rich_patient()))
    mutate(bundle)
    with pytest.raises(FhirImportError, match=needle):
        fhir_to_patient(bundle)


def test_cli_round_trip(tmp_path: Path) -> None:
    runner = CliRunner()
    bundle = tmp_path / "b.json"
    back = tmp_path / "p.json"
    src = EXAMPLES / "bilobar_pve.json"
    assert runner.invoke(app, ["fhir", "export", str(src), "-o", str(bundle)]).exit_code == 0
    assert runner.invoke(app, ["fhir", "import", str(bundle), "-o", str(back)]).exit_code == 0
    assert parse_patient(back.read_text()) == parse_patient(src.read_text())
    bundle.write_text('{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "X"}}]}')
    res = runner.invoke(app, ["fhir", "import", str(bundle)])
    assert res.exit_code == 2 and "Bundle.entry[0]" in res.stderr


def _patient_resource(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


@pytest.mark.parametrize(("birth_date", "needle"), [
    ("1999-02-30", "'1999-02-30' is not a calendar date"),
    ("03/02/1960", "is not a date (YYYY-MM-DD)"),
    ("1860-01-01", "not a plausible birth date"),
    ("1960", "a full birth date and the assessment date are needed"),
    ("1990-01-01", "gives age 34 at the assessment date, but the age recorded is 61"),
])
def test_invalid_birth_date_is_an_error_not_a_drop(birth_date: str, needle: str) -> None:
    bundle = patient_to_fhir(rich_patient())
    _patient_resource(bundle)["birthDate"] = birth_date
    with pytest.raises(FhirImportError, match=re.escape(needle)) as err:
        fhir_to_patient(bundle)
    assert "Bundle.entry[0].resource(Patient).birthDate" in str(err.value)


def test_valid_birth_date_gives_the_age_at_assessment() -> None:
    bundle = patient_to_fhir(rich_patient(age_years=None))  # assessed 2024-04-15
    _patient_resource(bundle)["birthDate"] = "1962-04-16"
    assert fhir_to_patient(bundle).age_years == 61
    _patient_resource(bundle)["birthDate"] = "1962-04-15"
    assert fhir_to_patient(bundle).age_years == 62


@pytest.mark.parametrize(("mutate", "needle", "options"), [
    (lambda r: r.update(name=[{"family": "Kowalczyk"}]), "Patient).name: not an element",
     ["--strict"]),
    (lambda r: r.update(extension="x"), "Patient).extension: expected a list", []),
    (lambda r: r["extension"].append(5), "expected an object with a url", []),
    (lambda r: r.update(meta="x"), "Patient).meta: expected an object", []),
    (lambda r: r.update(gender=["male"]), "Patient).gender: expected text", []),
])
def test_malformed_bundles_exit_2_naming_the_element(tmp_path: Path, mutate, needle,  # type: ignore[no-untyped-def]
                                                     options) -> None:
    bundle = patient_to_fhir(rich_patient())
    mutate(_patient_resource(bundle))
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    res = CliRunner().invoke(app, ["fhir", "import", str(path), *options])
    assert res.exit_code == 2, res.output
    assert needle in res.stderr


def test_malformed_resources_never_give_a_traceback(tmp_path: Path) -> None:
    """Every element of every resource replaced by a value of the wrong shape: exit 2."""
    bundle = patient_to_fhir(rich_patient())
    for i, entry in enumerate(bundle["entry"]):
        for key in entry["resource"]:
            for bad in (5, "x", [], {}, [5], None):
                broken = copy.deepcopy(bundle)
                broken["entry"][i]["resource"][key] = bad
                with contextlib.suppress(FhirImportError):  # the CLI's exit 2
                    fhir_to_patient(broken)
    runner = CliRunner()
    path = tmp_path / "b.json"
    path.write_bytes(b"\xff\xfe{")
    assert runner.invoke(app, ["fhir", "import", str(path)]).exit_code == 2


def test_notes_travel_in_the_identified_bundle() -> None:
    p = rich_patient(notes="seen by Dr Who")
    assert _round_trip(p).notes == "seen by Dr Who"
