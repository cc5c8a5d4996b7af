"""HL7 FHIR R4 interchange: a patient as a Bundle that conforms to the mCODE STU4 profiles it
claims, and back, losslessly.

Standard homes are used where they exist: US Core / mCODE CancerPatient (identifier, gender),
Primary- and SecondaryCancerCondition (SNOMED CT and ICD-10-CM codes, SNOMED body sites), TNM
T and N categories (AJCC values, AJCC 8th edition method), a Tumor BodyStructure with its
TumorSize, GenomicVariant (LOINC 69548-6, presence/absence answers, HGNC genes), LOINC labs in
UCUM units, MSI (LOINC 81695-9) and the treatment timeline as mCODE medication administrations,
radiotherapy course summaries, surgical procedures and cancer disease status (codes:
:mod:`crlm.registry.fhir_terms`). A resource claims a profile only when it meets the profile's
required elements. Everything crlm records without a standard home travels as a crlm extension
``https://crlm.dev/fhir/StructureDefinition/<field.path>`` on the resource of its section, so
``fhir_to_patient(patient_to_fhir(p)) == p`` for every valid patient. Resource ids are uuid5
values of the patient id and the resource's role (exports are deterministic); every reference is
the ``urn:uuid:`` fullUrl of a resource in the same bundle. Each resource is validated with the
``fhir.resources`` R4B models (the resources crlm writes have the same shape in R4 and R4B).
Reading (any mCODE bundle, not only crlm's) lives in :mod:`crlm.registry.fhir_read`.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import typing
import uuid
from typing import Any

from pydantic import BaseModel

from crlm.clinical.vocabulary import value_label
from crlm.domain import Patient
from crlm.domain.dates import today
from crlm.domain.patient import BrafStatus, Lesion, MsiStatus, Mutation, Operation, Timing
from crlm.domain.treatment import TherapyIntent, TreatmentEvent, TreatmentKind
from crlm.registry import fhir_terms as terms
from crlm.registry.models import _base_type

CRLM = "https://crlm.dev/fhir"
EXT = f"{CRLM}/StructureDefinition/"
CODES = f"{CRLM}/CodeSystem/crlm"
#: Identifier system of crlm's patient id (Patient.identifier).
PATIENT_ID_SYSTEM = f"{CRLM}/patient-id"
RFC3986 = "urn:ietf:rfc:3986"
LOINC = terms.LOINC
UCUM = terms.UCUM
SNOMED = terms.SNOMED
HGNC = terms.HGNC
MCODE = terms.MCODE_SD
PROFILE = {
    "patient": MCODE + "mcode-cancer-patient",
    "primary": MCODE + "mcode-primary-cancer-condition",
    "secondary": MCODE + "mcode-secondary-cancer-condition",
    "t": MCODE + "mcode-tnm-primary-tumor-category",
    "n": MCODE + "mcode-tnm-regional-nodes-category",
    "m": MCODE + "mcode-tnm-distant-metastases-category",
    "tumor": MCODE + "mcode-tumor",
    "size": MCODE + "mcode-tumor-size",
    "variant": MCODE + "mcode-genomic-variant",
    "medication": MCODE + "mcode-cancer-related-medication-administration",
    "radiotherapy": MCODE + "mcode-radiotherapy-course-summary",
    "surgery": MCODE + "mcode-cancer-related-surgical-procedure",
    "disease_status": MCODE + "mcode-cancer-disease-status",
}
#: Category crlm gives its TNM observations (the profiles require one; none of the standard
#: observation categories says how crlm's staging was obtained).
STAGING_CATEGORY = (CODES, "cancer-staging", "Cancer staging")

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
GENES = terms.GENES
#: Genes written as mCODE GenomicVariant observations (HER2 amplification is not a variant call).
VARIANT_GENES = ("kras", "nras", "braf", "tp53", "smad4", "apc", "fbxw7")
PATIENT_LIST_KEYS = ("operations", "treatments")


class FhirImportError(ValueError):
    """A bundle crlm cannot read: names the resource and element."""


# ---------------------------------------------------------------------------- helpers


def _rid(patient_key: str, role: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{CRLM}/{patient_key}/{role}"))


def _ref(rid: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{rid}"}


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


def _coding(code: terms.Code) -> dict[str, str]:
    return {"system": code[0], "code": code[1], "display": code[2]}


def _concept(*codes: terms.Code, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [_coding(c) for c in codes]}
    if text:
        out["text"] = text
    return out


def _coded(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding], **({"text": display} if display else {})}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _get(patient: Patient, path: str) -> Any:
    obj: Any = patient
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _absent(reason: str = "unknown") -> dict[str, Any]:
    return {"coding": [{"system": terms.DATA_ABSENT_CS, "code": reason}]}


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource after validation by its ``fhir.resources`` R4B model (JSON-ready dict)."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return json.loads(model.model_dump_json(exclude_none=True))


# ---------------------------------------------------------------------------- export


class _Bundle:
    """The entries being written for one patient: ids, references, validation."""

    def __init__(self, patient: Patient) -> None:
        self.key = patient.id or "anonymous"
        self.entries: list[dict[str, Any]] = []
        self.patient_id = self.rid("patient")
        self.subject = _ref(self.patient_id)

    def rid(self, role: str) -> str:
        return _rid(self.key, role)

    def add(self, resource: dict[str, Any]) -> None:
        resource = validated(resource)
        self.entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})


def patient_to_fhir(patient: Patient) -> dict[str, Any]:
    """The patient as a FHIR R4 collection Bundle of mCODE resources (JSON-ready dict)."""
    b = _Bundle(patient)
    b.add(_patient_resource(patient, b))
    primary_id = b.rid("primary")
    secondary_id = b.rid("secondary")
    b.add(_primary_condition(patient, primary_id, b))
    for field, role, category in (("t_category", "t", terms.T_CATEGORY),
                                  ("n_category", "n", terms.N_CATEGORY)):
        value = getattr(patient.primary, field)
        if value is not None:
            b.add(_tnm(value, role, category, primary_id, b))
    m_category = synchronous_m_category(patient)
    if m_category is not None:
        m = _tnm(m_category, "m", terms.M_CATEGORY, primary_id, b)
        m["extension"] = [{"url": EXT + "derived", "valueString": DERIVED_M}]
        b.add(m)
    b.add(_secondary_condition(patient, secondary_id, primary_id, b))
    if patient.liver.largest_diameter_cm is not None:
        b.add(_tumor(b.rid("tumor"), secondary_id, b))
        b.add(_tumor_size(patient.liver.largest_diameter_cm, b.rid("tumor"), b))
    _measurements(patient, b)
    _molecular(patient, b)
    _chemotherapy(patient, b)
    for i, op in enumerate(patient.operations or []):
        b.add(_operation(op, i, b))
    for i, event in enumerate(patient.treatments or []):
        b.add(_treatment_resource(event, i, b.rid(f"treatment-{i}"), b.subject,
                                  primary_id, secondary_id))
    out_ext = _section_extensions("outcome.", type(patient.outcome), patient.outcome, set())
    if out_ext:
        b.add({"resourceType": "Observation", "id": b.rid("outcome"), "status": "final",
               "subject": b.subject,
               "code": _coded(CODES, "outcome", "Follow-up and vital status"),
               "extension": out_ext})
    return {"resourceType": "Bundle", "id": b.rid("bundle"), "type": "collection",
            "meta": {"tag": [{"system": CODES, "code": "crlm-patient"}]}, "entry": b.entries}


def _patient_resource(patient: Patient, b: _Bundle) -> dict[str, Any]:
    """US Core / mCODE CancerPatient: identifier, gender, a name that says it is not known."""
    ext = []
    for name in ("age_years", "assessment_date", "extrahepatic_disease", "notes"):
        value = getattr(patient, name)
        if value is not None:
            ext.append(_ext(name, value, _leaf_type(Patient, name)))
    for key in PATIENT_LIST_KEYS:
        listed = getattr(patient, key)
        if listed is not None:
            ext.append({"url": EXT + f"{key}.count", "valueInteger": len(listed)})
    if patient.volumetry.liver_condition is not None:
        ext.append(_ext("volumetry.liver_condition", patient.volumetry.liver_condition,
                        type(patient.volumetry.liver_condition)))
    identifier = ({"system": PATIENT_ID_SYSTEM, "value": patient.id} if patient.id is not None
                  else {"system": RFC3986, "value": f"urn:uuid:{b.patient_id}"})
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": b.patient_id,
        "meta": {"profile": [PROFILE["patient"]]}, "identifier": [identifier],
        # crlm holds no names: US Core's data-absent-reason form of a required name.
        "name": [{"extension": [{"url": terms.DATA_ABSENT, "valueCode": "unknown"}]}],
        "gender": patient.sex.value if patient.sex is not None else "unknown",
    }
    if ext:
        resource["extension"] = ext
    return resource


def _condition_base(rid: str, profile: str, codes: tuple[terms.Code, ...], text: str,
                    b: _Bundle) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": rid, "meta": {"profile": [PROFILE[profile]]},
            "category": [_concept((terms.CONDITION_CATEGORY, "problem-list-item",
                                   "Problem List Item"))],
            "code": _concept(*codes, text=text), "subject": b.subject}


def _site_body(site: Any) -> dict[str, Any]:
    """The SNOMED body site of a primary site (with the mCODE laterality qualifier)."""
    structure, side = terms.SITE_BODY[site]
    body = _concept(structure, text=value_label(site))
    if side is not None:
        body["extension"] = [{"url": terms.LATERALITY_EXT, "valueCodeableConcept": _concept(side)}]
    return body


def _primary_condition(patient: Patient, rid: str, b: _Bundle) -> dict[str, Any]:
    p = patient.primary
    text = ("Colorectal cancer" if p.site is None
            else f"Colorectal cancer ({value_label(p.site)})")
    res = _condition_base(rid, "primary", terms.PRIMARY_CODES[p.site], text, b)
    ext = _section_extensions("primary.", type(p), p,
                              {"site", "t_category", "n_category", "date_of_diagnosis"})
    if ext:
        res["extension"] = ext
    if p.site is not None:
        res["bodySite"] = [_site_body(p.site)]
    if p.date_of_diagnosis is not None:
        res["onsetDateTime"] = p.date_of_diagnosis.isoformat()
    return res


def _tnm(value: str, role: str, category: terms.Code, primary_id: str,
         b: _Bundle) -> dict[str, Any]:
    """mCODE TNM category: AJCC value (crlm does not record the c/p prefix), AJCC 8 method."""
    return {"resourceType": "Observation", "id": b.rid(role), "status": "final",
            "meta": {"profile": [PROFILE[role]]},
            "category": [_concept(STAGING_CATEGORY)], "code": _concept(category),
            "subject": b.subject, "focus": [_ref(primary_id)],
            "valueCodeableConcept": _concept((terms.AJCC, value, value), text=value),
            "method": _concept(terms.AJCC_8)}


#: How crlm's M category is derived (it is not a field of its own).
DERIVED_M = ("M1a when the liver metastases are synchronous and there is no extrahepatic "
             "disease; M1 when there is")


def synchronous_m_category(patient: Patient) -> str | None:
    """The M category at diagnosis when the liver metastases were found with the primary: M1a
    (liver only) or M1 (extrahepatic disease too); None when not synchronous or not known."""
    if patient.liver.timing != Timing.synchronous or patient.extrahepatic_disease is None:
        return None
    return "M1" if patient.extrahepatic_disease else "M1a"


def _secondary_condition(patient: Patient, rid: str, primary_id: str,
                         b: _Bundle) -> dict[str, Any]:
    liver = patient.liver
    ext: list[dict[str, Any]] = [{"url": terms.CONDITION_RELATED,
                                  "valueReference": _ref(primary_id)}]
    ext += _section_extensions("liver.", type(liver), liver, {"lesions", "largest_diameter_cm"})
    if liver.lesions is not None:
        ext.append({"url": EXT + "liver.lesions.count", "valueInteger": len(liver.lesions)})
        for lesion in liver.lesions:
            ext.append({"url": EXT + "liver.lesions",
                        "extension": _section_extensions("", Lesion, lesion, set())})
    if liver.largest_diameter_cm is not None and liver.number_of_metastases is not None:
        tbs = math.hypot(liver.largest_diameter_cm, liver.number_of_metastases)
        ext.append({"url": EXT + "tumour-burden-score", "valueDecimal": round(tbs, 4)})
    res = _condition_base(rid, "secondary", terms.LIVER_METASTASES, "Colorectal liver metastases",
                          b)
    res["extension"] = ext
    res["bodySite"] = [_concept(terms.LIVER_SITE)]
    return res


def _tumor(rid: str, secondary_id: str, b: _Bundle) -> dict[str, Any]:
    """mCODE Tumor: the largest liver metastasis, the focus of the TumorSize observation."""
    return {"resourceType": "BodyStructure", "id": rid, "meta": {"profile": [PROFILE["tumor"]]},
            "extension": [{"url": terms.RELATED_CONDITION_EXT,
                           "valueReference": _ref(secondary_id)}],
            "identifier": [{"use": "usual",
                            "type": _concept(("http://hl7.org/fhir/resource-types",
                                              "BodyStructure", "BodyStructure")),
                            "system": RFC3986, "value": f"urn:uuid:{rid}"}],
            "description": "Largest liver metastasis",
            "location": _concept(terms.LIVER_SITE), "patient": b.subject}


def _tumor_size(diameter_cm: float, tumor_id: str, b: _Bundle) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": b.rid("size"), "status": "final",
            "meta": {"profile": [PROFILE["size"]]}, "code": _concept(terms.TUMOR_SIZE),
            "subject": b.subject, "focus": [_ref(tumor_id)],
            "component": [{"code": _concept(terms.LONGEST_DIMENSION),
                           "valueQuantity": _quantity(diameter_cm, "cm")}]}


def _measurements(patient: Patient, b: _Bundle) -> None:
    """Labs and body measurements: LOINC where certain, crlm codes otherwise; UCUM units."""
    for path, (code, display, unit) in LOINC_OBSERVATIONS.items():
        value = _get(patient, path)
        if value is not None:
            b.add({"resourceType": "Observation", "id": b.rid(path), "status": "final",
                   "subject": b.subject, "code": _coded(LOINC, code, display),
                   "valueQuantity": _quantity(value, unit)})
    for path, unit in CRLM_OBSERVATIONS.items():
        value = _get(patient, path)
        if value is not None:
            b.add({"resourceType": "Observation", "id": b.rid(path), "status": "final",
                   "subject": b.subject, "code": _coded(CODES, path),
                   "valueQuantity": _quantity(value, unit)})


def _variant(field: str, value: Any, b: _Bundle) -> dict[str, Any]:
    """mCODE GenomicVariant: presence (LA9633-4) or absence (LA9634-2) of a variant in a gene."""
    hgnc, symbol = GENES[field]
    res: dict[str, Any] = {
        "resourceType": "Observation", "id": b.rid(f"gene-{field}"), "status": "final",
        "meta": {"profile": [PROFILE["variant"]]}, "category": [_concept(terms.LAB_CATEGORY)],
        "code": _concept(terms.VARIANT_CODE), "subject": b.subject,
        "component": [{"code": _concept(terms.GENE_STUDIED),
                       "valueCodeableConcept": _concept((HGNC, hgnc, symbol))}],
    }
    if value in (Mutation.unknown, BrafStatus.unknown):
        res["dataAbsentReason"] = _absent()
    elif value in (Mutation.wildtype, BrafStatus.wildtype):
        res["valueCodeableConcept"] = _concept(terms.ABSENT)
    else:
        res["valueCodeableConcept"] = _concept(terms.PRESENT)
    if value == BrafStatus.v600e:
        res["component"].append({"code": _concept(terms.PROTEIN_HGVS),
                                 "valueCodeableConcept": _concept(
                                     (terms.HGVS, terms.BRAF_V600E_HGVS, terms.BRAF_V600E_HGVS))})
    elif value == BrafStatus.non_v600e:  # a BRAF variant other than V600E: no standard answer
        res["extension"] = [_ext("molecular.braf", value, BrafStatus)]
    return res


def _molecular(patient: Patient, b: _Bundle) -> None:
    m = patient.molecular
    for field in VARIANT_GENES:
        value = getattr(m, field)
        if value is not None:
            b.add(_variant(field, value, b))
    if m.her2 is not None:
        hgnc, symbol = GENES["her2"]
        b.add({"resourceType": "Observation", "id": b.rid("gene-her2"), "status": "final",
               "subject": b.subject, "code": _coded(CODES, "molecular.her2", symbol),
               "component": [{"code": _concept(terms.GENE_STUDIED),
                              "valueCodeableConcept": _concept((HGNC, hgnc, symbol))}],
               "valueCodeableConcept": _coded(CODES, m.her2.value, m.her2.value)})
    if m.msi is not None:
        res: dict[str, Any] = {"resourceType": "Observation", "id": b.rid("msi"),
                               "status": "final", "category": [_concept(terms.LAB_CATEGORY)],
                               "code": _concept(terms.MSI_CODE), "subject": b.subject}
        if m.msi == MsiStatus.unknown:
            res["dataAbsentReason"] = _absent()
        else:
            answer = terms.MSI_HIGH if m.msi == MsiStatus.msi_high else terms.MSI_STABLE
            res["valueCodeableConcept"] = _concept(answer)
        b.add(res)


def _chemotherapy(patient: Patient, b: _Bundle) -> None:
    chemo = patient.chemotherapy
    chemo_ext = _section_extensions("chemotherapy.", type(chemo), chemo, set())
    if chemo_ext:
        medication = (_coded(CODES, chemo.regimen.value, value_label(chemo.regimen))
                      if chemo.regimen is not None else {"text": "chemotherapy"})
        b.add({"resourceType": "MedicationStatement", "id": b.rid("chemotherapy"),
               "status": "completed", "subject": b.subject,
               "medicationCodeableConcept": medication, "extension": chemo_ext})


def _operation(op: Operation, position: int, b: _Bundle) -> dict[str, Any]:
    proc: dict[str, Any] = {
        "resourceType": "Procedure", "id": b.rid(f"operation-{position}"),
        "status": "completed", "subject": b.subject, "code": _coded(CODES, op.kind),
        "extension": [{"url": EXT + "operations.position", "valueInteger": position},
                      *_section_extensions("operations.", Operation, op, {"date", "kind"})],
    }
    if op.date is not None:
        proc["performedDateTime"] = op.date.isoformat()
    return proc


def _period(event: TreatmentEvent) -> dict[str, str]:
    period = {"start": event.date.isoformat()} if event.date else {}
    if event.end_date:
        period["end"] = event.end_date.isoformat()
    return period


def _done(event: TreatmentEvent) -> bool:
    """Whether the event is known to have happened (a past date), not merely planned."""
    return event.last_day is not None and event.last_day <= today()


#: Timeline kinds written as mCODE CancerRelatedSurgicalProcedure (code: excision of neoplasm).
SURGICAL_KINDS = frozenset({TreatmentKind.hepatectomy, TreatmentKind.primary_resection})
#: Timeline kinds that treat the primary tumour (the others treat the liver metastases).
PRIMARY_KINDS = frozenset({TreatmentKind.radiotherapy, TreatmentKind.primary_resection})


def _treatment_resource(event: TreatmentEvent, position: int, rid: str,
                        subject: dict[str, str], primary_id: str,
                        secondary_id: str) -> dict[str, Any]:
    """One timeline event as the mCODE resource of its kind, crlm extensions for the details."""
    ext = [{"url": EXT + "treatments.position", "valueInteger": position},
           _ext("treatments.kind", event.kind, TreatmentKind),
           *_section_extensions("treatments.", TreatmentEvent, event,
                                {"kind", "date", "end_date"})]
    base: dict[str, Any] = {"id": rid, "subject": subject, "extension": ext}
    if event.kind == TreatmentKind.systemic_therapy:
        return _systemic_therapy(event, base, primary_id)
    if event.kind == TreatmentKind.recurrence:
        return _recurrence(event, base, primary_id)
    reason = primary_id if event.kind in PRIMARY_KINDS else secondary_id
    return _procedure(event, base, reason)


def _systemic_therapy(event: TreatmentEvent, base: dict[str, Any],
                      primary_id: str) -> dict[str, Any]:
    """mCODE CancerRelatedMedicationAdministration for one systemic-therapy line."""
    code = event.regimen.value if event.regimen else "systemic_therapy"
    text = value_label(event.regimen or event.kind)
    if event.intent is not None:
        intent = terms.PALLIATIVE if event.intent == TherapyIntent.palliative else terms.CURATIVE
        base["extension"].append({"url": terms.PROCEDURE_INTENT_EXT,
                                  "valueCodeableConcept": _concept(intent)})
    return {"resourceType": "MedicationAdministration",
            "meta": {"profile": [PROFILE["medication"]]},
            "status": "completed" if _done(event) else "unknown",
            "medicationCodeableConcept": _coded(CODES, code, text), **base,
            # effective[x] is required: an unknown date says so (data-absent-reason)
            "effectivePeriod": _period(event) or {
                "extension": [{"url": terms.DATA_ABSENT, "valueCode": "unknown"}]},
            "reasonReference": [_ref(primary_id)]}


def _recurrence(event: TreatmentEvent, base: dict[str, Any], primary_id: str) -> dict[str, Any]:
    """mCODE CancerDiseaseStatus: the disease worsened (recurred) on the event's date."""
    res = {"resourceType": "Observation", "status": "final",
           "meta": {"profile": [PROFILE["disease_status"]]},
           "code": _concept(terms.DISEASE_STATUS),
           "valueCodeableConcept": _concept(terms.WORSENED), **base,
           "focus": [_ref(primary_id)]}
    if event.date:
        res["effectiveDateTime"] = event.date.isoformat()
    return res


def _procedure(event: TreatmentEvent, base: dict[str, Any], reason_id: str) -> dict[str, Any]:
    """A Procedure: radiotherapy course summary, surgical procedure, or (PVE, ALPPS, ablation)
    a plain Procedure with crlm's code, as no verified standard code supports a profile."""
    label = value_label(event.kind)
    res = {"resourceType": "Procedure", "status": "completed" if _done(event) else "unknown",
           **base, "reasonReference": [_ref(reason_id)]}
    if event.kind == TreatmentKind.radiotherapy:
        res["meta"] = {"profile": [PROFILE["radiotherapy"]]}
        res["code"] = _concept(terms.RADIOTHERAPY_COURSE, text=label)
    elif event.kind in SURGICAL_KINDS:
        res["meta"] = {"profile": [PROFILE["surgery"]]}
        res["code"] = _concept(terms.EXCISION_OF_NEOPLASM, (CODES, event.kind.value, label),
                               text=label)
    else:
        res["code"] = _coded(CODES, event.kind.value, label)
    if _period(event):
        res["performedPeriod"] = _period(event)
    return res


def fhir_to_patient(bundle: dict[str, Any]) -> Patient:
    """Read a Bundle into a validated Patient, refusing anything crlm would have to ignore.

    Use :func:`crlm.registry.fhir_read.read_bundle` to read a bundle from another system and get
    the list of what was ignored instead.
    """
    from crlm.registry.fhir_read import read_bundle

    reading = read_bundle(bundle)
    if reading.ignored:
        more = f" (and {len(reading.ignored) - 1} more)" if len(reading.ignored) > 1 else ""
        raise FhirImportError(reading.ignored[0] + more)
    return reading.patient
