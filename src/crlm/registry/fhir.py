"""HL7 FHIR R4 interchange: a patient as a Bundle with mCODE profiles, and back, losslessly.

Standard homes are used where they exist (mCODE primary/secondary cancer condition, TNM
categories, tumour size; LOINC-coded labs with UCUM units; genomic variant observations with HGNC
gene ids). Everything crlm records without a standard home travels as a crlm extension
``https://crlm.dev/fhir/StructureDefinition/<field.path>`` on the resource of its section, so
``fhir_to_patient(patient_to_fhir(p)) == p`` for every valid patient. Resource ids are uuid5
values of the patient id and the resource's role, so exports are deterministic.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import typing
import uuid
from typing import Any

from pydantic import BaseModel, ValidationError

from crlm.clinical.vocabulary import value_label
from crlm.domain import Patient, parse_patient
from crlm.domain.dates import EARLIEST_PLAUSIBLE_DATE, today
from crlm.domain.patient import Lesion, Operation
from crlm.domain.treatment import TreatmentEvent, TreatmentKind
from crlm.registry.models import _base_type

CRLM = "https://crlm.dev/fhir"
EXT = f"{CRLM}/StructureDefinition/"
CODES = f"{CRLM}/CodeSystem/crlm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
HGNC = "http://www.genenames.org/geneId"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
PROFILE = {
    "primary": MCODE + "mcode-primary-cancer-condition",
    "secondary": MCODE + "mcode-secondary-cancer-condition",
    "t": MCODE + "mcode-tnm-primary-tumor-category",
    "n": MCODE + "mcode-tnm-regional-nodes-category",
    "size": MCODE + "mcode-tumor-size",
    "variant": "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/variant",
    "patient": MCODE + "mcode-cancer-patient",
    "medication": MCODE + "mcode-cancer-related-medication-administration",
    "radiotherapy": MCODE + "mcode-radiotherapy-course-summary",
    "surgery": MCODE + "mcode-cancer-related-surgical-procedure",
    "disease_status": MCODE + "mcode-cancer-disease-status",
}
LIVER_SNOMED = ("10200004", "Liver structure")
GENE_STUDIED_LOINC = ("48018-6", "Gene studied [ID]")

#: field → (LOINC code, display, UCUM unit) for measured values with a standard code.
LOINC_OBSERVATIONS: dict[str, tuple[str, str, str]] = {
    "height_cm": ("8302-2", "Body height", "cm"),
    "weight_kg": ("29463-7", "Body weight", "kg"),
    "labs.cea_ng_ml": ("2039-6", "Carcinoembryonic Ag [Mass/volume] in Serum or Plasma", "ng/mL"),
    "labs.ca19_9_u_ml": ("24108-3", "Cancer Ag 19-9 [Units/volume] in Serum or Plasma", "U/mL"),
    "labs.bilirubin_mg_dl": ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma",
                             "mg/dL"),
    "labs.albumin_g_dl": ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL"),
    "labs.platelets_10e9_l": ("777-3", "Platelets [#/volume] in Blood by Automated count",
                              "10*9/L"),
    "labs.inr": ("6301-6", "INR in Platelet poor plasma by Coagulation assay", "{INR}"),
}
#: fields kept as crlm-coded Observations with a UCUM unit.
CRLM_OBSERVATIONS: dict[str, str] = {
    "labs.icg_r15_percent": "%",
    "volumetry.total_liver_volume_ml": "mL",
    "volumetry.flr_volume_ml": "mL",
    "volumetry.flr_volume_after_pve_ml": "mL",
    "volumetry.weeks_after_pve": "wk",
}
GENES = {  # molecular field → HGNC id and symbol
    "kras": ("HGNC:6407", "KRAS"), "nras": ("HGNC:7989", "NRAS"), "braf": ("HGNC:1097", "BRAF"),
    "tp53": ("HGNC:11998", "TP53"), "smad4": ("HGNC:6770", "SMAD4"), "apc": ("HGNC:583", "APC"),
    "fbxw7": ("HGNC:16712", "FBXW7"), "her2": ("HGNC:3430", "ERBB2"),
}
SECTION_RESOURCE = {  # section → role of the resource carrying its extensions
    "": "patient", "primary": "primary", "liver": "secondary", "chemotherapy": "chemotherapy",
    "volumetry": "patient", "outcome": "outcome", "molecular": "patient", "labs": "patient",
}


class FhirImportError(ValueError):
    """A bundle crlm cannot read: names the resource and element."""


# ---------------------------------------------------------------------------- helpers


def _rid(patient_key: str, role: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{CRLM}/{patient_key}/{role}"))


def _leaf_type(model: type[BaseModel], name: str) -> Any:
    return _base_type(model.model_fields[name].annotation)


def _value_x(value: Any, t: Any) -> dict[str, Any]:
    """The FHIR value[x] element for a crlm value of type ``t``."""
    if t is bool:
        return {"valueBoolean": value}
    if isinstance(t, type) and issubclass(t, enum.Enum):
        return {"valueCode": value.value if isinstance(value, enum.Enum) else value}
    if t is int:
        return {"valueInteger": value}
    if t is float:
        return {"valueDecimal": value}
    if t is dt.date:
        return {"valueDate": value.isoformat() if isinstance(value, dt.date) else value}
    return {"valueString": str(value)}


def _read_x(element: dict[str, Any], where: str) -> Any:
    for key in ("valueBoolean", "valueCode", "valueInteger", "valueDecimal", "valueDate",
                "valueString"):
        if key in element:
            return element[key]
    raise FhirImportError(f"{where}: no supported value[x]")


def _ext(path: str, value: Any, t: Any) -> dict[str, Any]:
    return {"url": EXT + path, **_value_x(value, t)}


def _section_extensions(prefix: str, model: type[BaseModel], data: BaseModel,
                        skip: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in model.model_fields:
        if name in skip:
            continue
        value = getattr(data, name)
        if value is None:
            continue
        path = f"{prefix}{name}"
        t = _leaf_type(model, name)
        if typing.get_origin(t) is list:
            (item,) = typing.get_args(t)
            out.append({"url": EXT + path + ".count", "valueInteger": len(value)})
            out += [_ext(path, v, _base_type(item)) for v in value]
        else:
            out.append(_ext(path, value, t))
    return out


def _coded(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding], **({"text": display} if display else {})}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


# ---------------------------------------------------------------------------- export


def patient_to_fhir(patient: Patient) -> dict[str, Any]:
    """The patient as a FHIR R4 collection Bundle (JSON-ready dict)."""
    key = patient.id or "anonymous"
    pid = _rid(key, "patient")
    subject = {"reference": f"Patient/{pid}"}
    entries: list[dict[str, Any]] = []

    def add(resource: dict[str, Any]) -> None:
        entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})

    # Patient: sex as gender; crlm extensions for the top-level fields without a standard home.
    top_ext = []
    if patient.id is not None:
        top_ext.append(_ext("id", patient.id, str))
    for name in ("age_years", "assessment_date", "extrahepatic_disease", "notes"):
        value = getattr(patient, name)
        if value is not None:
            top_ext.append(_ext(name, value, _leaf_type(Patient, name)))
    for key in PATIENT_LIST_KEYS:
        listed = getattr(patient, key)
        if listed is not None:
            top_ext.append({"url": EXT + f"{key}.count", "valueInteger": len(listed)})
    if patient.volumetry.liver_condition is not None:
        top_ext.append(_ext("volumetry.liver_condition", patient.volumetry.liver_condition,
                            type(patient.volumetry.liver_condition)))
    resource: dict[str, Any] = {"resourceType": "Patient", "id": pid,
                                "meta": {"profile": [PROFILE["patient"]]}}
    if patient.sex is not None:
        resource["gender"] = patient.sex.value
    if top_ext:
        resource["extension"] = top_ext
    add(resource)

    # Primary cancer (mCODE PrimaryCancerCondition).
    primary_id = _rid(key, "primary")
    p = patient.primary
    condition: dict[str, Any] = {
        "resourceType": "Condition", "id": primary_id, "meta": {"profile": [PROFILE["primary"]]},
        "subject": subject, "code": {"text": "Colorectal adenocarcinoma"},
        "extension": _section_extensions("primary.", type(p), p,
                                         {"t_category", "n_category", "date_of_diagnosis"}),
    }
    if p.site is not None:
        condition["bodySite"] = [_coded(CODES, p.site.value, p.site.value.replace("_", " "))]
    if p.date_of_diagnosis is not None:
        condition["onsetDateTime"] = p.date_of_diagnosis.isoformat()
    add(condition)
    for field, role in (("t_category", "t"), ("n_category", "n")):
        value = getattr(p, field)
        if value is not None:
            add({"resourceType": "Observation", "id": _rid(key, role), "status": "final",
                 "meta": {"profile": [PROFILE[role]]}, "subject": subject,
                 "code": _coded(CODES, f"primary.{field}"),
                 "focus": [{"reference": f"Condition/{primary_id}"}],
                 "valueCodeableConcept": _coded(CODES, value, value)})

    # Liver metastases (mCODE SecondaryCancerCondition) + tumour size.
    liver = patient.liver
    secondary_id = _rid(key, "secondary")
    liver_ext = _section_extensions(
        "liver.", type(liver), liver, {"lesions", "largest_diameter_cm"}
    )
    if liver.lesions is not None:
        liver_ext.append({"url": EXT + "liver.lesions.count", "valueInteger": len(liver.lesions)})
        for lesion in liver.lesions:
            liver_ext.append({"url": EXT + "liver.lesions",
                              "extension": _section_extensions("", Lesion, lesion, set())})
    if liver.largest_diameter_cm is not None and liver.number_of_metastases is not None:
        tbs = math.hypot(liver.largest_diameter_cm, liver.number_of_metastases)
        liver_ext.append({"url": EXT + "tumour-burden-score", "valueDecimal": round(tbs, 4)})
    add({"resourceType": "Condition", "id": secondary_id,
         "meta": {"profile": [PROFILE["secondary"]]}, "subject": subject,
         "code": {"text": "Colorectal liver metastases"},
         "bodySite": [_coded(SNOMED, *LIVER_SNOMED)], "extension": liver_ext})
    if liver.largest_diameter_cm is not None:
        add({"resourceType": "Observation", "id": _rid(key, "size"), "status": "final",
             "meta": {"profile": [PROFILE["size"]]}, "subject": subject,
             "code": _coded(LOINC, "21889-1", "Size Tumor"),
             "focus": [{"reference": f"Condition/{secondary_id}"}],
             "component": [{"code": _coded(LOINC, "33728-7", "Size.maximum dimension in Tumor"),
                            "valueQuantity": _quantity(liver.largest_diameter_cm, "cm")}]})

    # Measurements: LOINC where certain, crlm codes otherwise.
    for path, (code, display, unit) in LOINC_OBSERVATIONS.items():
        value = _get(patient, path)
        if value is not None:
            add({"resourceType": "Observation", "id": _rid(key, path), "status": "final",
                 "subject": subject, "code": _coded(LOINC, code, display),
                 "valueQuantity": _quantity(value, unit)})
    for path, unit in CRLM_OBSERVATIONS.items():
        value = _get(patient, path)
        if value is not None:
            add({"resourceType": "Observation", "id": _rid(key, path), "status": "final",
                 "subject": subject, "code": _coded(CODES, path),
                 "valueQuantity": _quantity(value, unit)})

    # Molecular results: genomic variant observations per gene; MSI as a crlm-coded result.
    for field, (hgnc, symbol) in GENES.items():
        value = getattr(patient.molecular, field)
        if value is not None:
            add({"resourceType": "Observation", "id": _rid(key, f"gene-{field}"),
                 "status": "final", "meta": {"profile": [PROFILE["variant"]]},
                 "subject": subject, "code": _coded(CODES, f"molecular.{field}", symbol),
                 "component": [{"code": _coded(LOINC, *GENE_STUDIED_LOINC),
                                "valueCodeableConcept": _coded(HGNC, hgnc, symbol)}],
                 "valueCodeableConcept": _coded(CODES, value.value, value.value)})
    if patient.molecular.msi is not None:
        add({"resourceType": "Observation", "id": _rid(key, "msi"), "status": "final",
             "subject": subject, "code": _coded(CODES, "molecular.msi", "Microsatellite status"),
             "valueCodeableConcept": _coded(CODES, patient.molecular.msi.value)})

    # Chemotherapy.
    chemo = patient.chemotherapy
    chemo_ext = _section_extensions("chemotherapy.", type(chemo), chemo, set())
    if chemo_ext:
        medication = (_coded(CODES, chemo.regimen.value, value_label(chemo.regimen))
                      if chemo.regimen is not None else {"text": "chemotherapy"})
        add({"resourceType": "MedicationStatement", "id": _rid(key, "chemotherapy"),
             "status": "completed", "subject": subject,
             "medicationCodeableConcept": medication, "extension": chemo_ext})

    # Operations (ordered).
    for i, op in enumerate(patient.operations or []):
        proc: dict[str, Any] = {
            "resourceType": "Procedure", "id": _rid(key, f"operation-{i}"),
            "status": "completed", "subject": subject, "code": _coded(CODES, op.kind),
            "extension": [{"url": EXT + "operations.position", "valueInteger": i},
                          *_section_extensions("operations.", Operation, op, {"date", "kind"})],
        }
        if op.date is not None:
            proc["performedDateTime"] = op.date.isoformat()
        add(proc)

    # Treatment timeline (ordered): mCODE medication administration, radiotherapy course
    # summary, surgical procedure or disease status, with crlm extensions for the details.
    for i, event in enumerate(patient.treatments or []):
        add(_treatment_resource(event, i, _rid(key, f"treatment-{i}"), subject))

    # Outcome.
    out_ext = _section_extensions("outcome.", type(patient.outcome), patient.outcome, set())
    if out_ext:
        add({"resourceType": "Observation", "id": _rid(key, "outcome"), "status": "final",
             "subject": subject, "code": _coded(CODES, "outcome", "Follow-up and vital status"),
             "extension": out_ext})
    return {"resourceType": "Bundle", "id": _rid(key, "bundle"), "type": "collection",
            "meta": {"tag": [{"system": CODES, "code": "crlm-patient"}]}, "entry": entries}


def _period(event: TreatmentEvent) -> dict[str, str]:
    period = {"start": event.date.isoformat()} if event.date else {}
    if event.end_date:
        period["end"] = event.end_date.isoformat()
    return period


def _treatment_resource(event: TreatmentEvent, position: int, rid: str,
                        subject: dict[str, str]) -> dict[str, Any]:
    """One timeline event as the mCODE resource of its kind."""
    ext = [{"url": EXT + "treatments.position", "valueInteger": position},
           _ext("treatments.kind", event.kind, TreatmentKind),
           *_section_extensions("treatments.", TreatmentEvent, event,
                                {"kind", "date", "end_date"})]
    base: dict[str, Any] = {"id": rid, "subject": subject, "extension": ext}
    kind = event.kind
    if kind == TreatmentKind.systemic_therapy:
        code = event.regimen.value if event.regimen else "systemic_therapy"
        res = {"resourceType": "MedicationAdministration", "status": "completed",
               "meta": {"profile": [PROFILE["medication"]]},
               "medicationCodeableConcept": _coded(CODES, code), **base}
        if event.date:
            res["effectivePeriod"] = _period(event)
        return res
    if kind == TreatmentKind.recurrence:
        res = {"resourceType": "Observation", "status": "final",
               "meta": {"profile": [PROFILE["disease_status"]]},
               "code": _coded(LOINC, "97509-4", "Cancer disease progression"), **base}
        if event.date:
            res["effectiveDateTime"] = event.date.isoformat()
        return res
    profile = PROFILE["radiotherapy" if kind == TreatmentKind.radiotherapy else "surgery"]
    res = {"resourceType": "Procedure", "status": "completed", "meta": {"profile": [profile]},
           "code": _coded(CODES, kind.value), **base}
    if event.date:
        res["performedPeriod"] = _period(event)
    return res


def _read_treatment(res: dict[str, Any], where: str) -> tuple[int, dict[str, Any]]:
    """(position, fields) of a timeline resource written by :func:`_treatment_resource`."""
    nested: dict[str, Any] = {}
    exts = [e for e in res.get("extension", []) if e.get("url") != EXT + "treatments.position"]
    _read_extensions(nested, exts, where)
    item: dict[str, Any] = dict(nested.get("treatments", {}))
    period = res.get("effectivePeriod") or res.get("performedPeriod") or {}
    if "effectiveDateTime" in res:
        period = {"start": res["effectiveDateTime"]}
    if not isinstance(period, dict):
        raise FhirImportError(f"{where}: period must be an object")
    if "start" in period:
        item["date"] = str(period["start"])[:10]
    if "end" in period:
        item["end_date"] = str(period["end"])[:10]
    position = next(e.get("valueInteger") for e in res["extension"]
                    if e.get("url") == EXT + "treatments.position")
    if not isinstance(position, int):
        raise FhirImportError(f"{where}.extension: treatments.position must be an integer")
    return position, item


def _get(patient: Patient, path: str) -> Any:
    obj: Any = patient
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


# ---------------------------------------------------------------------------- import


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        doc = doc.setdefault(part, {})
    doc[parts[-1]] = value


def _read_extensions(doc: dict[str, Any], extensions: list[dict[str, Any]], where: str,
                     target: dict[str, Any] | None = None) -> None:
    """Apply crlm extensions to ``doc`` (lists: ``.count`` then repeated items)."""
    lists: dict[str, list[Any]] = {}
    counts: dict[str, int] = {}
    for i, ext in enumerate(extensions):
        url = ext.get("url", "")
        here = f"{where}.extension[{i}]"
        if not url.startswith(EXT):
            raise FhirImportError(f"{here}: unsupported extension {url!r}")
        path = url[len(EXT):]
        if path in {"tumour-burden-score", "operations.position", "treatments.position"}:
            continue  # derived or structural, not patient data
        if path.endswith(".count"):
            counts[path[: -len(".count")]] = _read_x(ext, here)
            continue
        if path == "liver.lesions":
            item: dict[str, Any] = {}
            _read_extensions(item, ext.get("extension", []), here)
            lists.setdefault(path, []).append(item)
            continue
        if path in LIST_FIELDS:
            lists.setdefault(path, []).append(_read_x(ext, here))
            continue
        _set(target if target is not None else doc, path, _read_x(ext, here))
    for path, n in counts.items():
        items = lists.get(path, [])
        if len(items) != n:
            raise FhirImportError(f"{where}: {path} has {len(items)} items, count says {n}")
        _set(target if target is not None else doc, path, items)


def _list_fields() -> set[str]:
    out = set()
    for prefix, model in (("primary.", "PrimaryTumour"), ("liver.", "LiverDisease"),
                          ("outcome.", "Outcome"), ("operations.", "Operation"),
                          ("treatments.", "TreatmentEvent")):
        cls = getattr(__import__("crlm.domain.patient", fromlist=[model]), model)
        for name in cls.model_fields:
            if typing.get_origin(_leaf_type(cls, name)) is list:
                out.add(prefix + name)
    return out


LIST_FIELDS = _list_fields()
PATIENT_LIST_KEYS = ("operations", "treatments")


def _is_treatment(res: dict[str, Any]) -> bool:
    exts = res.get("extension")
    return isinstance(exts, list) and any(
        isinstance(e, dict) and e.get("url") == EXT + "treatments.position" for e in exts)


def _code(concept: dict[str, Any], where: str) -> str:
    try:
        return concept["coding"][0]["code"]
    except (KeyError, IndexError, TypeError):
        raise FhirImportError(f"{where}: expected a coding with a code") from None


#: Elements crlm writes (and so reads); any other element would be lost, so it is an error.
KNOWN_ELEMENTS = frozenset({
    "resourceType", "id", "meta", "subject", "code", "extension", "status", "gender",
    "birthDate", "bodySite", "onsetDateTime", "focus", "valueCodeableConcept", "component",
    "valueQuantity", "medicationCodeableConcept", "performedDateTime", "performedPeriod",
    "effectivePeriod", "effectiveDateTime",
})
_FHIR_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
#: Element → the JSON type crlm expects there.
_SHAPES: dict[str, type] = {
    "meta": dict, "code": dict, "extension": list, "bodySite": list, "subject": dict,
    "onsetDateTime": str, "performedDateTime": str, "effectiveDateTime": str, "gender": str,
    "birthDate": str, "valueCodeableConcept": dict, "component": list, "valueQuantity": dict,
    "medicationCodeableConcept": dict, "performedPeriod": dict, "effectivePeriod": dict,
    "focus": list,
}
_SHAPE_NAMES = {dict: "an object", list: "a list", str: "text"}


def _check_shape(res: dict[str, Any], where: str) -> None:
    """Every element is one crlm reads, of the JSON type it reads (else the error names it)."""
    for key, value in res.items():
        if key not in KNOWN_ELEMENTS:
            raise FhirImportError(f"{where}.{key}: not an element crlm reads (it would be lost)")
        shape = _SHAPES.get(key)
        if shape is not None and not isinstance(value, shape):
            raise FhirImportError(f"{where}.{key}: expected {_SHAPE_NAMES[shape]}")
    for i, ext in enumerate(res.get("extension", [])):
        if not isinstance(ext, dict) or not isinstance(ext.get("url"), str):
            raise FhirImportError(f"{where}.extension[{i}]: expected an object with a url")
        if "extension" in ext:
            _check_shape({"extension": ext["extension"]}, f"{where}.extension[{i}]")


def _birth_date(text: str, where: str) -> dt.date | None:
    """A FHIR birthDate (YYYY, YYYY-MM or YYYY-MM-DD): the full date, None if partial."""
    if not _FHIR_DATE.fullmatch(text):
        raise FhirImportError(f"{where}.birthDate: {text!r} is not a date (YYYY-MM-DD)")
    parts = [int(x) for x in text.split("-")] + [1, 1]
    try:
        first = dt.date(parts[0], parts[1], parts[2])
    except ValueError:
        raise FhirImportError(f"{where}.birthDate: {text!r} is not a calendar date") from None
    if first < EARLIEST_PLAUSIBLE_DATE or first > today():
        raise FhirImportError(f"{where}.birthDate: {text} is not a plausible birth date")
    return first if len(text) == 10 else None


def _apply_birth_date(doc: dict[str, Any], text: str, where: str) -> None:
    """crlm keeps the age at assessment, not the birth date: derive that age, or check it."""
    born = _birth_date(text, where)
    assessed = doc.get("assessment_date")
    if born is None or not isinstance(assessed, str):
        raise FhirImportError(
            f"{where}.birthDate: crlm records the age at the assessment date, not a birth date; "
            "a full birth date and the assessment date are needed to derive it")
    try:
        on = dt.date.fromisoformat(assessed)
    except ValueError:
        raise FhirImportError(f"{where}: assessment date {assessed!r} is not a date") from None
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    stated = doc.get("age_years")
    if stated is None:
        doc["age_years"] = age
    elif not isinstance(stated, int | float) or abs(math.floor(stated) - age) > 1:
        raise FhirImportError(f"{where}.birthDate: {text} gives age {age} at the assessment "
                              f"date, but the age recorded is {stated}")


def fhir_to_patient(bundle: dict[str, Any]) -> Patient:
    """Read a Bundle written by :func:`patient_to_fhir` back into a validated Patient.

    Anything crlm cannot read — an unknown element, a value of the wrong shape, an invalid
    birth date — is a :class:`FhirImportError` naming the element; nothing is silently dropped.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirImportError("Bundle: resourceType must be 'Bundle'")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirImportError("Bundle.entry: expected a list")
    doc: dict[str, Any] = {}
    operations: list[tuple[int, dict[str, Any]]] = []
    treatments: list[tuple[int, dict[str, Any]]] = []
    counts: dict[str, int] = {}
    birth: tuple[str, str] | None = None
    for i, entry in enumerate(entries):
        res = entry.get("resource") if isinstance(entry, dict) else None
        where = f"Bundle.entry[{i}]"
        if not isinstance(res, dict):
            raise FhirImportError(f"{where}.resource: missing")
        where = f"{where}.resource({res.get('resourceType')})"
        _check_shape(res, where)
        try:
            _read_resource(res, where, doc, operations, treatments, counts)
        except FhirImportError:
            raise
        except (AttributeError, TypeError, KeyError, IndexError, ValueError, StopIteration):
            raise FhirImportError(f"{where}: malformed (an element is missing or has the wrong "
                                  "shape)") from None
        if "birthDate" in res:
            birth = (res["birthDate"], where)
    for key, found in (("operations", operations), ("treatments", treatments)):
        if key in counts:
            if len(found) != counts[key]:
                raise FhirImportError(f"Bundle: {len(found)} {key} resources, count says "
                                      f"{counts[key]}")
            doc[key] = [item for _, item in sorted(found, key=lambda x: x[0])]
        elif found:
            raise FhirImportError(f"Bundle.entry(Patient).extension: {key}.count missing")
    if birth is not None:
        _apply_birth_date(doc, *birth)
    try:
        return parse_patient(doc)
    except ValidationError as exc:
        from crlm.domain import format_validation_error

        raise FhirImportError(f"Bundle: invalid patient data:\n{format_validation_error(exc)}") \
            from None
    except ValueError as exc:
        raise FhirImportError(f"Bundle: invalid patient data: {exc}") from None


def _read_resource(res: dict[str, Any], where: str, doc: dict[str, Any],
                   operations: list[tuple[int, dict[str, Any]]],
                   treatments: list[tuple[int, dict[str, Any]]], counts: dict[str, int]) -> None:
    """Apply one resource of the bundle to the patient document being built."""
    kind = res.get("resourceType")
    code = res.get("code", {})
    code_value = code.get("coding", [{}])[0].get("code") if code else None
    if _is_treatment(res):
        treatments.append(_read_treatment(res, where))
    elif kind == "Patient":
        if "gender" in res:
            doc["sex"] = res["gender"]
        exts = res.get("extension", [])
        list_counts = {EXT + f"{k}.count": k for k in PATIENT_LIST_KEYS}
        for e in exts:
            if e.get("url") in list_counts:
                counts[list_counts[e["url"]]] = _read_x(e, f"{where}.extension")
        _read_extensions(doc, [e for e in exts if e.get("url") not in list_counts], where)
    elif kind == "Condition":
        profiles = res.get("meta", {}).get("profile", [])
        if PROFILE["primary"] in profiles:
            if "bodySite" in res:
                _set(doc, "primary.site", _code(res["bodySite"][0], f"{where}.bodySite"))
            if "onsetDateTime" in res:
                _set(doc, "primary.date_of_diagnosis", res["onsetDateTime"][:10])
        elif PROFILE["secondary"] not in profiles:
            raise FhirImportError(f"{where}.meta.profile: not a crlm cancer condition")
        _read_extensions(doc, res.get("extension", []), where)
    elif kind == "Observation":
        _read_observation(doc, res, code_value, where)
    elif kind == "MedicationStatement":
        _read_extensions(doc, res.get("extension", []), where)
    elif kind == "Procedure":
        op: dict[str, Any] = {"kind": code_value}
        if "performedDateTime" in res:
            op["date"] = res["performedDateTime"][:10]
        position = next((e["valueInteger"] for e in res.get("extension", [])
                         if e.get("url") == EXT + "operations.position"), None)
        if position is None:
            raise FhirImportError(f"{where}.extension: operations.position missing")
        nested: dict[str, Any] = {}
        _read_extensions(nested, res.get("extension", []), where)
        op.update(nested.get("operations", {}))
        operations.append((position, op))
    else:
        raise FhirImportError(f"{where}: unsupported resource type {kind!r}")


_LOINC_BY_CODE = {code: path for path, (code, _d, _u) in LOINC_OBSERVATIONS.items()}


def _read_observation(doc: dict[str, Any], res: dict[str, Any], code: str | None,
                      where: str) -> None:
    profiles = res.get("meta", {}).get("profile", [])
    system = res.get("code", {}).get("coding", [{}])[0].get("system")
    if PROFILE["size"] in profiles:
        try:
            value = res["component"][0]["valueQuantity"]["value"]
        except (KeyError, IndexError, TypeError):
            raise FhirImportError(f"{where}.component[0].valueQuantity: missing") from None
        _set(doc, "liver.largest_diameter_cm", value)
    elif PROFILE["t"] in profiles or PROFILE["n"] in profiles:
        _set(doc, code or "", _code(res.get("valueCodeableConcept", {}),
                                    f"{where}.valueCodeableConcept"))
    elif system == LOINC and code in _LOINC_BY_CODE:
        _set(doc, _LOINC_BY_CODE[code], _quantity_value(res, where))
    elif system == CODES and code in CRLM_OBSERVATIONS:
        _set(doc, code, _quantity_value(res, where))
    elif system == CODES and code is not None and code.startswith("molecular."):
        _set(doc, code, _code(res.get("valueCodeableConcept", {}),
                              f"{where}.valueCodeableConcept"))
    elif system == CODES and code == "outcome":
        _read_extensions(doc, res.get("extension", []), where)
    else:
        raise FhirImportError(f"{where}.code: unsupported observation {system}|{code}")


def _quantity_value(res: dict[str, Any], where: str) -> Any:
    try:
        return res["valueQuantity"]["value"]
    except (KeyError, TypeError):
        raise FhirImportError(f"{where}.valueQuantity.value: missing") from None
