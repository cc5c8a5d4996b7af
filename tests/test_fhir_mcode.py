"""mCODE conformance of every resource crlm writes; reading mCODE bundles from other systems."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from tests.conftest import EXAMPLES
from tests.fhir_profiles import Bundle, check_resource, structure
from tests.registry_support import rich_patient
from tests.strategies import patient_documents
from typer.testing import CliRunner

from crlm.cli import app
from crlm.domain import Patient, parse_patient
from crlm.registry.fhir import MCODE, PROFILE, FhirImportError, fhir_to_patient, patient_to_fhir
from crlm.registry.fhir_read import read_bundle

FHIR = Path(__file__).parent / "fixtures" / "fhir"
CARL = FHIR / "mcode-colorectal-carl-colon.json"
JENNY = FHIR / "ig-examples" / "Bundle-mcode-patient-bundle-jenny-m.json"
#: Extensible bindings whose value sets live outside the mCODE package (VSAC RxNorm oncology
#: drugs; US Core procedure codes): the check cannot evaluate them offline. crlm writes its own
#: regimen code there (a regimen is not one RxNorm drug) and SNOMED procedure codes.
UNCHECKABLE = {
    ("MedicationAdministration.medication[x]",
     "http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113762.1.4.1010.4"),
    ("Procedure.code", "http://hl7.org/fhir/us/core/ValueSet/us-core-procedure-code"),
}


def _conformance(bundle: dict[str, Any]) -> list[str]:
    """Errors: FHIR R4(B) validation of the bundle, and each claimed profile's checks."""
    get_fhir_model_class("Bundle").model_validate(bundle)
    index = Bundle(bundle)
    errors: list[str] = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        report = check_resource(resource, index)
        errors += [f"{resource['id']}: {e}" for e in report.errors]
        errors += [f"{resource['id']}: binding {u} not evaluated"
                   for u in report.unchecked - UNCHECKABLE]
    return errors


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return []


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"]]


def _with_profile(bundle: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [r for r in _resources(bundle) if PROFILE[role] in r.get("meta", {}).get("profile", [])]


PATIENTS = {p.name: parse_patient(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))}
PATIENTS["rich"] = rich_patient()


@pytest.mark.parametrize("name", sorted(PATIENTS))
def test_every_resource_validates_and_meets_the_profiles_it_claims(name: str) -> None:
    bundle = patient_to_fhir(PATIENTS[name])
    assert _conformance(bundle) == []


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(patient_documents)
def test_generated_patients_conform(doc: dict) -> None:
    assert _conformance(patient_to_fhir(parse_patient(doc))) == []


def test_rich_patient_claims_every_mcode_profile_crlm_writes() -> None:
    bundle = patient_to_fhir(rich_patient())
    claimed = {p for r in _resources(bundle) for p in r.get("meta", {}).get("profile", [])}
    assert claimed == set(PROFILE.values())
    assert all(structure(url) is not None for url in claimed)


@pytest.mark.parametrize("name", sorted(PATIENTS))
def test_references_are_urn_uuids_that_resolve_in_the_bundle(name: str) -> None:
    bundle = patient_to_fhir(PATIENTS[name])
    urls = {e["fullUrl"] for e in bundle["entry"]}
    refs = _references(bundle)
    assert refs and all(r.startswith("urn:uuid:") and r in urls for r in refs)


def test_standard_codes_of_the_rich_patient() -> None:
    bundle = patient_to_fhir(rich_patient())
    (patient,) = [r for r in _resources(bundle) if r["resourceType"] == "Patient"]
    assert patient["identifier"] == [{"system": "https://crlm.dev/fhir/patient-id",
                                      "value": "MDA-0001"}]
    assert patient["gender"] == "male"
    (primary,) = _with_profile(bundle, "primary")
    assert {(c["system"], c["code"]) for c in primary["code"]["coding"]} == {
        ("http://snomed.info/sct", "363351006"), ("http://hl7.org/fhir/sid/icd-10-cm", "C20")}
    assert primary["bodySite"][0]["coding"][0]["code"] == "34402009"
    assert primary["category"][0]["coding"][0]["code"] == "problem-list-item"
    (t,) = _with_profile(bundle, "t")
    assert t["method"]["coding"][0]["code"] == "897275008"
    assert t["valueCodeableConcept"]["coding"][0] == {
        "system": "http://cancerstaging.org", "code": "T3", "display": "T3"}
    (m,) = _with_profile(bundle, "m")  # synchronous, no extrahepatic disease
    assert m["valueCodeableConcept"]["coding"][0]["code"] == "M1a"
    (secondary,) = _with_profile(bundle, "secondary")
    assert secondary["code"]["coding"][0]["code"] == "94381002"
    (size,) = _with_profile(bundle, "size")
    (tumor,) = _with_profile(bundle, "tumor")
    assert size["focus"] == [{"reference": f"urn:uuid:{tumor['id']}"}]
    assert tumor["location"]["coding"][0]["code"] == "10200004"
    assert size["component"][0]["valueQuantity"]["value"] == 3.2
    answers = {c["valueCodeableConcept"]["coding"][0]["code"]:
               r.get("valueCodeableConcept", {}).get("coding", [{}])[0].get("code")
               for r in _with_profile(bundle, "variant") for c in r["component"][:1]}
    assert answers == {"HGNC:6407": "LA9633-4", "HGNC:7989": "LA9634-2",
                       "HGNC:1097": "LA9634-2", "HGNC:11998": "LA9633-4"}
    (chemo,) = _with_profile(bundle, "medication")  # preoperative: curative intent
    intent = next(e for e in chemo["extension"] if e["url"].endswith("mcode-procedure-intent"))
    assert intent["valueCodeableConcept"]["coding"][0]["code"] == "373808002"
    msi = next(r for r in _resources(bundle)
               if r.get("code", {}).get("coding", [{}])[0].get("code") == "81695-9")
    assert msi["valueCodeableConcept"]["coding"][0]["code"] == "LA14122-8"


@pytest.mark.parametrize(("liver", "extrahepatic", "m"), [
    ({"timing": "synchronous"}, True, "M1"), ({"timing": "metachronous"}, False, None),
    ({"timing": "synchronous"}, None, None), ({}, False, None),
])
def test_m_category_only_when_the_metastases_were_found_with_the_primary(
        liver: dict, extrahepatic: bool | None, m: str | None) -> None:
    p = parse_patient({"liver": liver, "extrahepatic_disease": extrahepatic})
    bundle = patient_to_fhir(p)
    found = [r["valueCodeableConcept"]["coding"][0]["code"] for r in _with_profile(bundle, "m")]
    assert found == ([m] if m else [])
    assert fhir_to_patient(bundle) == p


def test_unknown_sex_and_no_id_still_meet_us_core() -> None:
    bundle = patient_to_fhir(parse_patient({"age_years": 50}))
    (patient,) = [r for r in _resources(bundle) if r["resourceType"] == "Patient"]
    assert patient["gender"] == "unknown"
    assert patient["identifier"][0]["value"] == f"urn:uuid:{patient['id']}"
    assert _conformance(bundle) == []
    assert fhir_to_patient(bundle) == parse_patient({"age_years": 50})


def _first(bundle: dict[str, Any], role: str) -> dict[str, Any]:
    return _with_profile(bundle, role)[0]


def _set_laterality(bundle: dict[str, Any]) -> None:
    site = _first(bundle, "primary")["bodySite"][0]
    site["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "123"


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda b: _resources(b)[0].pop("identifier"), "identifier: 0 present"),
    (lambda b: _resources(b)[0].pop("gender"), "gender: 0 present"),
    (lambda b: _first(b, "primary").pop("category"), "category: 0 present"),
    (lambda b: _first(b, "primary")["code"]["coding"].__setitem__(
        slice(None), [{"system": "https://crlm.dev/fhir/CodeSystem/crlm", "code": "rectum"}]),
     "mcode-primary-cancer-disorder-vs"),
    (lambda b: _first(b, "t").pop("method"), "method: 0 present"),
    (lambda b: _first(b, "size").update(focus=[_first(b, "size")["subject"]]),
     "claims none of"),
    (lambda b: _first(b, "size")["component"][0]["valueQuantity"].update(code="in"),
     "mcode-tumor-size-units-vs"),
    (lambda b: _first(b, "variant")["code"]["coding"][0].update(code="48018-6"),
     "does not match the profile's patternCodeableConcept"),
    (lambda b: _first(b, "variant").pop("category"), "labCategory: 0 present"),
    (lambda b: _first(b, "t").update(subject={"reference": "Patient/elsewhere"}),
     "does not resolve inside the bundle"),
    (lambda b: _first(b, "tumor").pop("identifier"), "identifier: 0 present"),
    (lambda b: _first(b, "radiotherapy")["code"]["coding"][0].update(code="1"),
     "does not match the profile's patternCodeableConcept"),
    (_set_laterality, "mcode-laterality-qualifier-vs"),
])
def test_the_profile_check_catches_violations(mutate, needle: str) -> None:  # type: ignore[no-untyped-def]
    bundle = copy.deepcopy(patient_to_fhir(rich_patient(
        primary={**rich_patient().primary.model_dump(mode="json", exclude_none=True),
                 "site": "right_colon"})))
    assert _conformance(bundle) == []
    mutate(bundle)
    errors = [e for r in _resources(bundle) for e in check_resource(r, Bundle(bundle)).errors]
    assert any(needle in e for e in errors), errors


def test_the_profile_check_accepts_the_ig_example_bundle() -> None:
    """The check agrees with the IG's own examples: no structural error on jenny-m's resources
    (binding errors are expected there: breast codes are not in crlm's SNOMED memberships)."""
    bundle = json.loads(JENNY.read_text())
    checked = 0
    for resource in _resources(bundle):
        profiles = resource.get("meta", {}).get("profile", [])
        if profiles and all(structure(p) for p in profiles):
            checked += 1
            errors = check_resource(resource).errors
            assert [e for e in errors if "binding)" not in e] == [], resource["id"]
    assert checked >= 8


# ---------------------------------------------------------------------------- reading


def test_a_colorectal_mcode_bundle_from_another_system_imports() -> None:
    reading = read_bundle(json.loads(CARL.read_text()))
    assert reading.patient == parse_patient({
        "sex": "male",
        "primary": {"site": "left_colon", "date_of_diagnosis": "2023-09-12",
                    "t_category": "T4a", "n_category": "N1"},  # pT4a outranks cT3
        "liver": {"largest_diameter_cm": 4.2},  # 42 mm, the liver tumour only
        "labs": {"cea_ng_ml": 38.5},
        "molecular": {"kras": "mutant", "nras": "wildtype", "braf": "wildtype", "msi": "mss"},
    })
    ignored = "\n".join(reading.ignored)
    for needle in ("Patient).name: not an element crlm reads",
                   "identifier 'http://hospital.example.org' not read",
                   "mcode-histology-morphology-behavior' (ignored)",
                   "Condition).clinicalStatus",
                   "a secondary cancer that is not in the liver",
                   "size of a tumour that is not a liver metastasis",
                   "gene HGNC:6342 is not one crlm records",
                   "MedicationAdministration): a treatment crlm cannot place",
                   "birthDate: crlm records the age at the assessment date"):
        assert needle in ignored, needle
    assert not any("KRAS" in line or "HGNC:6407" in line for line in reading.ignored)


def test_the_ig_example_bundle_imports_without_taking_breast_cancer_for_colorectal() -> None:
    reading = read_bundle(json.loads(JENNY.read_text()))
    assert reading.patient == Patient(sex="female")
    ignored = "\n".join(reading.ignored)
    assert "a primary cancer that is not colorectal" in ignored
    assert "staging of a cancer that is not a colorectal primary" in ignored
    assert "gene HGNC:26144 is not one crlm records" in ignored  # PALB2
    assert "unsupported resource type 'MedicationRequest'" in ignored
    with pytest.raises(FhirImportError, match=r"not read|not an element|ignored"):
        fhir_to_patient(json.loads(JENNY.read_text()))


def test_a_foreign_bundle_read_then_written_conforms_and_reads_back() -> None:
    patient = read_bundle(json.loads(CARL.read_text())).patient
    bundle = patient_to_fhir(patient)
    assert _conformance(bundle) == []
    assert fhir_to_patient(bundle) == patient


def _variant_bundle(gene: str, answer: str, protein: str | None = None) -> dict[str, Any]:
    bundle = json.loads(CARL.read_text())
    (variant,) = [r for r in _resources(bundle) if r["id"] == "genomic-variant-carl-colon-kras"]
    variant["component"] = [{"code": {"coding": [{"system": "http://loinc.org",
                                                  "code": "48018-6"}]},
                             "valueCodeableConcept": {"coding": [
                                 {"system": "http://www.genenames.org/geneId", "code": gene}]}}]
    if protein:
        variant["component"].append({
            "code": {"coding": [{"system": "http://loinc.org", "code": "48005-3"}]},
            "valueCodeableConcept": {"coding": [{"system": "http://varnomen.hgvs.org",
                                                 "code": protein}]}})
    variant["valueCodeableConcept"]["coding"][0]["code"] = answer
    return bundle


@pytest.mark.parametrize(("protein", "braf"), [
    ("NP_004324.2:p.Val600Glu", "v600e"), ("NP_004324.2:p.Gly469Ala", "non_v600e"),
])
def test_braf_variants_read_by_their_protein_change(protein: str, braf: str) -> None:
    bundle = _variant_bundle("HGNC:1097", "LA9633-4", protein)
    assert read_bundle(bundle).patient.molecular.braf == braf  # present outranks absent


def test_a_braf_variant_without_its_protein_change_is_reported_not_guessed() -> None:
    reading = read_bundle(_variant_bundle("HGNC:1097", "LA9633-4"))
    assert reading.patient.molecular.braf == "wildtype"  # from the pertinent negative only
    assert any("BRAF variant without its protein change" in i for i in reading.ignored)


@pytest.mark.parametrize("braf", ["v600e", "non_v600e", "wildtype", "unknown"])
def test_braf_round_trips(braf: str) -> None:
    p = rich_patient(molecular={"braf": braf})
    assert fhir_to_patient(patient_to_fhir(p)) == p


def test_cli_imports_a_foreign_bundle_and_lists_what_it_ignored(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    runner = CliRunner()
    res = runner.invoke(app, ["fhir", "import", str(CARL), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "items ignored" in res.stderr and "not in the liver" in res.stderr
    assert parse_patient(out.read_text()).primary.t_category == "T4a"
    strict = runner.invoke(app, ["fhir", "import", str(CARL), "--strict"])
    assert strict.exit_code == 2 and "not read (--strict)" in strict.stderr


def test_a_bundle_without_a_patient_is_refused() -> None:
    bundle = json.loads(CARL.read_text())
    bundle["entry"] = bundle["entry"][1:]
    with pytest.raises(FhirImportError, match="no Patient resource"):
        read_bundle(bundle)


def test_mcode_namespace_is_the_published_one() -> None:
    assert MCODE == "http://hl7.org/fhir/us/mcode/StructureDefinition/"


def test_bundles_written_before_mcode_conformance_still_read_losslessly() -> None:
    """crlm-bundle-before-mcode.json: the rich patient as the previous exporter wrote it (crlm
    codes for site, T/N and genes; focus on the Condition; ``Patient/<id>`` references)."""
    bundle = json.loads((FHIR / "crlm-bundle-before-mcode.json").read_text())
    assert fhir_to_patient(bundle) == rich_patient()


def test_malformed_foreign_bundles_never_give_a_traceback() -> None:
    """Every element of every resource of a foreign bundle replaced by a value of the wrong
    shape: the reader maps, ignores or refuses (FhirImportError), never crashes."""
    bundle = json.loads(CARL.read_text())
    for i, entry in enumerate(bundle["entry"]):
        for key in entry["resource"]:
            for bad in (5, "x", [], {}, [5], None, [{}], {"coding": 5}):
                broken = copy.deepcopy(bundle)
                broken["entry"][i]["resource"][key] = bad
                with contextlib.suppress(FhirImportError):
                    read_bundle(broken)


def test_a_planned_event_is_not_written_as_completed() -> None:
    soon = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    p = parse_patient({"treatments": [
        {"kind": "hepatectomy", "date": "2024-07-01"}, {"kind": "hepatectomy", "date": soon},
        {"kind": "systemic_therapy", "date": "2024-01-01", "end_date": soon}]})
    bundle = patient_to_fhir(p)
    statuses = [r["status"] for r in _resources(bundle)
                if r["resourceType"] in ("Procedure", "MedicationAdministration")]
    assert statuses == ["completed", "unknown", "unknown"]
    assert _conformance(bundle) == []
    assert fhir_to_patient(bundle) == p
