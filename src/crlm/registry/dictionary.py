"""Data dictionaries: which file column holds which patient field, and how its text is read.

A field path is dotted (``labs.cea_ng_ml``). ``[]`` marks the items of a list of records
(``liver.lesions[].diameter_cm``, ``operations[].date``): in a REDCap export those come from a
repeating instrument, one row per item. A whole list may also sit in one cell as JSON
(``liver.lesions``). crlm's own flat format uses the field path itself as the column name.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import functools
import io
import json
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as _dc_field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, BeforeValidator

from crlm.domain import Patient
from crlm.domain.errors import DuplicateKeyError, unique_keys
from crlm.registry.models import _base_type
from crlm.safe_output import safe_csv_writer

SHIPPED = Path(__file__).resolve().parent / "dictionaries"
CRLM_EXPORT = SHIPPED / "crlm_export.csv"


class CellError(ValueError):
    """A cell's text is not a valid value for its field (message says why)."""


@dataclass(frozen=True)
class Entry:
    """One file column and the patient field it holds.

    ``read`` replaces the field type's own cell reader (a REDCap choice list or validation
    type); it may return ``None`` for "unknown". ``collects`` marks one option of a REDCap
    checkbox: every checked option of a row is collected into the field's list.
    """

    column: str
    field: str  # dotted path, possibly with one "[]"
    read: Callable[[str], Any] | None = _dc_field(default=None, compare=False, repr=False)
    collects: bool = False


def _walk(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    """(path, annotation) of every leaf field; lists of records are one leaf (JSON cell)."""
    out: list[tuple[str, Any]] = []
    for name, info in model.model_fields.items():
        t = _base_type(info.annotation)
        path = f"{prefix}{name}"
        if isinstance(t, type) and issubclass(t, BaseModel):
            out += _walk(t, path + ".")
        else:
            out.append((path, info.annotation))
    return out


LEAVES: dict[str, Any] = dict(_walk(Patient))


@functools.cache
def field_annotation(path: str) -> Any:
    """The annotation of a dictionary field path (``[]`` paths resolve into the item model)."""
    if "[]" not in path:
        if path not in LEAVES:
            raise KeyError(f"unknown patient field {path!r}")
        return LEAVES[path]
    head, _, leaf = path.partition("[].")
    item = typing.get_args(_base_type(LEAVES[head]))[0]
    if leaf not in item.model_fields:
        raise KeyError(f"unknown field {leaf!r} in {head}")
    return item.model_fields[leaf].annotation


_JSON = json.JSONDecoder(object_pairs_hook=unique_keys)  # a repeated key is an error


def is_list_field(annotation: Any) -> bool:
    """Whether cells of this field type are read as (mutable) lists."""
    return typing.get_origin(_base_type(annotation)) is list


def parse_cell(text: str, annotation: Any) -> Any:
    """Read one non-empty cell as the JSON value of a field; :class:`CellError` if it is not."""
    return cell_parser(annotation)(text)


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in {"true", "yes", "1"}:
        return True
    if low in {"false", "no", "0"}:
        return False
    raise CellError(f"{text.strip()!r} is not yes/no (true/false/1/0)")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CellError(f"{text.strip()!r} is not a whole number") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CellError(f"{text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise CellError(f"{text.strip()!r} is not a finite number")
    return value


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise CellError(f"{text.strip()!r} is not a date (YYYY-MM-DD)") from None


def _coding(annotation: Any) -> Callable[[Any], Any] | None:
    """The spelling → code function of a coded field (its ``BeforeValidator``), if any."""
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Annotated:
            for meta in arg.__metadata__:
                if isinstance(meta, BeforeValidator):
                    return meta.func  # type: ignore[return-value]
    return None


@functools.cache
def cell_parser(annotation: Any) -> Callable[[str], Any]:
    """A function reading cells of this field type (built once per type)."""
    t = _base_type(annotation)
    if typing.get_origin(t) is list:
        (item,) = typing.get_args(t)
        base = _base_type(item)
        is_record = isinstance(base, type) and issubclass(base, BaseModel)
        item_parser = None if is_record else cell_parser(item)

        def parse_list(text: str) -> list[Any]:
            text = text.strip()
            if text.startswith("["):
                try:
                    value, end = _JSON.raw_decode(text)
                    if end != len(text):  # trailing text: let json.loads word the error
                        value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise CellError(f"not a valid JSON list: {exc.msg}") from None
                except DuplicateKeyError as exc:
                    raise CellError(str(exc)) from None
                if not isinstance(value, list):
                    raise CellError("expected a JSON list")
                return value
            if item_parser is None:
                raise CellError("expected a JSON list of records")
            return [item_parser(part) for part in text.split(";") if part.strip()]

        return parse_list
    if isinstance(t, type):
        if issubclass(t, bool):
            return _bool
        if issubclass(t, enum.Enum):
            allowed = frozenset(m.value for m in t)
            shown = ", ".join(m.value for m in t)
            coding = _coding(annotation)

            def parse_enum(text: str) -> str:
                text = text.strip()
                if coding is not None:  # a coded field that accepts common spellings
                    try:
                        text = coding(text)
                    except ValueError as exc:
                        raise CellError(str(exc)) from None
                if text not in allowed:
                    raise CellError(f"{text!r} is not one of {shown}")
                return text

            return parse_enum
        if issubclass(t, int):
            return _int
        if issubclass(t, float):
            return _float
        if issubclass(t, dt.date):
            return _date
        if issubclass(t, str):
            return str.strip
    raise CellError(f"unsupported field type {annotation!r}")  # pragma: no cover


def format_cell(value: Any) -> str:
    """The text of a JSON value in crlm's flat format (inverse of :func:`parse_cell`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class DataDictionary:
    """Column → field mapping; validated against the patient model when loaded."""

    entries: tuple[Entry, ...]
    id_column: str
    #: Columns a file may have that hold nothing crlm reads (REDCap's ``<form>_complete``,
    #: survey timestamps, fields mapped to no patient field): accepted and skipped.
    ignored: frozenset[str] = frozenset()
    #: What the import report should say about the dictionary (fields skipped, branching logic).
    notes: tuple[str, ...] = ()
    #: Built from a REDCap Data Dictionary (or the project's metadata).
    redcap: bool = False
    #: (column, header label) in REDCap's export order: reads a labels export's header.
    labels: tuple[tuple[str, str], ...] = ()

    def header_names(self, header: list[str]) -> list[str]:
        """The column names of a file's header: a REDCap labels export's header (field labels,
        ``Complete?``…) becomes the variable names; any other header is kept."""
        if not self.labels or not header or header[0] != self.labels[0][1] \
                or self.id_column in header:
            return header
        from crlm.registry.redcap import names_from_labels

        return names_from_labels(header, self.labels)

    @property
    def by_column(self) -> dict[str, Entry]:
        return {e.column: e for e in self.entries}

    def column_of(self, field: str) -> str:
        """The column that holds ``field`` (or the field path itself if unmapped)."""
        for e in self.entries:
            if e.field == field or e.field.replace("[]", "") == field:
                return e.column
        return field

    @classmethod
    def from_csv(cls, source: str | Path) -> DataDictionary:
        """Read a dictionary CSV: columns ``column,field`` (the ``id`` field names the id), or
        a REDCap Data Dictionary as REDCap writes it (:mod:`crlm.registry.redcap`)."""
        text = Path(source).read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
        text = text.removeprefix("\ufeff")
        from crlm.registry import redcap

        if redcap.is_redcap_dictionary(text):
            return redcap.mapping_from_fields(redcap.read_dictionary(text))
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows or not {"column", "field"} <= set(rows[0]):
            raise ValueError("a data dictionary needs the columns 'column' and 'field', or "
                             "the header of a REDCap Data Dictionary ('Variable / Field "
                             "Name', 'Form Name', 'Field Type', …)")
        entries = []
        for i, row in enumerate(rows, start=2):
            column, field = row["column"].strip(), row["field"].strip()
            try:
                field_annotation(field)
            except KeyError as exc:
                raise ValueError(f"dictionary line {i}: {exc.args[0]}") from None
            entries.append(Entry(column, field))
        ids = [e.column for e in entries if e.field == "id"]
        if len(ids) != 1:
            raise ValueError("the dictionary must map exactly one column to the field 'id'")
        return cls(tuple(entries), ids[0])

    @classmethod
    def crlm_export(cls) -> DataDictionary:
        """crlm's own flat format: one column per field, named by its path."""
        return cls(tuple(Entry(path, path) for path in LEAVES), "id")

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = safe_csv_writer(buf, lineterminator="\n")
        w.writerow(["column", "field"])
        for e in self.entries:
            w.writerow([e.column, e.field])
        return buf.getvalue()
