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
