"""Reading a FHIR R4 Bundle into a crlm Patient.

Two kinds of bundle are read the same way: crlm's own (every crlm extension is applied, so the
round trip is lossless) and mCODE bundles written by other systems, from which crlm maps what it
records (sex, colorectal primary and its site and date, T and N categories, liver metastases and
the largest one's size, KRAS/NRAS/BRAF/TP53/SMAD4/APC/FBXW7 variants, MSI, LOINC labs). Whatever
it does not record — another resource type, element, extension, gene or code — is listed in
:attr:`FhirReading.ignored` with the entry and element it came from; nothing is dropped silently.
A value crlm does read but cannot accept (wrong JSON shape, impossible date, invalid patient) is a
:class:`~crlm.registry.fhir.FhirImportError` naming the element.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from crlm.domain import Patient, parse_patient
from crlm.domain.dates import EARLIEST_PLAUSIBLE_DATE, today
from crlm.domain.patient import PrimarySite, PrimaryTumour
from crlm.registry import fhir_terms as terms
from crlm.registry.fhir import (
    CODES,
    CRLM_OBSERVATIONS,
    EXT,
    LOINC_OBSERVATIONS,
    PATIENT_ID_SYSTEM,
    PATIENT_LIST_KEYS,
    PROFILE,
    RFC3986,
    FhirImportError,
    _leaf_type,
)


@dataclass(frozen=True)
class FhirReading:
    """A bundle read into a patient, with what crlm could not use."""

    patient: Patient
    ignored: tuple[str, ...] = ()


#: Elements every resource may carry that hold no patient data.
SILENT = frozenset({"resourceType", "id", "meta", "text"})
#: Statuses that mean the resource records nothing that happened.
VOID_STATUSES = frozenset({"entered-in-error", "cancelled", "not-done"})
_FHIR_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
#: Element → the JSON type crlm expects there (for the elements crlm reads).
_SHAPES: dict[str, type] = {
    "meta": dict, "code": dict, "extension": list, "bodySite": list, "subject": dict,
    "onsetDateTime": str, "performedDateTime": str, "effectiveDateTime": str, "gender": str,
    "birthDate": str, "valueCodeableConcept": dict, "component": list, "valueQuantity": dict,
    "medicationCodeableConcept": dict, "performedPeriod": dict, "effectivePeriod": dict,
    "focus": list, "identifier": list, "name": list, "method": dict, "location": dict,
    "patient": dict, "dataAbsentReason": dict, "reasonReference": list, "status": str,
}
#: ``category`` is a list on these resources (a single concept elsewhere).
_LIST_CATEGORY = frozenset({"Condition", "Observation"})
_SHAPE_NAMES = {dict: "an object", list: "a list", str: "text"}
_LOINC_BY_CODE = {code: path for path, (code, _d, _u) in LOINC_OBSERVATIONS.items()}
_GENE_BY_HGNC = {hgnc: name for name, (hgnc, _symbol) in terms.GENES.items()}
#: Rank of a molecular result when several observations speak of one gene (a found variant
#: outranks its absence elsewhere; any result outranks unknown).
_RANK = {"v600e": 4, "non_v600e": 3, "mutant": 3, "wildtype": 2, "unknown": 1}
#: What crlm writes on a timeline resource (all derived from its crlm extensions).
_TREATMENT_ELEMENTS = frozenset({
    "status", "code", "medicationCodeableConcept", "subject", "extension", "effectivePeriod",
    "effectiveDateTime", "performedPeriod", "reasonReference", "focus", "valueCodeableConcept",
})


def _list_fields() -> set[str]:
    from crlm.domain import patient as models
    from crlm.domain.treatment import TreatmentEvent

    out = set()
    for prefix, cls in (("primary.", models.PrimaryTumour), ("liver.", models.LiverDisease),
                        ("outcome.", models.Outcome), ("operations.", models.Operation),
                        ("treatments.", TreatmentEvent)):
        for name in cls.model_fields:
            if typing.get_origin(_leaf_type(cls, name)) is list:
                out.add(prefix + name)
    return out


LIST_FIELDS = _list_fields()


def _codings(concept: Any) -> list[tuple[str, str]]:
    """(system, code) pairs of a CodeableConcept (empty when it has none)."""
    coding = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(coding, list):
        return []
    return [(str(c.get("system", "")), str(c.get("code", ""))) for c in coding
            if isinstance(c, dict)]


def _codes(concept: Any) -> set[str]:
    return {code for _system, code in _codings(concept)}


def _read_x(element: dict[str, Any], where: str) -> Any:
    for key in ("valueBoolean", "valueCode", "valueInteger", "valueDecimal", "valueDate",
                "valueString"):
        if key in element:
            return element[key]
    raise FhirImportError(f"{where}: no supported value[x]")


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        doc = doc.setdefault(part, {})
    doc[parts[-1]] = value


def _check_shape(res: dict[str, Any], where: str) -> None:
    """Every element crlm reads has the JSON type crlm reads (else the error names it)."""
    for key, value in res.items():
        shape = _SHAPES.get(key)
        if key == "category" and res.get("resourceType") in _LIST_CATEGORY:
            shape = list
        if shape is not None and not isinstance(value, shape):
            raise FhirImportError(f"{where}.{key}: expected {_SHAPE_NAMES[shape]}")
    for i, ext in enumerate(res.get("extension", [])):
        if not isinstance(ext, dict) or not isinstance(ext.get("url"), str):
            raise FhirImportError(f"{where}.extension[{i}]: expected an object with a url")
        if "extension" in ext:
            _check_shape({"extension": ext["extension"]}, f"{where}.extension[{i}]")


@dataclass
class _Reader:
    """State while reading one bundle."""

    doc: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    index: dict[str, dict[str, Any]] = field(default_factory=dict)
    patient: dict[str, Any] | None = None
    operations: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    treatments: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    molecular: dict[str, str] = field(default_factory=dict)
    tnm_rank: dict[str, int] = field(default_factory=dict)
    sizes: list[float] = field(default_factory=list)
    birth: tuple[str, str] | None = None
    #: One flag per primary cancer condition in the bundle: is it colorectal?
    primaries: list[bool] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.ignored.append(text)

    def resolve(self, reference: Any) -> dict[str, Any] | None:
        """The bundle resource a Reference points to (by fullUrl or ``Type/id``), or None."""
        ref = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(ref, str):
            return None
        found = self.index.get(ref)
        if found is None and ref.count("/") >= 1:
            found = self.index.get("/".join(ref.rsplit("/", 2)[-2:]))
        return found

    # ------------------------------------------------------------------ extensions

    def extensions(self, doc: dict[str, Any], extensions: list[dict[str, Any]], where: str,
                   standard: frozenset[str] = frozenset()) -> None:
        """Apply crlm extensions to ``doc`` (lists: ``.count`` then items); note foreign ones."""
        lists: dict[str, list[Any]] = {}
        counts: dict[str, int] = {}
        for i, ext in enumerate(extensions):
            url = ext.get("url", "")
            here = f"{where}.extension[{i}]"
            if url in standard:
                continue
            if not url.startswith(EXT):
                self.note(f"{here}: unsupported extension {url!r} (ignored)")
                continue
            path = url[len(EXT):]
            if path in {"tumour-burden-score", "operations.position", "treatments.position"}:
                continue  # derived or structural, not patient data
            if path.endswith(".count"):
                counts[path[: -len(".count")]] = _read_x(ext, here)
            elif path == "liver.lesions":
                item: dict[str, Any] = {}
                self.extensions(item, ext.get("extension", []), here)
                lists.setdefault(path, []).append(item)
            elif path in LIST_FIELDS:
                lists.setdefault(path, []).append(_read_x(ext, here))
            else:
                _set(doc, path, _read_x(ext, here))
        for path, n in counts.items():
            items = lists.get(path, [])
            if len(items) != n:
                raise FhirImportError(f"{where}: {path} has {len(items)} items, count says {n}")
            _set(doc, path, items)

    # ------------------------------------------------------------------ resources

    def read(self, res: dict[str, Any], where: str) -> None:
        """Apply one resource; note the elements (or the whole resource) crlm does not read."""
        kind = res.get("resourceType")
        status = res.get("status")
        if status in VOID_STATUSES:
            self.note(f"{where}: status {status!r}, nothing to read (ignored)")
            return
        reader = {"Patient": self._patient, "Condition": self._condition,
                  "Observation": self._observation, "BodyStructure": self._body_structure,
                  "Procedure": self._procedure, "MedicationAdministration": self._procedure,
                  "MedicationStatement": self._medication_statement}.get(str(kind))
        if reader is None:
            self.note(f"{where}: unsupported resource type {kind!r} (ignored)")
            return
        _check_shape(res, where)
        if kind != "Patient" and not self._about_patient(res):
            self.note(f"{where}: not about the bundle's patient (ignored)")
            return
        used = reader(res, where)
        if used is None:
            return
        for key in res:
            if key not in used and key not in SILENT:
                self.note(f"{where}.{key}: not an element crlm reads (ignored)")

    def _about_patient(self, res: dict[str, Any]) -> bool:
        ref = res.get("subject", res.get("patient"))
        return ref is not None and self.resolve(ref) is self.patient

    def _patient(self, res: dict[str, Any], where: str) -> set[str]:
        for i, ident in enumerate(res.get("identifier", [])):
            system = ident.get("system")
            if system == PATIENT_ID_SYSTEM:
                self.doc["id"] = ident.get("value")
            elif not (system == RFC3986 and ident.get("value") == f"urn:uuid:{res.get('id')}"):
                self.note(f"{where}.identifier[{i}]: identifier {system!r} not read "
                          "(crlm keeps only its own patient id) (ignored)")
        names = res.get("name", [])
        if any(set(n) != {"extension"} or any(e.get("url") != terms.DATA_ABSENT
                                              for e in n["extension"]) for n in names):
            self.note(f"{where}.name: not an element crlm reads (crlm records no names) "
                      "(ignored)")
        gender = res.get("gender")
        if gender in ("male", "female"):
            self.doc["sex"] = gender
        elif gender is not None and gender != "unknown":
            self.note(f"{where}.gender: {gender!r} is not a sex crlm records (ignored)")
        if "birthDate" in res:
            self.birth = (res["birthDate"], where)
        exts = res.get("extension", [])
        list_counts = {EXT + f"{k}.count": k for k in PATIENT_LIST_KEYS}
        for e in exts:
            if e.get("url") in list_counts:
                self.counts[list_counts[e["url"]]] = _read_x(e, f"{where}.extension")
        self.extensions(self.doc, [e for e in exts if e.get("url") not in list_counts], where)
        return {"identifier", "name", "gender", "birthDate", "extension"}

    def _condition(self, res: dict[str, Any], where: str) -> set[str] | None:
        profiles = res.get("meta", {}).get("profile", [])
        codes = _codings(res.get("code"))
        liver = {(s, c) for s, c, _d in terms.LIVER_METASTASES}
        if PROFILE["secondary"] in profiles or liver & set(codes):
            if not liver & set(codes) and not self._has_site(res, terms.LIVER_SITE[1]):
                self.note(f"{where}: a secondary cancer that is not in the liver (ignored)")
                return None
            self.extensions(self.doc, res.get("extension", []), where,
                            frozenset({terms.CONDITION_RELATED}))
            return {"category", "code", "bodySite", "subject", "extension"}
        colorectal = [terms.COLORECTAL_CODES[c] for c in codes if c in terms.COLORECTAL_CODES]
        if not _is_colorectal(res):
            what = "a primary cancer that is not colorectal" if (
                PROFILE["primary"] in profiles) else "a condition crlm does not record"
            self.note(f"{where}.code: {what} (ignored)")
            return None
        site = next((s for s in colorectal if s is not None), None)
        for i, body in enumerate(res.get("bodySite", [])):
            found = self._site(body, f"{where}.bodySite[{i}]")
            site = found or site
        if site is not None:
            _set(self.doc, "primary.site", site.value)
        if "onsetDateTime" in res:
            _set(self.doc, "primary.date_of_diagnosis", res["onsetDateTime"][:10])
        self.extensions(self.doc, res.get("extension", []), where)
        return {"category", "code", "bodySite", "onsetDateTime", "subject", "extension"}

    @staticmethod
    def _has_site(res: dict[str, Any], code: str) -> bool:
        return any((terms.SNOMED, code) in _codings(b) for b in res.get("bodySite", []))

    def _site(self, body: dict[str, Any], where: str) -> Any:
        codes = {c for s, c in _codings(body) if s == terms.SNOMED}
        sides = {c for e in body.get("extension", []) if e.get("url") == terms.LATERALITY_EXT
                 for s, c in _codings(e.get("valueCodeableConcept")) if s == terms.SNOMED}
        for code in {c for s, c in _codings(body) if s == CODES}:  # crlm before mCODE STU4
            if code in PrimarySite.__members__:
                return PrimarySite(code)
        for site, (structure, side) in terms.SITE_BODY.items():
            if structure[1] in codes and (side is None or side[1] in sides):
                return site
        for code in codes:
            if code in terms.SEGMENT_SITES:
                return terms.SEGMENT_SITES[code]
        if codes != {terms.COLON_SITE[1]}:
            self.note(f"{where}: body site {sorted(codes)} is not a site crlm records "
                      "(ignored)")
        return None

    def _observation(self, res: dict[str, Any], where: str) -> set[str] | None:
        if _is_treatment(res):
            self.treatments.append(_read_treatment(self, res, where))
            return set(_TREATMENT_ELEMENTS)
        if any(e.get("url") == EXT + "derived" for e in res.get("extension", [])):
            return set(res)  # derived by crlm from fields read elsewhere (the M category)
        profiles = res.get("meta", {}).get("profile", [])
        codings = _codings(res.get("code"))
        codes = {c for _s, c in codings}
        if codes & terms.M_TYPES or PROFILE["m"] in profiles:
            self.note(f"{where}: an M category (crlm records the liver metastases and "
                      "extrahepatic disease instead) (ignored)")
            return None
        if PROFILE["size"] in profiles or terms.TUMOR_SIZE[1] in codes:
            return self._tumor_size(res, where)
        if codes & terms.T_TYPES or PROFILE["t"] in profiles:
            return self._tnm(res, where, "t_category", codes)
        if codes & terms.N_TYPES or PROFILE["n"] in profiles:
            return self._tnm(res, where, "n_category", codes)
        if terms.VARIANT_CODE[1] in codes:
            return self._variant(res, where)
        if terms.MSI_CODE[1] in codes:
            return self._msi(res, where)
        system, code = codings[0] if codings else ("", "")
        if system == terms.LOINC and code in _LOINC_BY_CODE:
            return self._quantity(res, where, _LOINC_BY_CODE[code])
        if system == CODES and code in CRLM_OBSERVATIONS:
            return self._quantity(res, where, code)
        if system == CODES and code.startswith("molecular."):  # HER2 (and bundles before 0.2)
            _set(self.doc, code, _code(res.get("valueCodeableConcept", {}),
                                       f"{where}.valueCodeableConcept"))
            return {"status", "code", "subject", "component", "valueCodeableConcept"}
        if system == CODES and code == "outcome":
            self.extensions(self.doc, res.get("extension", []), where)
            return {"status", "code", "subject", "extension"}
        self.note(f"{where}.code: an observation crlm does not read (ignored)")
        return None

    def _quantity(self, res: dict[str, Any], where: str, path: str) -> set[str] | None:
        expected = (LOINC_OBSERVATIONS[path][2] if path in LOINC_OBSERVATIONS
                    else CRLM_OBSERVATIONS[path])
        quantity = res.get("valueQuantity")
        if not isinstance(quantity, dict) or "value" not in quantity:
            raise FhirImportError(f"{where}.valueQuantity.value: missing")
        if quantity.get("code", expected) != expected:
            self.note(f"{where}.valueQuantity: unit {quantity.get('code')!r}, crlm reads "
                      f"{expected!r} (ignored)")
            return None
        _set(self.doc, path, quantity["value"])
        return {"status", "code", "subject", "valueQuantity", "category"}

    def _tnm(self, res: dict[str, Any], where: str, name: str,
             types: set[str]) -> set[str] | None:
        concept = res.get("valueCodeableConcept", {})
        value, rank = None, 1
        for system, code in _codings(concept):
            if system == terms.AJCC:
                match = re.fullmatch(r"(c|p)?([TN].*)", code)
                if match is None:
                    continue
                value = match.group(2)
                rank = {"c": 2, "p": 3}.get(match.group(1) or "", 1)
            elif system == terms.SNOMED and code in terms.SNOMED_TNM:
                value = terms.SNOMED_TNM[code]
            elif system == CODES:  # crlm before mCODE STU4
                value = code
        if value is None:
            self.note(f"{where}.valueCodeableConcept: not a T or N category crlm reads "
                      "(post-treatment, or another code system) (ignored)")
            return None
        if not self._stages_colorectal_primary(res):
            self.note(f"{where}: staging of a cancer that is not a colorectal primary (ignored)")
            return None
        if types & {"384625004", "371494008", "21899-0", "21900-6"}:
            rank = 3  # pathological
        elif types & {"399504009", "399534004", "21905-5", "21906-3"}:
            rank = 2  # clinical
        value = value[0] + value[1:].replace("X", "x").replace("IS", "is")
        try:
            PrimaryTumour.model_validate({name: value})
        except ValidationError:
            self.note(f"{where}.valueCodeableConcept: {value} is not a category crlm records "
                      "(ignored)")
            return None
        if rank > self.tnm_rank.get(name, 0):  # pathological outranks clinical
            self.tnm_rank[name] = rank
            _set(self.doc, f"primary.{name}", value)
        elif rank == self.tnm_rank.get(name):
            self.note(f"{where}: a second {name[0].upper()} category of the same kind "
                      "(ignored)")
        return {"status", "category", "code", "subject", "focus", "valueCodeableConcept",
                "method"}

    def _stages_colorectal_primary(self, res: dict[str, Any]) -> bool:
        """The staging's focus is a colorectal primary (or, without a focus, the bundle's only
        primary cancer is colorectal)."""
        focus = [self.resolve(f) for f in res.get("focus", [])]
        if focus:
            return any(f is not None and _is_colorectal(f) for f in focus)
        return any(self.primaries) and all(self.primaries)

    def _tumor_size(self, res: dict[str, Any], where: str) -> set[str] | None:
        focus = [self.resolve(f) for f in res.get("focus", [])]
        if not any(f is not None and _in_liver(f) for f in focus):
            self.note(f"{where}: size of a tumour that is not a liver metastasis (ignored)")
            return None
        for comp in res.get("component", []):
            if terms.LONGEST_DIMENSION[1] in _codes(comp.get("code")):
                quantity = comp.get("valueQuantity", {})
                factor = {"cm": 1.0, "mm": 0.1}.get(quantity.get("code"))
                if factor is None or not isinstance(quantity.get("value"), int | float):
                    raise FhirImportError(f"{where}.component.valueQuantity: a length in cm or "
                                          "mm is needed")
                value = quantity["value"]
                self.sizes.append(value if factor == 1.0 else round(value * factor, 6))
        return {"status", "code", "subject", "focus", "component", "category"}

    def _body_structure(self, res: dict[str, Any], where: str) -> set[str] | None:
        if (terms.SNOMED, terms.LIVER_SITE[1]) not in _codings(res.get("location")):
            self.note(f"{where}: a body structure outside the liver (ignored)")
            return None
        self.extensions({}, res.get("extension", []), where,
                        frozenset({terms.RELATED_CONDITION_EXT}))
        return {"extension", "identifier", "location", "patient", "description"}

    def _variant(self, res: dict[str, Any], where: str) -> set[str]:
        """mCODE GenomicVariant: each gene studied is mutant (present) or wild type (absent)."""
        values = _codes(res.get("valueCodeableConcept"))
        result = ("mutant" if terms.PRESENT[1] in values
                  else "wildtype" if terms.ABSENT[1] in values
                  else "unknown" if "dataAbsentReason" in res else None)
        genes, protein = self._variant_components(res, where)
        braf_ext = None
        for i, ext in enumerate(res.get("extension", [])):
            if ext.get("url") == EXT + "molecular.braf":
                braf_ext = _read_x(ext, f"{where}.extension[{i}]")
            else:
                self.note(f"{where}.extension[{i}]: unsupported extension "
                          f"{ext.get('url')!r} (ignored)")
        if result is None:
            self.note(f"{where}.valueCodeableConcept: not a presence/absence answer (ignored)")
            genes = []
        for gene in genes:
            value = result
            if gene == "her2":
                self.note(f"{where}: an ERBB2 variant (crlm records HER2 amplification) "
                          "(ignored)")
                continue
            if gene == "braf" and result == "mutant":
                value = braf_ext or _braf_variant(protein)
                if value is None:
                    self.note(f"{where}: a BRAF variant without its protein change (crlm "
                              "records V600E or another) (ignored)")
                    continue
            if _RANK.get(value, 0) > _RANK.get(self.molecular.get(gene, ""), 0):
                self.molecular[gene] = value
        return {"status", "category", "code", "subject", "component", "valueCodeableConcept",
                "dataAbsentReason", "extension"}

    def _variant_components(self, res: dict[str, Any],
                            where: str) -> tuple[list[str], str | None]:
        """(crlm fields of the genes studied, the protein change if given); notes the rest."""
        genes: list[str] = []
        protein = None
        for i, comp in enumerate(res.get("component", [])):
            codes = _codes(comp.get("code"))
            value = comp.get("valueCodeableConcept", {})
            if terms.GENE_STUDIED[1] in codes:
                for system, code in _codings(value):
                    if system in terms.HGNC_ALIASES and code in _GENE_BY_HGNC:
                        genes.append(_GENE_BY_HGNC[code])
                    else:
                        self.note(f"{where}.component[{i}]: gene {code} is not one crlm "
                                  "records (ignored)")
            elif terms.PROTEIN_HGVS[1] in codes:
                protein = " ".join(c for _s, c in _codings(value))
            else:
                self.note(f"{where}.component[{i}]: {sorted(codes)} not read (ignored)")
        return genes, protein

    def _msi(self, res: dict[str, Any], where: str) -> set[str] | None:
        values = _codes(res.get("valueCodeableConcept"))
        if terms.MSI_HIGH[1] in values:
            _set(self.doc, "molecular.msi", "msi_high")
        elif terms.MSI_STABLE[1] in values:
            _set(self.doc, "molecular.msi", "mss")
        elif "dataAbsentReason" in res:
            _set(self.doc, "molecular.msi", "unknown")
        else:
            self.note(f"{where}.valueCodeableConcept: an MSI result other than MSI-H or stable "
                      "(ignored)")
            return None
        return {"status", "category", "code", "subject", "valueCodeableConcept",
                "dataAbsentReason"}

    def _procedure(self, res: dict[str, Any], where: str) -> set[str] | None:
        if _is_treatment(res):
            self.treatments.append(_read_treatment(self, res, where))
            return set(_TREATMENT_ELEMENTS)
        position = next((e.get("valueInteger") for e in res.get("extension", [])
                         if e.get("url") == EXT + "operations.position"), None)
        if res.get("resourceType") != "Procedure" or position is None:
            self.note(f"{where}: a treatment crlm cannot place on its timeline (crlm reads "
                      "its own timeline resources only) (ignored)")
            return None
        op: dict[str, Any] = {"kind": _code(res.get("code", {}), f"{where}.code")}
        if "performedDateTime" in res:
            op["date"] = res["performedDateTime"][:10]
        nested: dict[str, Any] = {}
        self.extensions(nested, res.get("extension", []), where)
        op.update(nested.get("operations", {}))
        self.operations.append((position, op))
        return {"status", "subject", "code", "extension", "performedDateTime"}

    def _medication_statement(self, res: dict[str, Any], where: str) -> set[str] | None:
        if not any(e.get("url", "").startswith(EXT) for e in res.get("extension", [])):
            self.note(f"{where}: a medication statement crlm cannot place on its timeline "
                      "(ignored)")
            return None
        self.extensions(self.doc, res.get("extension", []), where)
        return {"status", "subject", "medicationCodeableConcept", "extension"}

    # ------------------------------------------------------------------ finishing

    def finish(self) -> None:
        """Lists, merged molecular results, the largest tumour, the age from a birth date."""
        for key, found in (("operations", self.operations), ("treatments", self.treatments)):
            if key in self.counts:
                if len(found) != self.counts[key]:
                    raise FhirImportError(f"Bundle: {len(found)} {key} resources, count says "
                                          f"{self.counts[key]}")
                self.doc[key] = [item for _, item in sorted(found, key=lambda x: x[0])]
            elif found:
                raise FhirImportError(f"Bundle.entry(Patient).extension: {key}.count missing")
        for gene, value in self.molecular.items():
            _set(self.doc, f"molecular.{gene}", value)
        if self.sizes:
            _set(self.doc, "liver.largest_diameter_cm", max(self.sizes))
        if self.birth is not None:
            self._birth_date(*self.birth)

    def _birth_date(self, text: str, where: str) -> None:
        """crlm keeps the age at assessment, not the birth date: derive that age, or check it."""
        born = _birth_date(text, where)
        assessed = self.doc.get("assessment_date")
        if born is None or not isinstance(assessed, str):
            self.note(f"{where}.birthDate: crlm records the age at the assessment date, not a "
                      "birth date; a full birth date and the assessment date are needed to "
                      "derive it (ignored)")
            return
        try:
            on = dt.date.fromisoformat(assessed)
        except ValueError:
            raise FhirImportError(f"{where}: assessment date {assessed!r} is not a date") \
                from None
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        stated = self.doc.get("age_years")
        if stated is None:
            self.doc["age_years"] = age
        elif not isinstance(stated, int | float) or abs(math.floor(stated) - age) > 1:
            raise FhirImportError(f"{where}.birthDate: {text} gives age {age} at the assessment "
                                  f"date, but the age recorded is {stated}")


def _braf_variant(protein: str | None) -> str | None:
    """A BRAF variant by its protein change (HGVS or short form); None when not given."""
    if protein is None:
        return None
    return "v600e" if "Val600Glu" in protein or "V600E" in protein else "non_v600e"


def _profiles(res: dict[str, Any]) -> list[Any]:
    meta = res.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return profiles if isinstance(profiles, list) else []


def _is_colorectal(res: dict[str, Any]) -> bool:
    """A Condition coded as a colorectal primary cancer (or crlm's, written before mCODE STU4
    with crlm-coded body site and extensions)."""
    if res.get("resourceType") != "Condition":
        return False
    if any(c in terms.COLORECTAL_CODES for c in _codings(res.get("code"))):
        return True
    return PROFILE["primary"] in _profiles(res) and any(
        isinstance(e, dict) and str(e.get("url", "")).startswith(EXT + "primary.")
        for e in _as_list(res.get("extension")))


def _in_liver(res: dict[str, Any]) -> bool:
    """A liver tumour (BodyStructure located in the liver) or the liver metastases Condition."""
    liver = (terms.SNOMED, terms.LIVER_SITE[1])
    if res.get("resourceType") == "BodyStructure":
        return liver in _codings(res.get("location"))
    return res.get("resourceType") == "Condition" and (
        any(liver in _codings(b) for b in _as_list(res.get("bodySite")))
        or bool({(s, c) for s, c, _d in terms.LIVER_METASTASES}
                & set(_codings(res.get("code")))))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _code(concept: dict[str, Any], where: str) -> str:
    try:
        return concept["coding"][0]["code"]
    except (KeyError, IndexError, TypeError):
        raise FhirImportError(f"{where}: expected a coding with a code") from None


def _is_treatment(res: dict[str, Any]) -> bool:
    exts = res.get("extension")
    return isinstance(exts, list) and any(
        isinstance(e, dict) and e.get("url") == EXT + "treatments.position" for e in exts)


def _read_treatment(reader: _Reader, res: dict[str, Any],
                    where: str) -> tuple[int, dict[str, Any]]:
    """(position, fields) of a timeline resource written by crlm."""
    nested: dict[str, Any] = {}
    exts = [e for e in res.get("extension", []) if e.get("url") != EXT + "treatments.position"]
    reader.extensions(nested, exts, where, frozenset({terms.PROCEDURE_INTENT_EXT}))
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


def _index(entries: list[Any]) -> tuple[_Reader, list[tuple[dict[str, Any], str]]]:
    """A reader whose index resolves every entry by fullUrl and ``Type/id``; the resources."""
    reader = _Reader()
    resources = []
    for i, entry in enumerate(entries):
        res = entry.get("resource") if isinstance(entry, dict) else None
        where = f"Bundle.entry[{i}]"
        if not isinstance(res, dict):
            raise FhirImportError(f"{where}.resource: missing")
        where = f"{where}.resource({res.get('resourceType')})"
        if isinstance(entry.get("fullUrl"), str):
            reader.index[entry["fullUrl"]] = res
        if isinstance(res.get("id"), str):
            reader.index[f"{res.get('resourceType')}/{res['id']}"] = res
        if res.get("resourceType") == "Condition" and (
                PROFILE["primary"] in _profiles(res) or _is_colorectal(res)):
            reader.primaries.append(_is_colorectal(res))
        if res.get("resourceType") == "Patient":
            if reader.patient is not None:
                raise FhirImportError(f"{where}: a second Patient (crlm reads one patient per "
                                      "bundle)")
            reader.patient = res
        resources.append((res, where))
    return reader, resources


def read_bundle(bundle: Any) -> FhirReading:
    """Read a Bundle (crlm's or another system's mCODE bundle) into a validated Patient."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirImportError("Bundle: resourceType must be 'Bundle'")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirImportError("Bundle.entry: expected a list")
    reader, resources = _index(entries)
    for res, where in resources:
        try:
            reader.read(res, where)
        except FhirImportError:
            raise
        except (AttributeError, TypeError, KeyError, IndexError, ValueError, StopIteration):
            raise FhirImportError(f"{where}: malformed (an element is missing or has the wrong "
                                  "shape)") from None
    if reader.patient is None:
        first = f" ({reader.ignored[0]})" if reader.ignored else ""
        raise FhirImportError(f"Bundle: no Patient resource{first}")
    reader.finish()
    try:
        patient = parse_patient(reader.doc)
    except ValidationError as exc:
        from crlm.domain import format_validation_error

        raise FhirImportError(f"Bundle: invalid patient data:\n{format_validation_error(exc)}") \
            from None
    except ValueError as exc:
        raise FhirImportError(f"Bundle: invalid patient data: {exc}") from None
    return FhirReading(patient, tuple(reader.ignored))
