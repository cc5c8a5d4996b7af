"""The patient form, derived from the patient model: sections, inputs, form data ↔ patient dict,
validation errors → the input they concern, in clinical words.

Every leaf field of :class:`crlm.domain.Patient` (lists of lesions, treatment events and
operations included) is an input; a test pins this (``model_leaf_paths`` vs ``form_paths``).
The kind of each input is read from the model (enum → select, bool → yes/no/unknown,
int/float → number, date → date, list of enum → checkboxes, regex of alternatives → select).
Empty inputs mean *unknown* and are left out. Repeating things are named ``<list>.<i>.<field>``
(e.g. ``liver.lesions.0.segment``); ``*`` stands for the index in a field's path.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError

from crlm.domain import Patient
from crlm.domain.errors import problems_from
from crlm.domain.treatment import COURSE_KINDS, FIELDS_BY_KIND, TreatmentKind

# ---------------------------------------------------------------------------- labels and help

#: path → (label, one-line help). The label and unit of :mod:`crlm.clinical.vocabulary` win
#: where it has the field; this table gives the help line (and the label it lacks).
LABELS: dict[str, tuple[str, str]] = {
    "id": ("Hospital / study id", "Letters, digits, dot, dash or underscore; unique per centre."),
    "age_years": ("Age", "Age at the MDT assessment (18–110)."),
    "sex": ("Sex", "Used for body surface area and standardized liver volume."),
    "height_cm": ("Height", "For body surface area (100–250 cm)."),
    "weight_kg": ("Weight", "For body surface area (25–350 kg)."),
    "assessment_date": ("Date of the MDT assessment", "Rules that need 'today' use this date."),
    "extrahepatic_disease": ("Extrahepatic disease", "Any metastasis outside the liver."),
    "primary.site": ("Site of the primary", "Rectum or the part of the colon."),
    "primary.distance_from_anal_verge_cm": (
        "Distance from the anal verge", "Rectal primaries: lower edge of the tumour (0–30 cm)."),
    "primary.date_of_diagnosis": ("Date of diagnosis", "Histological diagnosis of the primary."),
    "primary.t_category": ("T category", "Clinical or pathological T of the primary."),
    "primary.n_category": ("N category", "Clinical or pathological N of the primary."),
    "primary.node_positive": ("Lymph nodes positive", "Nodal metastases of the primary."),
    "primary.serosal_invasion": ("Serosal invasion", "The primary invades the serosa (T4a)."),
    "primary.symptoms": ("Symptoms of the primary", "Tick every symptom; 'none' if none."),
    "primary.locally_advanced": (
        "Locally advanced rectal cancer", "cT3–4 and/or node positive, or threatened MRF."),
    "primary.easily_resectable": (
        "Primary easily resectable", "The MDT judges the primary easily resectable."),
    "primary.planned_procedure": ("Planned primary operation", "Planned for the primary."),
    "primary.resected": ("Primary resected", "The primary has been removed."),
    "primary.clinical_complete_response": (
        "Clinical complete response", "Complete clinical response of the primary after treatment."),
    "primary.declines_chemotherapy_before_resection": (
        "Declines chemotherapy before rectal resection",
        "The patient will not accept chemotherapy before the primary is removed."),
    "liver.timing": ("Timing of the liver metastases", "Synchronous: found with the primary."),
    "liver.disease_free_interval_months": (
        "Disease-free interval", "From the primary to the liver metastases (0 if synchronous)."),
    "liver.number_of_metastases": ("Number of liver metastases", "All lesions on imaging."),
    "liver.largest_diameter_cm": ("Largest diameter", "Largest liver metastasis on imaging."),
    "liver.bilobar": ("Bilobar", "Metastases in both hemilivers."),
    "liver.resectability": ("Resectability", "The MDT's judgement today."),
    "liver.extensive_disease": ("Extensive liver disease", "The MDT judges the disease extensive."),
    "liver.intrahepatic_progression": (
        "Intrahepatic progression", "New or growing liver lesions on the latest imaging."),
    "liver.prior_two_stage_hepatectomy": (
        "Previous two-stage hepatectomy", "A two-stage hepatectomy was done before."),
    "liver.planned_procedures": ("Planned liver procedures", "Tick every planned resection."),
    "liver.planned_ablation": ("Ablation planned", "Thermal ablation of one or more lesions."),
    "liver.margin_mm": ("Expected margin", "Resection margin expected or achieved."),
    "liver.lesions.*.segment": ("Segment", "Couinaud segment 1–8."),
    "liver.lesions.*.diameter_cm": ("Diameter", "Largest diameter of this lesion."),
    "liver.lesions.*.deep": ("Deep-seated", "Not visible on the liver surface."),
    "labs.cea_ng_ml": ("CEA", "Latest carcinoembryonic antigen."),
    "labs.ca19_9_u_ml": ("CA 19-9", "Latest carbohydrate antigen 19-9."),
    "labs.bilirubin_mg_dl": ("Bilirubin", "Total serum bilirubin."),
    "labs.albumin_g_dl": ("Albumin", "Serum albumin."),
    "labs.icg_r15_percent": ("ICG-R15", "Indocyanine green retention at 15 minutes."),
    "labs.platelets_10e9_l": ("Platelets", "Platelet count."),
    "labs.inr": ("INR", "International normalised ratio."),
    "molecular.kras": ("KRAS", "Tumour KRAS status."),
    "molecular.nras": ("NRAS", "Tumour NRAS status."),
    "molecular.braf": ("BRAF", "Tumour BRAF status."),
    "molecular.tp53": ("TP53", "Tumour TP53 status (RAS/TP53 co-mutation warning)."),
    "molecular.smad4": ("SMAD4", "Tumour SMAD4 status (pathway grade)."),
    "molecular.apc": ("APC", "Tumour APC status (pathway grade)."),
    "molecular.fbxw7": ("FBXW7", "Tumour FBXW7 status."),
    "molecular.msi": ("Microsatellite status", "MSI-high or microsatellite stable."),
    "molecular.her2": ("HER2", "HER2 amplification."),
    "volumetry.total_liver_volume_ml": ("Total liver volume", "Measured on CT (optional)."),
    "volumetry.flr_volume_ml": ("Future liver remnant volume", "Measured on CT."),
    "volumetry.flr_volume_after_pve_ml": (
        "FLR volume after PVE", "Future liver remnant after portal vein embolisation."),
    "volumetry.weeks_after_pve": ("Weeks after PVE", "Time from PVE to the second CT."),
    "volumetry.liver_condition": (
        "Liver condition", "Sets the minimum safe remnant (20, 30 or 40 %)."),
    "chemotherapy.prehepatectomy_cycles": (
        "Cycles before hepatectomy", "All cycles of chemotherapy before liver surgery."),
    "chemotherapy.duration_weeks": (
        "Duration of chemotherapy", "More than 12 weeks raises the minimum safe remnant."),
    "chemotherapy.regimen": ("Regimen", "Cytotoxic backbone, e.g. FOLFOX."),
    "chemotherapy.anti_vegf": ("Anti-VEGF", "Bevacizumab or aflibercept given."),
    "chemotherapy.anti_egfr": ("Anti-EGFR", "Cetuximab or panitumumab given."),
    "chemotherapy.response": ("Response", "RECIST response of the liver metastases."),
    "chemotherapy.lines": ("Lines of chemotherapy", "Number of lines given so far."),
    "treatments.*.kind": ("Event", "What happened."),
    "treatments.*.date": ("Date", "Day of the procedure, or first day of a course."),
    "treatments.*.end_date": ("End date", "Last dose or fraction of a course."),
    "treatments.*.regimen": ("Regimen", "Cytotoxic backbone."),
    "treatments.*.biologic": ("Targeted agent", "Added to the backbone."),
    "treatments.*.cycles": ("Cycles", "Number of cycles given."),
    "treatments.*.intent": ("Intent", "Why this line was given."),
    "treatments.*.response": ("Response", "RECIST response after this line."),
    "treatments.*.tumour_size_change_percent": (
        "Change in tumour size", "Sum of target diameters, RECIST (−100 to 1000 %)."),
    "treatments.*.radiotherapy_course": ("Course", "Short course 5 × 5 Gy or chemoradiotherapy."),
    "treatments.*.hepatectomy_stage": ("Stage", "1 or 2 of a two-stage hepatectomy; empty if one."),
    "treatments.*.procedures": ("Liver procedures", "Tick every resection done."),
    "treatments.*.primary_procedure": ("Primary operation", "Operation on the primary."),
    "treatments.*.margin_mm": ("Margin", "Closest resection or ablation margin."),
    "treatments.*.clavien_dindo": ("Complication (Clavien–Dindo)", "Worst grade within 90 days."),
    "treatments.*.isgls_phlf": ("Liver failure (ISGLS)", "Post-hepatectomy liver failure grade."),
    "treatments.*.recurrence_sites": ("Recurrence sites", "Tick every site."),
    "operations.*.kind": ("Operation", "Older record format; prefer the treatment timeline."),
    "operations.*.date": ("Date", "Day of the operation."),
    "operations.*.procedures": ("Liver procedures", "Tick every resection done."),
    "operations.*.margin_mm": ("Margin", "Closest resection margin."),
    "operations.*.clavien_dindo": ("Complication (Clavien–Dindo)", "Worst grade within 90 days."),
    "operations.*.isgls_phlf": ("Liver failure (ISGLS)", "Post-hepatectomy liver failure grade."),
    "outcome.date_last_follow_up": ("Last follow-up", "Date the patient was last seen."),
    "outcome.vital_status": ("Vital status", "At the last follow-up."),
    "outcome.date_of_death": ("Date of death", "Leave empty if alive."),
    "outcome.date_of_recurrence": ("Date of recurrence", "First recurrence after treatment."),
    "outcome.recurrence_sites": ("Recurrence sites", "Comma-separated, e.g. liver, lung."),
    "notes": ("Notes", "Free text for the team; never part of a de-identified export."),
}

#: Human labels of coded values that the plain words would spell wrongly.
VALUE_LABELS: dict[str, str] = {
    "true": "yes", "false": "no", "msi_high": "MSI-high", "mss": "MSS (stable)",
    "v600e": "V600E", "non_v600e": "non-V600E", "wildtype": "wild type",
    "CR": "complete response (CR)", "PR": "partial response (PR)",
    "SD": "stable disease (SD)", "PD": "progressive disease (PD)",
    "pve": "portal vein embolisation (PVE)", "alpps": "ALPPS",
    "folfox": "FOLFOX", "capox": "CAPOX", "folfiri": "FOLFIRI", "folfoxiri": "FOLFOXIRI",
    "short_course": "short course (5 × 5 Gy)", "long_course": "long course (chemoradiotherapy)",
    "none": "none", "anaemia": "anaemia", "her2": "HER2",
    "low_anterior_resection_with_diversion": "low anterior resection with diverting stoma",
    "segmentectomy_4a": "segmentectomy 4a", "segmentectomy_4b": "segmentectomy 4b",
    "left_lateral_sectionectomy": "left lateral sectionectomy (2+3)",
}

_UNITS = [
    ("_10e9_l", "×10⁹/L"), ("_ng_ml", "ng/mL"), ("_u_ml", "U/mL"), ("_mg_dl", "mg/dL"),
    ("_g_dl", "g/dL"), ("_percent", "%"), ("_years", "years"), ("_months", "months"),
    ("_weeks", "weeks"), ("weeks_after_pve", "weeks"), ("_cm", "cm"), ("_mm", "mm"),
    ("_kg", "kg"), ("_ml", "mL"), ("cycles", "cycles"),
]


def unit_of(path: str) -> str:
    """The unit written in a field's name ('' when it has none)."""
    leaf = path.rsplit(".", 1)[-1]
    return next((unit for suffix, unit in _UNITS if leaf.endswith(suffix)), "")


def value_label(value: str) -> str:
    """A coded value in words (the vocabulary's label; form text "true"/"false" as yes/no)."""
    from crlm.clinical import vocabulary

    if value in ("true", "false"):
        return "yes" if value == "true" else "no"
    if value in vocabulary.VALUES or value in vocabulary.SCORES:
        return vocabulary.value_label(value)
    return VALUE_LABELS.get(value, value.replace("_", " "))


# ---------------------------------------------------------------------------- structure


@dataclass(frozen=True)
class FormField:
    """One input of the patient form (``path`` may hold ``*`` for the index of a list item)."""

    path: str
    label: str
    kind: str  # text | number | integer | date | bool | select | multi | textlist
    options: tuple[str, ...] = ()
    unit: str = ""
    help: str = ""
    #: event kinds this field applies to (treatment events); empty: every kind
    applies_to: tuple[str, ...] = ()

    @property
    def leaf(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def name(self, index: int | str | None = None) -> str:
        """The input's name, with the list index filled in."""
        return self.path if index is None else self.path.replace("*", str(index))


@dataclass(frozen=True)
class Group:
    """A repeating thing (lesions, treatment events, operations): add and remove items."""

    path: str  # e.g. "liver.lesions"
    title: str
    item: str
    fields: tuple[FormField, ...]


@dataclass(frozen=True)
class Section:
    """A fieldset of the form, in clinical order."""

    key: str
    title: str
    fields: tuple[FormField, ...]
    groups: tuple[Group, ...] = field(default=())


def _unwrap(annotation: Any) -> Any:
    """Strip ``Optional``/``Annotated`` wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field_info(path: str) -> Any:
    model: type[BaseModel] = Patient
    *parents, leaf = [p for p in path.split(".") if p != "*"]
    for part in parents:
        annotation = _unwrap(model.model_fields[part].annotation)
        if typing.get_origin(annotation) is list:
            annotation = _unwrap(typing.get_args(annotation)[0])
        model = annotation
    return model.model_fields[leaf]


_ALTERNATIVES = re.compile(r"^\^([A-Za-z]*)\(([\w|]+)\)\$$")


def _field_kind(path: str) -> tuple[str, tuple[str, ...]]:
    info = _field_info(path)
    annotation = _unwrap(info.annotation)
    if typing.get_origin(annotation) is list:
        item = _unwrap(typing.get_args(annotation)[0])
        if isinstance(item, type) and issubclass(item, Enum):
            return "multi", tuple(e.value for e in item)
        return "textlist", ()
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        # the empty choice says "unknown"; an explicit "unknown" value means the same
        return "select", tuple(e.value for e in annotation if e.value != "unknown")
    if annotation is str:
        pattern = next((m.pattern for m in _metadata(info) if hasattr(m, "pattern")), None)
        if pattern and (match := _ALTERNATIVES.match(pattern)):
            prefix, alternatives = match.groups()
            return "select", tuple(prefix + a for a in alternatives.split("|"))
    kinds = {bool: "bool", int: "integer", float: "number", dt.date: "date", str: "text"}
    return kinds[annotation], ()


def _metadata(info: Any) -> list[Any]:
    """Constraint objects of a field, also inside ``Annotated[...] | None``."""
    out = list(info.metadata)
    annotation = info.annotation
    for arg in typing.get_args(annotation) or (annotation,):
        if typing.get_origin(arg) is typing.Annotated:
            for meta in typing.get_args(arg)[1:]:
                out.append(meta)
                out.extend(getattr(meta, "metadata", []))
    return out


def _applies_to(path: str) -> tuple[str, ...]:
    if not path.startswith("treatments.*."):
        return ()
    leaf = path.rsplit(".", 1)[-1]
    if leaf in ("kind", "date"):
        return ()
    if leaf == "end_date":
        return tuple(k.value for k in TreatmentKind if k in COURSE_KINDS)
    return tuple(k.value for k in TreatmentKind if leaf in FIELDS_BY_KIND[k])


def _vocabulary(path: str) -> tuple[str, str | None] | None:
    """(label, unit) of the vocabulary for a form path (``liver.lesions.*.segment`` is
    ``liver.lesions.segment`` there), or None."""
    from crlm.clinical.vocabulary import FIELDS

    return FIELDS.get(path.replace(".*", ""))


def _make(path: str) -> FormField:
    label, help_text = LABELS.get(path, (None, None)) or (None, None)
    vocab = _vocabulary(path)
    if vocab is not None:
        label = vocab[0][:1].upper() + vocab[0][1:]
    info = _field_info(path)
    kind, options = _field_kind(path)
    return FormField(
        path=path,
        label=label or path.rsplit(".", 1)[-1].replace("_", " ").capitalize(),
        kind=kind,
        options=options,
        unit=(vocab[1] or "") if vocab is not None else unit_of(path),
        help=help_text or info.description or "",
        applies_to=_applies_to(path),
    )


def _fields(*paths: str) -> tuple[FormField, ...]:
    return tuple(_make(p) for p in paths)


def _group(path: str, title: str, item: str, model: type[BaseModel]) -> Group:
    return Group(path, title, item, _fields(*(f"{path}.*.{n}" for n in model.model_fields)))


def _build() -> tuple[Section, ...]:
    from crlm.domain.patient import Lesion, Operation
    from crlm.domain.treatment import TreatmentEvent

    return (
        Section("", "Patient", _fields(
            "id", "age_years", "sex", "height_cm", "weight_kg", "assessment_date")),
        Section("primary", "Primary tumour", _fields(
            "primary.site", "primary.distance_from_anal_verge_cm", "primary.date_of_diagnosis",
            "primary.t_category", "primary.n_category", "primary.node_positive",
            "primary.serosal_invasion", "primary.locally_advanced", "primary.symptoms",
            "primary.easily_resectable", "primary.planned_procedure", "primary.resected",
            "primary.clinical_complete_response",
            "primary.declines_chemotherapy_before_resection")),
        Section("liver", "Liver metastases", _fields(
            "liver.timing", "liver.disease_free_interval_months", "liver.number_of_metastases",
            "liver.largest_diameter_cm", "liver.bilobar", "extrahepatic_disease",
            "liver.resectability", "liver.extensive_disease", "liver.intrahepatic_progression",
            "liver.prior_two_stage_hepatectomy", "liver.planned_procedures",
            "liver.planned_ablation", "liver.margin_mm"),
            (_group("liver.lesions", "Liver lesions", "Lesion", Lesion),)),
        Section("labs", "Laboratory", _fields(
            "labs.cea_ng_ml", "labs.ca19_9_u_ml", "labs.bilirubin_mg_dl", "labs.albumin_g_dl",
            "labs.platelets_10e9_l", "labs.inr", "labs.icg_r15_percent")),
        Section("molecular", "Molecular pathology", _fields(
            "molecular.kras", "molecular.nras", "molecular.braf", "molecular.tp53",
            "molecular.smad4", "molecular.apc", "molecular.fbxw7", "molecular.msi",
            "molecular.her2")),
        Section("volumetry", "Liver volumetry", _fields(
            "volumetry.liver_condition", "volumetry.total_liver_volume_ml",
            "volumetry.flr_volume_ml", "volumetry.flr_volume_after_pve_ml",
            "volumetry.weeks_after_pve")),
        Section("chemotherapy", "Chemotherapy so far (summary)", _fields(
            "chemotherapy.regimen", "chemotherapy.prehepatectomy_cycles",
            "chemotherapy.duration_weeks", "chemotherapy.lines", "chemotherapy.anti_vegf",
            "chemotherapy.anti_egfr", "chemotherapy.response")),
        Section("treatments", "Treatment timeline", (),
                (_group("treatments", "Treatment events", "Event", TreatmentEvent),)),
        Section("operations", "Operations (older record format)", (),
                (_group("operations", "Operations", "Operation", Operation),)),
        Section("outcome", "Follow-up", _fields(
            "outcome.date_last_follow_up", "outcome.vital_status", "outcome.date_of_death",
            "outcome.date_of_recurrence", "outcome.recurrence_sites")),
        Section("notes", "Notes", _fields("notes")),
    )


FORM_SECTIONS: tuple[Section, ...] = _build()
#: Scalar inputs by name (the fields outside repeating groups).
FORM_FIELDS: dict[str, FormField] = {f.path: f for s in FORM_SECTIONS for f in s.fields}
FORM_GROUPS: dict[str, Group] = {g.path: g for s in FORM_SECTIONS for g in s.groups}
#: Every field of the form by path (``*`` for list indices).
ALL_FIELDS: dict[str, FormField] = {
    **FORM_FIELDS, **{f.path: f for g in FORM_GROUPS.values() for f in g.fields}
}

#: Model fields deliberately not in the form, with the reason (none today).
NOT_IN_FORM: dict[str, str] = {}


def model_leaf_paths(model: type[BaseModel] = Patient, prefix: str = "") -> set[str]:
    """Every leaf field of the patient model as a path (``*`` for list items)."""
    out: set[str] = set()
    for name, info in model.model_fields.items():
        annotation = _unwrap(info.annotation)
        path = f"{prefix}{name}"
        if _is_model(annotation):
            out |= model_leaf_paths(annotation, f"{path}.")
        elif typing.get_origin(annotation) is list and _is_model(
            item := _unwrap(typing.get_args(annotation)[0])
        ):
            out |= model_leaf_paths(item, f"{path}.*.")
        else:
            out.add(path)
    return out


# ---------------------------------------------------------------------------- form ↔ dict


def _convert(f: FormField, raw: str) -> Any:
    """Form text → JSON value; unparseable text is passed on so pydantic names the field."""
    raw = raw.strip()
    if f.kind == "bool":
        return {"true": True, "false": False}.get(raw, raw)
    if f.kind == "textlist":
        return [part.strip() for part in raw.split(",") if part.strip()] or None
    if f.kind in ("number", "integer"):
        try:
            number = float(raw)
        except ValueError:
            return raw
        if not math.isfinite(number):
            return raw
        if f.kind == "integer" and number.is_integer():
            return int(number)
        return number
    return raw


def _read_value(form: Any, f: FormField, name: str) -> Any:
    if f.kind == "multi":
        values = [v for v in form.getlist(name) if isinstance(v, str) and v]
        return values or None
    raw = form.get(name)
    return _convert(f, raw) if isinstance(raw, str) and raw.strip() else None


def _target(data: dict[str, Any], parents: list[str]) -> dict[str, Any]:
    target = data
    for part in parents:
        section = target.get(part)
        target[part] = dict(section) if isinstance(section, dict) else {}
        target = target[part]
    return target


def _item_indices(form: Any, group: Group) -> list[int]:
    pattern = re.compile(rf"^{re.escape(group.path)}\.(\d{{1,4}})\.")
    found = {int(m.group(1)) for key in form if (m := pattern.match(key))}
    return sorted(found)


def form_to_dict(form: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Patient JSON from form data (a multi-dict), on top of ``base``."""
    data: dict[str, Any] = dict(base or {})
    for path, f in FORM_FIELDS.items():
        *parents, leaf = path.split(".")
        target = _target(data, parents)
        value = _read_value(form, f, path)
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    for path, group in FORM_GROUPS.items():
        items = []
        for i in _item_indices(form, group):
            item = {f.leaf: v for f in group.fields
                    if (v := _read_value(form, f, f.name(i))) is not None}
            if item:
                items.append(item)
        *parents, leaf = path.split(".")
        target = _target(data, parents)
        if items:
            target[leaf] = items
        else:
            target.pop(leaf, None)
    return data


def _as_text(f: FormField, value: Any) -> Any:
    if f.kind == "multi":
        return [str(v) for v in value]
    if f.kind == "textlist":
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(doc, dict):
            doc = doc.get(part)
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


def form_values(patient_json: dict[str, Any]) -> dict[str, Any]:
    """Current values for the inputs: name → str (or list of str for checkboxes).

    List items are named with their index; ``#<group path>`` holds the number of items.
    """
    out: dict[str, Any] = {}
    for path, f in FORM_FIELDS.items():
        value = _get(patient_json, path)
        if value is not None:
            out[path] = _as_text(f, value)
    for path, group in FORM_GROUPS.items():
        items = _get(patient_json, path)
        items = items if isinstance(items, list) else []
        out[f"#{path}"] = len(items)
        for i, item in enumerate(items):
            for f in group.fields:
                value = item.get(f.leaf) if isinstance(item, dict) else None
                if value is not None:
                    out[f.name(i)] = _as_text(f, value)
    return out


# ---------------------------------------------------------------------------- errors

_DATE = r"(\d{4}-\d{2}-\d{2})"
#: Cross-field errors of the model: (where the problem is reported, message pattern) →
#: (input the clinician should correct, the message in clinical words).
_CROSS_FIELD: list[tuple[str, re.Pattern[str], str, str]] = [
    ("primary", re.compile(r"node_positive is true but n_category is (\w+)"),
     "primary.node_positive", "Lymph nodes are marked positive but the N category is {0}."),
    ("primary", re.compile(r"node_positive is false but n_category is (\w+)"),
     "primary.node_positive", "Lymph nodes are marked negative but the N category is {0}."),
    ("liver", re.compile(r"number_of_metastases is (\d+) but (\d+) lesions are listed"),
     "liver.number_of_metastases",
     "{0} liver metastases are stated but {1} lesions are listed below."),
    ("liver", re.compile(r"largest_diameter_cm is ([\d.]+) but a lesion measures ([\d.]+) cm"),
     "liver.largest_diameter_cm",
     "The largest diameter is {0} cm but a listed lesion measures {1} cm."),
    ("liver", re.compile(r"timing is synchronous but disease_free_interval_months is ([\d.]+)"),
     "liver.disease_free_interval_months",
     "Synchronous metastases have a disease-free interval of at most 6 months (here {0})."),
    ("volumetry", re.compile(r"flr_volume_ml \(([\d.]+) mL\) exceeds"),
     "volumetry.flr_volume_ml",
     "The future liver remnant ({0} mL) is larger than the total liver volume."),
    ("volumetry", re.compile(r"flr_volume_after_pve_ml \(([\d.]+) mL\) exceeds"),
     "volumetry.flr_volume_after_pve_ml",
     "The remnant after PVE ({0} mL) is larger than the total liver volume."),
    ("outcome", re.compile(r"date_of_death is given but vital_status is alive"),
     "outcome.vital_status", "A date of death is given but the patient is marked alive."),
    ("outcome", re.compile(r"date_last_follow_up is after date_of_death"),
     "outcome.date_last_follow_up", "The last follow-up is after the date of death."),
    ("outcome", re.compile(r"date_of_recurrence is after date_last_follow_up"),
     "outcome.date_of_recurrence", "The recurrence is dated after the last follow-up."),
    ("(patient)", re.compile(rf"treatment date {_DATE} is before primary.date_of_diagnosis"),
     "primary.date_of_diagnosis", "A treatment on {0} is dated before the diagnosis."),
    ("(patient)", re.compile(rf"treatment date {_DATE} is after the last follow-up/death"),
     "outcome.date_last_follow_up", "A treatment on {0} is dated after the last follow-up."),
    ("(patient)", re.compile(r"last follow-up/death .* is before date_of_diagnosis"),
     "outcome.date_last_follow_up", "The last follow-up or death is before the diagnosis."),
    ("treatments.*", re.compile(r"(\w+) does not apply to a (\w+) event"),
     "treatments.*.{0}", "Does not apply to this kind of event ({1})."),
    ("treatments.*", re.compile(r"end_date .* is before date"),
     "treatments.*.end_date", "The end date is before the start date."),
]

_PYDANTIC_WORDS = [
    (re.compile(r"^Input should be greater than or equal to (\S+)$"), "Must be at least {0}."),
    (re.compile(r"^Input should be less than or equal to (\S+)$"), "Must be at most {0}."),
    (re.compile(r"^Input should be greater than (\S+)$"), "Must be more than {0}."),
    (re.compile(r"^Input should be less than (\S+)$"), "Must be less than {0}."),
    (re.compile(r"^Input should be a valid (number|integer).*"), "Enter a {0}."),
    (re.compile(r"^Input should be a valid date.*"), "Enter a date (year-month-day)."),
    (re.compile(r"^String should match pattern.*"),
     "Use letters, digits, dot, dash or underscore only."),
    (re.compile(r"^Field required$"), "Choose one."),
]


def clinical_words(reason: str) -> str:
    """A pydantic message in plain words (the number kept); any field path or code left in a
    message the form does not know goes through the vocabulary's ``humanize``."""
    from crlm.clinical.vocabulary import humanize

    for pattern, text in _PYDANTIC_WORDS:
        if match := pattern.match(reason):
            return text.format(*match.groups()).replace("Enter a integer", "Enter a whole number")
    reason = humanize(reason)
    return reason[:1].upper() + reason[1:]


def _cross_field(location: str, reason: str) -> tuple[str, str] | None:
    index = None
    if re.fullmatch(r"treatments\.\d+", location):
        location, index = "treatments.*", location.split(".")[1]
    for where, pattern, target, text in _CROSS_FIELD:
        if where == location and (match := pattern.search(reason)):
            name = target.format(*match.groups())
            return (name.replace("*", index) if index else name), text.format(*match.groups())
    return None


def field_path(name: str) -> str:
    """The field path of an input name (list indices → ``*``)."""
    return re.sub(r"\.\d+\.", ".*.", name)


def errors_by_field(error: ValidationError) -> tuple[dict[str, list[str]], list[str]]:
    """Errors of inputs (input name → reasons, in clinical words) and the rest (as text)."""
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for problem in problems_from(error):
        name = problem.field
        if (mapped := _cross_field(name, problem.reason)) is not None:
            name, reason = mapped
        else:  # a field's own message, or a cross-field rule this form does not know yet
            reason = clinical_words(problem.reason)
            if field_path(name) not in ALL_FIELDS and field_path(name.rsplit(".", 1)[0]) in (
                ALL_FIELDS
            ):  # list value item, e.g. liver.planned_procedures.0
                name = name.rsplit(".", 1)[0]
        if field_path(name) in ALL_FIELDS:
            by_field.setdefault(name, []).append(reason)
        else:
            other.append(reason)
    return by_field, other
