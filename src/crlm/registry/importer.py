"""Import CSV, Excel and REDCap-style exports: validate every row, then all rows land or none.

Rows are numbered as lines of the file (the header is line 1). A REDCap export (columns
``redcap_event_name`` / ``redcap_repeat_instrument`` / ``redcap_repeat_instance``) is reshaped
into one patient per record: non-repeating rows of every event are merged (conflicting values
are an error) and repeating-instrument rows become list items ordered by instance.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from crlm.domain import Patient, parse_patient
from crlm.domain.errors import problems_from
from crlm.registry import audit
from crlm.registry.dictionary import (
    CellError,
    DataDictionary,
    Entry,
    cell_parser,
    field_annotation,
    is_list_field,
)
from crlm.registry.repository import save_patients
from crlm.safe_output import safe_csv_writer

REDCAP_EVENT = "redcap_event_name"
REDCAP_INSTRUMENT = "redcap_repeat_instrument"
REDCAP_INSTANCE = "redcap_repeat_instance"
REDCAP_COLUMNS = {REDCAP_EVENT, REDCAP_INSTRUMENT, REDCAP_INSTANCE}
IMPORT_BATCH = 1000  # patients validated and written per batch
_PATIENT_LIST = TypeAdapter(list[Patient])
_UNREAD = object()  # marks a cell text not read before


@dataclass(frozen=True)
class RowError:
    """One reason a row cannot be imported."""

    row: int
    external_id: str | None
    column: str
    reason: str


@dataclass
class ImportResult:
    """Outcome of an import: either every patient was written, or none and the errors say why."""

    ok: bool
    n_rows: int
    n_patients: int = 0
    n_created: int = 0
    n_updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    def errors_csv(self) -> str:
        """The row-by-row error report (row, external_id, column, reason)."""
        buf = io.StringIO()
        w = safe_csv_writer(buf, lineterminator="\n")
        w.writerow(["row", "external_id", "column", "reason"])
        for e in self.errors:
            w.writerow([e.row, e.external_id or "", e.column, e.reason])
        return buf.getvalue()


# ---------------------------------------------------------------------------- reading


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an import builds millions of objects.

    Every full collection walks all live objects (rows, documents, patients), which made
    validating a 100,000-row file about three times slower. Reference counting still frees
    everything as usual; a reference cycle made meanwhile is collected once the collector
    runs again. It is switched back on only if it was on when the import started.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _excel_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


#: Key under which :func:`read_rows` records how many cells a row has beyond the header.
SURPLUS_CELLS = "\x00surplus cells"


@_cyclic_gc_paused()
def read_rows(source: Path | bytes, *, fmt: str | None = None) -> list[dict[str, str]]:
    """Every data row as column → text (nothing is converted yet). ``fmt``: csv or xlsx."""
    if fmt is None:
        fmt = "xlsx" if isinstance(source, Path) and source.suffix.lower() in {".xlsx", ".xlsm"} \
            else "csv"
    data = source.read_bytes() if isinstance(source, Path) else source
    if fmt == "xlsx":
        from openpyxl import load_workbook

        ws = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = [_excel_text(h).strip() for h in next(rows, ())]
        out_xlsx: list[dict[str, str]] = []
        for row in rows:
            if not any(v not in (None, "") for v in row):
                continue
            cells = dict(zip(header, (_excel_text(v) for v in row), strict=False))
            surplus = sum(v not in (None, "") for v in row[len(header):])
            out_xlsx.append(cells | ({SURPLUS_CELLS: str(surplus)} if surplus else {}))
        return out_xlsx
    if fmt != "csv":
        raise ValueError(f"unknown import format {fmt!r} (csv or xlsx)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the file is not UTF-8 text: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise ValueError("the file is empty (no header line)")
    names = [h.strip() for h in header]
    width = len(names)
    out: list[dict[str, str]] = []
    for row in reader:
        if not row:  # a blank line
            continue
        if len(row) == width:
            out.append(dict(zip(names, row, strict=True)))
        else:  # a short row's missing cells are empty; surplus cells make the row an error
            cells = dict(zip(names, row, strict=False))
            out.append({name: cells.get(name, "") for name in names}
                       | ({SURPLUS_CELLS: str(len(row) - width)} if len(row) > width else {}))
    return out


# ---------------------------------------------------------------------------- shaping


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        doc = doc.setdefault(p, {})
    doc[parts[-1]] = value


def _get_path(doc: dict[str, Any], path: str) -> Any:
    for p in path.split("."):
        if not isinstance(doc, dict) or p not in doc:
            return None
        doc = doc[p]
    return doc


@dataclass
class _Record:
    first_row: int
    external_id: str
    doc: dict[str, Any] = field(default_factory=dict)
    items: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)


class _Column(NamedTuple):
    """How one file column is read: its parser and where its value goes in the document."""

    name: str
    field: str
    parse: Callable[[str], Any]
    parents: tuple[str, ...]  # sections above the field (plain fields)
    leaf: str  # the field's own name (plain fields) or the item's field (repeating fields)
    list_path: str | None  # the list a repeating field's items belong to, else None
    known: dict[str, Any]  # text → value already read in this file
    keep: bool  # values are immutable, so ``known`` may keep them (not lists)

    @classmethod
    def of(cls, entry: Entry) -> _Column:
        annotation = field_annotation(entry.field)
        parse, keep = cell_parser(annotation), not is_list_field(annotation)
        if "[]" in entry.field:
            head, _, leaf = entry.field.partition("[].")
            return cls(entry.column, entry.field, parse, (), leaf, head, {}, keep)
        *parents, leaf = entry.field.split(".")
        return cls(entry.column, entry.field, parse, tuple(parents), leaf, None, {}, keep)


def _shape(
    rows: list[dict[str, str]], dictionary: DataDictionary, errors: list[RowError]
) -> list[_Record]:
    columns = (set(rows[0]) - {SURPLUS_CELLS}) if rows else set()
    unknown = sorted(columns - set(dictionary.by_column) - REDCAP_COLUMNS)
    for col in unknown:
        errors.append(RowError(1, None, col, "column not in the data dictionary"))
    if dictionary.id_column not in columns and rows:
        errors.append(RowError(1, None, dictionary.id_column, "the id column is missing"))
        return []
    redcap = bool(columns & REDCAP_COLUMNS)
    readers = [_Column.of(e) for e in dictionary.entries if e.field != "id" and e.column in columns]
    id_column = dictionary.id_column
    records: dict[str, _Record] = {}
    for index, row in enumerate(rows):
        line = index + 2
        ext = (row.get(id_column) or "").strip()
        if SURPLUS_CELLS in row:
            errors.append(RowError(line, ext or None, "(row)",
                                   f"{row[SURPLUS_CELLS]} cell(s) more than the header's "
                                   f"{len(columns)} columns (a stray delimiter?)"))
            continue
        if not ext:
            errors.append(RowError(line, None, id_column, "empty id"))
            continue
        rec = records.get(ext)
        if rec is None:
            rec = records[ext] = _Record(line, ext)
        elif not redcap:
            errors.append(RowError(line, ext, id_column,
                                   f"duplicate id (first on row {rec.first_row})"))
            continue
        instrument = (row.get(REDCAP_INSTRUMENT) or "").strip() if redcap else ""
        instance = 1
        if instrument:
            instance_text = (row.get(REDCAP_INSTANCE) or "").strip()
            try:
                instance = int(instance_text)
            except ValueError:
                errors.append(RowError(line, ext, REDCAP_INSTANCE,
                                       f"{instance_text!r} is not a whole number"))
                continue
        doc, cell = rec.doc, row.get
        for name, path, parse, parents, leaf, list_path, known, keep in readers:
            text = cell(name)
            if not text or text.isspace():
                continue
            value = known.get(text, _UNREAD)  # the same text reads the same again
            if value is _UNREAD:
                try:
                    value = parse(text)
                except CellError as exc:
                    errors.append(RowError(line, ext, name, str(exc)))
                    continue
                if keep:
                    known[text] = value
            if list_path is not None:
                if not instrument:
                    errors.append(RowError(line, ext, name,
                                           "repeating field outside a repeating instrument row"))
                    continue
                rec.items.setdefault(list_path, {}).setdefault(instance, {})[leaf] = value
                continue
            if redcap:
                previous = _get_path(doc, path)
                if previous is not None and previous != value:
                    errors.append(RowError(line, ext, name,
                                           f"conflicts with {previous!r} given on another row"))
                    continue
            target = doc
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = value
    for rec in records.values():
        rec.doc["id"] = rec.external_id
        for head, by_instance in rec.items.items():
            _set_path(rec.doc, head, [by_instance[k] for k in sorted(by_instance)])
    return list(records.values())


def _column_for_loc(loc: str, dictionary: DataDictionary) -> str:
    """The file column behind a validation error path such as ``liver.lesions.0.diameter_cm``."""
    parts = loc.split(".")
    item_path = ".".join(p for p in parts if not p.isdigit())
    if any(p.isdigit() for p in parts):
        item_path = ".".join(
            p + "[]" if i + 1 < len(parts) and parts[i + 1].isdigit() else p
            for i, p in enumerate(parts)
            if not p.isdigit()
        )
    fields = {e.field: e.column for e in dictionary.entries}
    candidates = [item_path, loc]
    if "[]" in item_path:
        candidates.append(item_path.split("[]")[0])  # the whole list in one JSON cell
    for candidate in candidates:
        if candidate in fields:
            return fields[candidate]
    return loc


@_cyclic_gc_paused()
def validate_rows(
    rows: list[dict[str, str]], dictionary: DataDictionary
) -> tuple[list[Patient], list[RowError]]:
    """Shape and validate every record; patients only if there is no error at all."""
    errors: list[RowError] = []
    patients: list[Patient] = []
    records = _shape(rows, dictionary, errors)
    for i in range(0, len(records), IMPORT_BATCH):
        chunk = records[i:i + IMPORT_BATCH]
        try:  # the common case: one strict validation of the whole chunk
            patients += _PATIENT_LIST.validate_json(json.dumps([r.doc for r in chunk]),
                                                    strict=True)
            continue
        except ValidationError:
            pass
        for rec in chunk:  # some record is invalid: validate one by one to report each
            try:
                patients.append(parse_patient(rec.doc))
            except ValidationError as exc:
                for problem in problems_from(exc):
                    errors.append(RowError(rec.first_row, rec.external_id,
                                           _column_for_loc(problem.field, dictionary),
                                           problem.reason))
    errors.sort(key=lambda e: (e.row, e.column))
    return patients, errors


@_cyclic_gc_paused()
def import_rows(
    session: Session,
    rows: list[dict[str, str]],
    *,
    centre: str,
    actor: str,
    dictionary: DataDictionary | None = None,
    source_name: str = "(upload)",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Validate all rows, then write all patients in the caller's transaction (no commit)."""
    dictionary = dictionary or DataDictionary.crlm_export()
    patients, errors = validate_rows(rows, dictionary)
    result = ImportResult(ok=not errors, n_rows=len(rows), errors=errors)
    if errors:
        return result
    for i in range(0, len(patients), IMPORT_BATCH):
        batch = patients[i:i + IMPORT_BATCH]
        saved = save_patients(session, batch, centre=centre, actor=actor)
        created = sum(1 for _, new in saved if new)
        result.n_created += created
        result.n_updated += len(saved) - created
        if progress is not None:
            progress(len(batch))
    result.n_patients = len(patients)
    audit.record(session, actor=actor, action="import", entity="registry", entity_id=None,
                 detail=f"{source_name}: {result.n_created} created, {result.n_updated} updated")
    session.flush()
    return result


def import_file(
    session: Session,
    source: Path | bytes,
    *,
    centre: str,
    actor: str,
    fmt: str | None = None,
    dictionary: DataDictionary | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Read and import a CSV/Excel/REDCap file; on any error nothing is written."""
    try:
        rows = read_rows(source, fmt=fmt)
    except ValueError as exc:
        return ImportResult(ok=False, n_rows=0, errors=[RowError(1, None, "(file)", str(exc))])
    name = source.name if isinstance(source, Path) else "(upload)"
    return import_rows(session, rows, centre=centre, actor=actor, dictionary=dictionary,
                       source_name=name, progress=progress)


def iter_error_lines(result: ImportResult) -> Iterable[str]:
    """Human-readable error lines: ``row N (id X), column C: reason``."""
    for e in result.errors:
        who = f" (id {e.external_id})" if e.external_id else ""
        yield f"row {e.row}{who}, column {e.column}: {e.reason}"
