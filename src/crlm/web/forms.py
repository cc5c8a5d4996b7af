"""The patient form: which fields it shows, form data → patient dict, errors → fields.

Field kinds are read from the pydantic model (enum → select, bool → yes/no/unknown, int/float →
number, date → date, list of enum → checkboxes), so the form cannot drift from the model.
Empty inputs mean *unknown* and are left out. Fields the form does not show (lesions,
operations) are kept from the stored record when editing.
"""

from __future__ import annotations

import datetime as dt
import math
import types
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError

from crlm.domain import Patient
from crlm.domain.errors import problems_from

SECTIONS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("", "Patient", [
        ("id", "Hospital / study id"), ("age_years", "Age (years)"), ("sex", "Sex"),
        ("height_cm", "Height (cm)"), ("weight_kg", "Weight (kg)"),
        ("extrahepatic_disease", "Extrahepatic disease"),
    ]),
    ("primary", "Primary tumour", [
        ("primary.site", "Site"), ("primary.t_category", "T category"),
        ("primary.n_category", "N category"), ("primary.node_positive", "Node positive"),
        ("primary.date_of_diagnosis", "Date of diagnosis"), ("primary.resected", "Resected"),
        ("primary.planned_procedure", "Planned procedure"),
        ("primary.distance_from_anal_verge_cm", "Distance from anal verge (cm)"),
    ]),
    ("liver", "Liver metastases", [
        ("liver.timing", "Timing"),
        ("liver.disease_free_interval_months", "Disease-free interval (months)"),
        ("liver.number_of_metastases", "Number of metastases"),
        ("liver.largest_diameter_cm", "Largest diameter (cm)"), ("liver.bilobar", "Bilobar"),
        ("liver.resectability", "Resectability"),
        ("liver.planned_procedures", "Planned liver procedures"),
        ("liver.margin_mm", "Margin (mm)"),
    ]),
    ("labs", "Laboratory", [
        ("labs.cea_ng_ml", "CEA (ng/mL)"), ("labs.ca19_9_u_ml", "CA 19-9 (U/mL)"),
        ("labs.bilirubin_mg_dl", "Bilirubin (mg/dL)"), ("labs.albumin_g_dl", "Albumin (g/dL)"),
        ("labs.icg_r15_percent", "ICG-R15 (%)"),
    ]),
    ("molecular", "Molecular", [
        ("molecular.kras", "KRAS"), ("molecular.nras", "NRAS"), ("molecular.braf", "BRAF"),
        ("molecular.msi", "MSI"), ("molecular.her2", "HER2"),
    ]),
    ("chemotherapy", "Chemotherapy", [
        ("chemotherapy.prehepatectomy_cycles", "Pre-hepatectomy cycles"),
        ("chemotherapy.regimen", "Regimen"), ("chemotherapy.response", "Response (RECIST)"),
        ("chemotherapy.anti_vegf", "Anti-VEGF"), ("chemotherapy.anti_egfr", "Anti-EGFR"),
    ]),
    ("volumetry", "Volumetry", [
        ("volumetry.total_liver_volume_ml", "Total liver volume (mL)"),
        ("volumetry.flr_volume_ml", "FLR volume (mL)"),
        ("volumetry.flr_volume_after_pve_ml", "FLR volume after PVE (mL)"),
        ("volumetry.weeks_after_pve", "Weeks after PVE"),
        ("volumetry.liver_condition", "Liver condition"),
    ]),
    ("outcome", "Outcome", [
        ("outcome.date_last_follow_up", "Last follow-up"),
        ("outcome.vital_status", "Vital status"), ("outcome.date_of_death", "Date of death"),
        ("outcome.date_of_recurrence", "Date of recurrence"),
    ]),
]


@dataclass(frozen=True)
class FormField:
    """One input of the patient form."""

    path: str
    label: str
    kind: str  # text | number | integer | date | bool | select | multi
    options: tuple[str, ...] = ()


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


def _field_kind(path: str) -> tuple[str, tuple[str, ...]]:
    model: type[BaseModel] = Patient
    *parents, leaf = path.split(".")
    for part in parents:
        model = _unwrap(model.model_fields[part].annotation)
    annotation = _unwrap(model.model_fields[leaf].annotation)
    if typing.get_origin(annotation) is list:
        item = _unwrap(typing.get_args(annotation)[0])
        return "multi", tuple(e.value for e in item)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "select", tuple(e.value for e in annotation)
    kinds = {bool: "bool", int: "integer", float: "number", dt.date: "date", str: "text"}
    return kinds[annotation], ()


FORM_SECTIONS: list[tuple[str, str, list[FormField]]] = [
    (key, title, [FormField(path, label, *_field_kind(path)) for path, label in fields])
    for key, title, fields in SECTIONS
]
FORM_FIELDS: dict[str, FormField] = {f.path: f for _, _, fs in FORM_SECTIONS for f in fs}


def _convert(field: FormField, raw: str) -> Any:
    """Form text → JSON value; unparseable text is passed on so pydantic names the field."""
    raw = raw.strip()
    if field.kind == "bool":
        return {"true": True, "false": False}.get(raw, raw)
    if field.kind in ("number", "integer"):
        try:
            number = float(raw)
        except ValueError:
            return raw
        if not math.isfinite(number):
            return raw
        if field.kind == "integer" and number.is_integer():
            return int(number)
        return number
    return raw


def form_to_dict(form: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Patient JSON from form data (a multi-dict), on top of ``base`` (fields not in the form)."""
    data: dict[str, Any] = dict(base or {})
    for path, field in FORM_FIELDS.items():
        *parents, leaf = path.split(".")
        target = data
        for part in parents:
            section = target.get(part)
            target[part] = dict(section) if isinstance(section, dict) else {}
            target = target[part]
        if field.kind == "multi":
            values = [v for v in form.getlist(path) if isinstance(v, str) and v]
            value: Any = values or None
        else:
            raw = form.get(path)
            value = _convert(field, raw) if isinstance(raw, str) and raw.strip() else None
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return data


def form_values(patient_json: dict[str, Any]) -> dict[str, Any]:
    """Current values for the inputs: path → str (or list of str for checkboxes)."""
    out: dict[str, Any] = {}
    for path, field in FORM_FIELDS.items():
        value: Any = patient_json
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        if field.kind == "multi":
            out[path] = [str(v) for v in value]
        elif isinstance(value, bool):
            out[path] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            out[path] = str(int(value))
        else:
            out[path] = str(value)
    return out


def errors_by_field(error: ValidationError) -> tuple[dict[str, list[str]], list[str]]:
    """Errors of inputs (path → reasons) and the rest (section or patient level, as text)."""
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for problem in problems_from(error):
        if problem.field in FORM_FIELDS:
            by_field.setdefault(problem.field, []).append(problem.reason)
        elif problem.field.rsplit(".", 1)[0] in FORM_FIELDS:  # list item, e.g. ...procedures.0
            by_field.setdefault(problem.field.rsplit(".", 1)[0], []).append(problem.reason)
        else:
            other.append(str(problem))
    return by_field, other
