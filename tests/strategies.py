"""Hypothesis strategies derived from the pydantic patient model (so they follow it)."""

from __future__ import annotations

import datetime as dt
import enum
import typing
from typing import Any

import annotated_types as at
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from crlm.domain import Patient, parse_patient


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """(base type, constraint metadata) of ``Annotated[X, ...] | None``."""
    meta: list[Any] = []
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, __import__("types").UnionType):
        annotation = next(a for a in args if a is not type(None))
    while typing.get_origin(annotation) is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        for e in extra:
            meta += list(getattr(e, "metadata", [])) if isinstance(e, FieldInfo) else [e]
        annotation = base
    return annotation, meta


def _bounds(meta: list[Any], lo: float, hi: float) -> tuple[float, float, bool]:
    exclude_min = False
    for m in meta:
        if isinstance(m, at.Ge):
            lo = float(m.ge)
        elif isinstance(m, at.Gt):
            lo, exclude_min = float(m.gt), True
        elif isinstance(m, at.Le):
            hi = float(m.le)
        elif isinstance(m, at.Lt):
            hi = float(m.lt)
    return lo, hi, exclude_min


def value_strategy(annotation: Any, meta: list[Any] | None = None) -> st.SearchStrategy[Any]:
    """JSON values valid for one field (ignoring cross-field rules)."""
    t, inner = _unwrap(annotation)
    meta = (meta or []) + inner
    if typing.get_origin(t) is list:
        (item,) = typing.get_args(t)
        return st.lists(value_strategy(item), max_size=4)
    if isinstance(t, type) and issubclass(t, BaseModel):
        return model_strategy(t)
    if t is bool:
        return st.booleans()
    if isinstance(t, type) and issubclass(t, enum.Enum):
        return st.sampled_from([m.value for m in t])
    if t is int:
        lo, hi, excl = _bounds(meta, -1000, 1000)
        return st.integers(int(lo) + excl, int(hi))
    if t is float:
        lo, hi, excl = _bounds(meta, -1e6, 1e6)
        return st.floats(lo, hi, exclude_min=excl, allow_nan=False, allow_infinity=False)
    if t is dt.date:
        return st.dates(dt.date(2000, 1, 1), dt.date(2025, 12, 31)).map(dt.date.isoformat)
    if t is str:
        pattern = next((m.pattern for m in meta if hasattr(m, "pattern")), None)
        if pattern:
            return st.from_regex(pattern, fullmatch=True)
        return st.text("abcdefghijklmnopqrstuvwxyz FOLX+-", min_size=1, max_size=20)
    raise TypeError(f"no strategy for {annotation!r}")


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with a random subset of the model's fields (absent = unknown)."""
    fields = {name: value_strategy(info.annotation, list(info.metadata))
              for name, info in model.model_fields.items()}
    required = {n: fields.pop(n) for n, info in model.model_fields.items() if info.is_required()}
    return st.fixed_dictionaries(required, optional=fields)


def _valid(doc: dict[str, Any]) -> bool:
    try:
        parse_patient(doc)
    except ValueError:
        return False
    return True


patient_documents = model_strategy(Patient).filter(_valid)


def patients() -> st.SearchStrategy[Patient]:
    """Valid patients covering every section and field of the model."""
    return patient_documents.map(parse_patient)


# ---------------------------------------------------------------- clinically shaped patients

_MAYBE = st.none() | st.booleans()
_MUT = st.sampled_from([None, "mutant", "wildtype", "unknown"])
_DATES = st.dates(dt.date(2021, 1, 1), dt.date(2024, 12, 31))


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@st.composite
def _treatment(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["systemic_therapy", "radiotherapy", "pve", "alpps",
                                 "hepatectomy", "primary_resection", "ablation", "recurrence"]))
    start = draw(st.none() | _DATES)
    event: dict[str, Any] = {"kind": kind, "date": start.isoformat() if start else None}
    if kind == "systemic_therapy":
        end = draw(st.none() | st.integers(0, 300))
        event.update(
            end_date=(start + dt.timedelta(days=end)).isoformat() if start and end else None,
            regimen=draw(st.sampled_from([None, "folfox", "capox", "folfiri", "other"])),
            biologic=draw(st.sampled_from([None, "none", "bevacizumab", "panitumumab"])),
            cycles=draw(st.none() | st.integers(1, 16)),
            intent=draw(st.sampled_from([None, "preoperative", "conversion", "adjuvant"])),
            response=draw(st.sampled_from([None, "CR", "PR", "SD", "PD"])),
            tumour_size_change_percent=draw(st.none() | st.floats(-100, 80)))
    elif kind in ("hepatectomy", "alpps"):
        event.update(hepatectomy_stage=draw(st.sampled_from([None, 1, 2])))
        if kind == "hepatectomy":
            event.update(procedures=draw(st.none() | st.lists(st.sampled_from(
                ["wedge_resection", "right_hepatectomy", "segmentectomy_7"]), max_size=2)))
    elif kind == "radiotherapy":
        event.update(radiotherapy_course=draw(st.sampled_from([None, "short_course"])))
    elif kind == "recurrence":
        event.update(recurrence_sites=draw(st.none() | st.lists(st.sampled_from(
            ["liver", "lung", "peritoneum", "lymph_nodes"]), min_size=1, max_size=2,
            unique=True)))
    return _clean(event)


@st.composite
def clinical_patient_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Patients shaped like MDT cases (synchronous rectal primaries, chemotherapy given, PVE
    done, two-stage hepatectomies, unresectable disease), with any field possibly unknown."""
    n = draw(st.none() | st.integers(1, 20))
    lesions = draw(st.none() | st.lists(st.fixed_dictionaries(
        {"diameter_cm": st.floats(0.3, 3.0), "deep": _MAYBE}), max_size=min(n or 3, 3)))
    procedures = draw(st.none() | st.lists(st.sampled_from(
        ["wedge_resection", "left_lateral_sectionectomy", "segmentectomy_3",
         "segmentectomy_7", "left_hepatectomy", "right_hepatectomy",
         "extended_right_hepatectomy"]), min_size=1, max_size=2))
    timing = draw(st.sampled_from([None, "synchronous", "metachronous"]))
    primary = {
        "site": draw(st.sampled_from([None, "rectum", "rectum", "left_colon", "right_colon"])),
        "distance_from_anal_verge_cm": draw(st.none() | st.floats(2, 15)),
        "symptoms": draw(st.none() | st.lists(st.sampled_from(
            ["bleeding", "obstruction", "perforation", "none"]), max_size=2, unique=True)),
        "resected": draw(_MAYBE),
        "planned_procedure": draw(st.sampled_from(
            [None, "anterior_resection", "low_anterior_resection_with_diversion",
             "abdominoperineal_resection", "sigmoid_colectomy", "right_colectomy"])),
        "easily_resectable": draw(_MAYBE), "locally_advanced": draw(_MAYBE),
        "clinical_complete_response": draw(_MAYBE), "node_positive": draw(_MAYBE),
        "declines_chemotherapy_before_resection": draw(_MAYBE),
        "date_of_diagnosis": draw(st.none() | st.just("2020-06-01")),
    }
    liver = {
        "timing": timing, "number_of_metastases": n, "lesions": lesions,
        "largest_diameter_cm": draw(st.none() | st.floats(3.0, 12.0)),
        "bilobar": draw(_MAYBE), "extensive_disease": draw(_MAYBE),
        "planned_procedures": procedures, "planned_ablation": draw(_MAYBE),
        "resectability": draw(st.sampled_from([None, "resectable", "borderline",
                                               "unresectable"])),
        "disease_free_interval_months": 0 if timing == "synchronous" else draw(
            st.none() | st.floats(0, 60)),
    }
    molecular = {"kras": draw(_MUT), "nras": draw(_MUT), "tp53": draw(_MUT),
                 "braf": draw(st.sampled_from([None, "v600e", "non_v600e", "wildtype"])),
                 "msi": draw(st.sampled_from([None, "msi_high", "mss"])),
                 "her2": draw(st.sampled_from([None, "amplified", "not_amplified"]))}
    chemo = {"prehepatectomy_cycles": draw(st.none() | st.integers(0, 16)),
             "duration_weeks": draw(st.none() | st.floats(0, 40)),
             "regimen": draw(st.sampled_from([None, "FOLFOX", "CAPOX", "FOLFIRI"])),
             "anti_vegf": draw(_MAYBE),
             "response": draw(st.sampled_from([None, "CR", "PR", "SD", "PD"]))}
    volumetry = {"flr_volume_ml": draw(st.none() | st.floats(150, 900)),
                 "flr_volume_after_pve_ml": draw(st.none() | st.floats(300, 1000)),
                 "weeks_after_pve": draw(st.none() | st.floats(1, 8)),
                 "liver_condition": draw(st.sampled_from(
                     [None, "normal", "chemotherapy_injured", "cirrhosis"]))}
    doc = {
        "assessment_date": draw(st.none() | st.just("2025-01-15")),
        "height_cm": draw(st.none() | st.floats(150, 195)),
        "weight_kg": draw(st.none() | st.floats(45, 120)),
        "primary": _clean(primary), "liver": _clean(liver), "molecular": _clean(molecular),
        "chemotherapy": _clean(chemo), "volumetry": _clean(volumetry),
        "extrahepatic_disease": draw(_MAYBE),
        "labs": _clean({"cea_ng_ml": draw(st.none() | st.floats(0, 500))}),
        "treatments": draw(st.none() | st.lists(_treatment(), max_size=4)),
    }
    return _clean(doc)


def clinical_patients() -> st.SearchStrategy[Patient]:
    """Valid clinically shaped patients (invalid combinations are filtered out)."""
    return clinical_patient_documents().filter(_valid).map(parse_patient)
