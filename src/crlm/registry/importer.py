"""Import CSV, Excel and REDCap-style exports: validate every row, then all rows land or none.

Rows are numbered as lines of the file (the header is line 1; for Excel, sheet rows). A REDCap
export (columns ``redcap_event_name`` / ``redcap_repeat_instrument`` /
``redcap_repeat_instance``) is reshaped into one patient per record: non-repeating rows of every
event are merged (conflicting values are an error) and repeating-instrument rows become list
items ordered by instance.

Memory stays bounded whatever the file's size: the file is read row by row (an Excel sheet's
``<dimension>`` tag is not trusted) and staged in a temporary SQLite file on disk, then records
are validated and written 1,000 at a time, all in the caller's one transaction.

A patient already stored (same centre + id) is *merged*: only the fields whose columns the file
has are changed (a list given in the file replaces that list); a column absent from the file
means "not in this file". ``replace=True`` makes the file the whole record (fields absent from
the file are cleared) and the result says how many stored values that cleared. Every update's
audit row holds the old and new values of the fields it changed, and every audit row of an
import names its id, so :mod:`crlm.registry.undo` can undo it.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import io
import itertools
import json
import re
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from crlm.domain import Patient, parse_patient
from crlm.domain.errors import problems_from
from crlm.registry import audit, repository
from crlm.registry.db import cyclic_gc_paused
from crlm.registry.dictionary import (
    CellError,
    DataDictionary,
    Entry,
    cell_parser,
    field_annotation,
    is_list_field,
)
from crlm.registry.models import patients as _patients_table
from crlm.safe_output import safe_csv_writer

REDCAP_EVENT = "redcap_event_name"
REDCAP_INSTRUMENT = "redcap_repeat_instrument"
REDCAP_INSTANCE = "redcap_repeat_instance"
REDCAP_COLUMNS = {REDCAP_EVENT, REDCAP_INSTRUMENT, REDCAP_INSTANCE}
REDCAP_DAG = "redcap_data_access_group"
#: Columns of a REDCap export that hold nothing about the patient (read, then skipped).
REDCAP_SKIPPED = {REDCAP_DAG, "redcap_survey_identifier"}
#: ``<form>_complete`` and ``<form>_timestamp`` (surveys): skipped in a REDCap export.
_FORM_STATUS = re.compile(r"^[a-z][a-z0-9_]*_(complete|timestamp)$")
CENTRE_CHARS: int = _patients_table.c.centre.type.length  # type: ignore[attr-defined]
IMPORT_BATCH = 1000  # patients validated and written per batch
MAX_REPORTED_ERRORS = 10_000  # row errors kept in the report (all are counted)
MAX_CELL_CHARS = csv.field_size_limit()  # 131,072: a longer CSV cell is a row error
_MEMO_LIMIT = 10_000  # distinct cell texts remembered per column
GC_EVERY = 20  # batches between two explicit cyclic collections (the collector is paused)
_PATIENT_LIST = TypeAdapter(list[Patient])
_UNREAD = object()  # marks a cell text not read before
Source = Path | bytes | IO[bytes]


@dataclass(frozen=True)
class RowError:
    """One reason a row cannot be imported."""

    row: int
    external_id: str | None
    column: str
    reason: str


@dataclass
class ImportResult:
    """Outcome of an import: either every patient was written, or none and the errors say why.

    ``errors`` holds the first :data:`MAX_REPORTED_ERRORS` problems in row order;
    ``n_errors`` counts them all.
    """

    ok: bool
    n_rows: int
    n_patients: int = 0
    n_created: int = 0
    n_updated: int = 0
    n_unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    n_errors: int = 0
    import_id: str | None = None
    notes: list[str] = field(default_factory=list)  # what was skipped, and why
    centres: list[str] = field(default_factory=list)  # the centres the patients went to
    replace: bool = False
    n_cleared: int = 0  # stored values cleared because replace mode left their field out
    seconds: dict[str, float] = field(default_factory=dict)  # read, validate, write

    def __post_init__(self) -> None:
        self.n_errors = max(self.n_errors, len(self.errors))

    def errors_csv(self) -> str:
        """The row-by-row error report (row, external_id, column, reason)."""
        buf = io.StringIO()
        w = safe_csv_writer(buf, lineterminator="\n")
        w.writerow(["row", "external_id", "column", "reason"])
        for e in self.errors:
            w.writerow([e.row, e.external_id or "", e.column, e.reason])
        return buf.getvalue()

    def summary(self) -> str:
        """One line: what the import did."""
        text = (f"{self.n_patients} patients ({self.n_created} new, {self.n_updated} updated, "
                f"{self.n_unchanged} unchanged)")
        if self.replace:
            text += (f"; replace mode: {self.n_cleared} stored value(s) of fields not in the "
                     "file were cleared")
        return text


def _file_error(reason: str, row: int = 1) -> ImportResult:
    return ImportResult(ok=False, n_rows=0, errors=[RowError(row, None, "(file)", reason)])


# ---------------------------------------------------------------------------- reading


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


#: Key under which a row records how many cells it has beyond the header.
SURPLUS_CELLS = "\x00surplus cells"


@dataclass(frozen=True)
class Unreadable:
    """A row the reader could not read (the reason says why)."""

    reason: str


Row = dict[str, str] | Unreadable


class Table(NamedTuple):
    """A file's header and its data rows as (row number, column → text), read lazily."""

    header: list[str]
    rows: Iterator[tuple[int, Row]]


def _format_of(source: Source, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    name = source.name if isinstance(source, Path) else ""
    return "xlsx" if name.lower().endswith((".xlsx", ".xlsm")) else "csv"


def _check_header(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in seen:
            hint = (" (a REDCap labels export: give the project's Data Dictionary to read it)"
                    if name == "Complete?" else "")
            raise ValueError(f"the header names column {name!r} twice (columns {seen[name]} "
                             f"and {i}): which one holds the data cannot be known{hint}")
        seen[name] = i
    return names


#: Turns a header into column names (a REDCap labels export's header into variable names).
HeaderNames = Callable[[list[str]], list[str]]


def _csv_table(text: IO[str], names_of: HeaderNames | None = None) -> Table:
    reader = csv.reader(text)
    try:
        header = next(reader, None)
    except UnicodeDecodeError as exc:
        raise ValueError(f"the file is not UTF-8 text: {exc}") from None
    except csv.Error as exc:
        raise ValueError(f"the header line cannot be read: {exc}") from None
    if header is None:
        raise ValueError("the file is empty (no header line)")
    names = [h.strip() for h in header]
    names = _check_header(names_of(names) if names_of else names)
    width = len(names)

    def rows() -> Iterator[tuple[int, Row]]:
        end = reader.line_num
        while True:
            start = end + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                yield start, Unreadable(f"the file is not UTF-8 text from here on: {exc}")
                return
            except csv.Error as exc:
                end = reader.line_num
                reason = (f"a cell is longer than {MAX_CELL_CHARS:,} characters"
                          if "field larger than field limit" in str(exc) else str(exc))
                yield start, Unreadable(reason)
                continue
            end = reader.line_num
            if not row:  # a blank line
                continue
            if len(row) == width:
                yield start, dict(zip(names, row, strict=True))
            else:  # a short row's missing cells are empty; surplus cells make the row an error
                cells = dict(zip(names, row, strict=False))
                yield start, ({name: cells.get(name, "") for name in names}
                              | ({SURPLUS_CELLS: str(len(row) - width)} if len(row) > width
                                 else {}))

    return Table(names, rows())


def _nonempty(row: Iterable[Any]) -> bool:
    return any(v not in (None, "") for v in row)


def _xlsx_table(stream: IO[bytes], stack: contextlib.ExitStack,
                names_of: HeaderNames | None = None) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # zip and XML errors of every kind
        raise ValueError(f"not a readable Excel workbook: {exc}") from None
    stack.callback(book.close)
    sheets = book.worksheets
    if not sheets:
        raise ValueError("the workbook has no worksheet")
    for sheet in sheets:
        sheet.reset_dimensions()  # the <dimension> tag may be wrong: read every row and cell
    others = [s.title for s in sheets[1:] if any(map(_nonempty, s.iter_rows(
        min_row=1, min_col=1, values_only=True)))]
    if others:
        raise ValueError(f"the workbook has data on more than one sheet ({sheets[0].title}, "
                         f"{', '.join(others)}): keep the patients on one sheet")
    cells = enumerate(sheets[0].iter_rows(min_row=1, min_col=1, values_only=True), start=1)
    _, first = next(((n, row) for n, row in cells if _nonempty(row)), (0, ()))
    header = list(first)
    while header and header[-1] in (None, ""):
        header.pop()
    names = [_excel_text(h).strip() for h in header]
    names = _check_header(names_of(names) if names_of else names)
    if not names:
        raise ValueError("the sheet is empty (no header row)")

    def rows() -> Iterator[tuple[int, Row]]:
        for number, row in cells:  # sheet row numbers, counted from the top of the sheet
            if not _nonempty(row):
                continue
            values = dict(zip(names, (_excel_text(v) for v in row), strict=False))
            surplus = sum(v not in (None, "") for v in row[len(names):])
            yield number, ({name: values.get(name, "") for name in names}
                           | ({SURPLUS_CELLS: str(surplus)} if surplus else {}))

    return Table(names, rows())


@contextlib.contextmanager
def open_table(source: Source, *, fmt: str | None = None,
               names_of: HeaderNames | None = None) -> Iterator[Table]:
    """The file's header and a lazy iterator over its rows. ``fmt``: csv or xlsx;
    ``names_of`` turns the header read into the column names.

    Raises ``ValueError`` (message says why) for an unreadable file or header.
    """
    fmt = _format_of(source, fmt)
    if fmt not in {"csv", "xlsx"}:
        raise ValueError(f"unknown import format {fmt!r} (csv or xlsx)")
    with contextlib.ExitStack() as stack:
        if isinstance(source, Path):
            stream: IO[bytes] = stack.enter_context(source.open("rb"))
        elif isinstance(source, bytes | bytearray):
            stream = io.BytesIO(source)
        else:
            stream = source
        if fmt == "xlsx":
            yield _xlsx_table(stream, stack, names_of)
            return
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        try:
            yield _csv_table(text, names_of)
        finally:
            text.detach()  # the caller's stream stays open


def read_rows(source: Source, *, fmt: str | None = None) -> list[dict[str, str]]:
    """Every data row as column → text (nothing is converted yet), in memory: for small files
    and tests; imports read the file row by row (:func:`import_file`)."""
    with open_table(source, fmt=fmt) as table:
        out = []
        for _number, row in table.rows:
            if isinstance(row, Unreadable):
                raise ValueError(row.reason)
            out.append(row)
        return out


# ---------------------------------------------------------------------------- staging


class _Staging:
    """A temporary SQLite file holding rows, errors and validated records between passes."""

    def __init__(self, directory: str) -> None:
        self.db = sqlite3.connect(Path(directory) / "staging.db", isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE",
                       "cache_size=-16000"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript("""
            CREATE TABLE rows (ext TEXT, line INTEGER, instrument TEXT, instance INTEGER,
                               cells TEXT, centre TEXT);
            CREATE TABLE errors (line INTEGER, ext TEXT, col TEXT, reason TEXT);
            CREATE TABLE records (first_row INTEGER, pid INTEGER, version INTEGER, doc TEXT,
                                  changes TEXT, centre TEXT);
        """)
        self.db.execute("BEGIN")
        self.n_errors = 0

    def error(self, e: RowError) -> None:
        self.n_errors += 1
        self.db.execute("INSERT INTO errors VALUES (?, ?, ?, ?)",
                        (e.row, e.external_id, e.column, e.reason))

    def first_errors(self) -> list[RowError]:
        return [RowError(*r) for r in self.db.execute(
            "SELECT line, ext, col, reason FROM errors ORDER BY line, col, rowid LIMIT ?",
            (MAX_REPORTED_ERRORS,))]

    def close(self) -> None:
        self.db.close()


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


def _drop_path(doc: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    for p in parents:
        doc = doc.get(p)  # type: ignore[assignment]
        if not isinstance(doc, dict):
            return
    doc.pop(leaf, None)


class _Column(NamedTuple):
    """How one file column is read: its parser and where its value goes in the document."""

    name: str
    field: str
    parse: Callable[[str], Any]
    parents: tuple[str, ...]  # sections above a plain field
    leaf: str  # the field's own name, or the item's field (repeating fields)
    list_path: str | None  # the list a repeating field's items belong to, else None
    known: dict[str, Any]  # text → value already read in this file
    keep: bool  # values are immutable, so ``known`` may keep them (not lists)
    collects: bool  # one option of a REDCap checkbox: checked values gather in a list

    @classmethod
    def of(cls, entry: Entry) -> _Column:
        annotation = field_annotation(entry.field)
        parse = entry.read or cell_parser(annotation)
        keep = entry.collects or not is_list_field(annotation)
        if "[]" in entry.field:
            head, _, leaf = entry.field.partition("[].")
            return cls(entry.column, entry.field, parse, (), leaf, head, {}, keep,
                       entry.collects)
        *parents, leaf = entry.field.split(".")
        return cls(entry.column, entry.field, parse, tuple(parents), leaf, None, {}, keep,
                   entry.collects)


@dataclass
class _Plan:
    """What the file's header says: the columns read and the fields the file holds."""

    id_column: str
    redcap: bool
    columns: list[_Column]
    present: list[str]  # field paths (whole lists for repeating fields) the file holds
    notes: list[str] = field(default_factory=list)
    dags: set[str] | None = None  # REDCap data access groups seen (None: no such column)
    centre: str = ""  # the centre of every record (of those in no data access group)
    dag_centres: bool = False  # a record in a REDCap data access group goes to that centre
    by_field: dict[str, _Column] = field(init=False)

    def __post_init__(self) -> None:
        self.by_field = {c.field: c for c in self.columns}


def _redcap_file(columns: set[str], dictionary: DataDictionary) -> bool:
    """Whether the file reads as a REDCap export: REDCap's own columns, a dictionary built from
    a REDCap project, or a mapping of other column names (a classic REDCap project's export
    has none of REDCap's columns but a ``<form>_complete`` for every instrument)."""
    return bool(columns & (REDCAP_COLUMNS | REDCAP_SKIPPED)) or dictionary.redcap or any(
        e.column != e.field for e in dictionary.entries)


def _skipped(columns: set[str], dictionary: DataDictionary, redcap: bool) -> set[str]:
    """The file's columns that are accepted but hold nothing crlm reads."""
    skipped = columns & dictionary.ignored
    if redcap:
        skipped |= columns & REDCAP_SKIPPED
        if not dictionary.redcap:  # forms unknown: recognise REDCap's own column names
            skipped |= {c for c in columns - set(dictionary.by_column) if _FORM_STATUS.match(c)}
    return skipped


def _plan(header: list[str], dictionary: DataDictionary, stage: _Staging) -> _Plan | None:
    columns = set(header)
    redcap_rows = bool(columns & REDCAP_COLUMNS)
    skipped = _skipped(columns, dictionary, _redcap_file(columns, dictionary))
    for col in sorted(columns - set(dictionary.by_column) - REDCAP_COLUMNS - skipped):
        stage.error(RowError(1, None, col, "column not in the data dictionary"))
    if dictionary.id_column not in columns:
        stage.error(RowError(1, None, dictionary.id_column, "the id column is missing"))
        return None
    readers = [_Column.of(e) for e in dictionary.entries if e.field != "id" and e.column in columns]
    present = list(dict.fromkeys(c.list_path or c.field for c in readers))
    # skipped columns are REDCap's own, or fields the dictionary's notes already name
    notes = list(dictionary.notes)
    return _Plan(dictionary.id_column, redcap_rows, readers, present, notes,
                 set() if REDCAP_DAG in columns else None)


def _stage_rows(rows: Iterable[tuple[int, Row]], plan: _Plan, n_columns: int,
                stage: _Staging) -> int:
    """Pass 1: read every cell, stage each row's values and every cell error; the row count."""
    pending: list[tuple[str, int, str, int, str]] = []
    n_rows = 0
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    for line, row in rows:
        n_rows += 1
        if isinstance(row, Unreadable):
            stage.error(RowError(line, None, "(row)", row.reason))
            continue
        ext = (row.get(plan.id_column) or "").strip()
        if SURPLUS_CELLS in row:
            stage.error(RowError(line, ext or None, "(row)",
                                 f"{row[SURPLUS_CELLS]} cell(s) more than the header's "
                                 f"{n_columns} columns (a stray delimiter?)"))
            continue
        if not ext:
            stage.error(RowError(line, None, plan.id_column, "empty id"))
            continue
        centre = plan.centre
        if plan.dags is not None and row.get(REDCAP_DAG, "").strip():
            plan.dags.add(row[REDCAP_DAG].strip())
            if plan.dag_centres:
                centre = row[REDCAP_DAG].strip()
                if len(centre) > CENTRE_CHARS:
                    stage.error(RowError(line, ext, REDCAP_DAG, (
                        f"a centre name has at most {CENTRE_CHARS} characters; export the "
                        "unique group names (raw data), not the group labels")))
                    continue
        instrument = (row.get(REDCAP_INSTRUMENT) or "").strip() if plan.redcap else ""
        instance = 1
        if instrument:
            instance_text = (row.get(REDCAP_INSTANCE) or "").strip()
            try:
                instance = int(instance_text)
            except ValueError:
                stage.error(RowError(line, ext, REDCAP_INSTANCE,
                                     f"{instance_text!r} is not a whole number"))
                continue
        values: dict[str, Any] = {}
        cell = row.get
        for name, path, parse, _parents, _leaf, list_path, known, keep, collects in plan.columns:
            text = cell(name)
            if not text or text.isspace():
                continue
            value = known.get(text, _UNREAD)  # the same text reads the same again
            if value is _UNREAD:
                try:
                    value = parse(text)
                except CellError as exc:
                    stage.error(RowError(line, ext, name, str(exc)))
                    continue
                if keep and len(known) < _MEMO_LIMIT:
                    known[text] = value
            if value is None:  # a choice meaning "unknown", or an unticked checkbox option
                continue
            if list_path is not None and not instrument:
                stage.error(RowError(line, ext, name,
                                     "repeating field outside a repeating instrument row"))
                continue
            if collects:
                values.setdefault(path, []).append(value)
            else:
                values[path] = value
        pending.append((ext, line, instrument, instance, dumps(values), centre))
        if len(pending) >= IMPORT_BATCH:
            stage.db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?)", pending)
            pending.clear()
    stage.db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?)", pending)
    return n_rows


@dataclass
class _Record:
    first_row: int
    external_id: str
    doc: dict[str, Any]
    centre: str


def _assemble(ext: str, parts: list[tuple[int, str, int, str, str]], plan: _Plan,
              stage: _Staging) -> _Record:
    """One record from its staged rows (several in a REDCap export)."""
    columns = plan.by_field
    first, centre = parts[0][0], parts[0][4]
    doc: dict[str, Any] = {}
    items: dict[str, dict[int, dict[str, Any]]] = {}
    for line, _instrument, instance, cells, row_centre in parts:
        if line != first and not plan.redcap:
            stage.error(RowError(line, ext, plan.id_column, f"duplicate id (first on row {first})"))
            continue
        if row_centre != centre:
            stage.error(RowError(line, ext, REDCAP_DAG, (
                f"the record is in data access group {row_centre!r} here and in {centre!r} on "
                f"row {first}")))
            continue
        for path, value in json.loads(cells).items():
            column = columns[path]
            if column.list_path is not None:
                items.setdefault(column.list_path, {}).setdefault(instance, {})[column.leaf] \
                    = value
                continue
            target = doc
            for part in column.parents:
                target = target.setdefault(part, {})
            if plan.redcap:
                previous = target.get(column.leaf)
                if previous is not None and previous != value:
                    stage.error(RowError(line, ext, column.name,
                                         f"conflicts with {previous!r} given on another row"))
                    continue
            target[column.leaf] = value
    doc["id"] = ext
    for head, by_instance in items.items():
        _set_path(doc, head, [by_instance[k] for k in sorted(by_instance)])
    return _Record(first, ext, doc, centre)


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


def _merged(stored: dict[str, Any], doc: dict[str, Any], present: list[str]) -> dict[str, Any]:
    """The stored document with the fields the file holds taken from the file's record."""
    out = json.loads(json.dumps(stored))  # a deep copy of plain JSON values
    for path in present:
        value = _get_path(doc, path)
        if value is None:
            _drop_path(out, path)
        else:
            _set_path(out, path, value)
    return out


def _covered(path: str, present: list[str]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in present)


@dataclass
class _Counts:
    n_patients: int = 0
    n_created: int = 0
    n_updated: int = 0
    n_unchanged: int = 0
    n_cleared: int = 0


def _stored(session: Session, records: list[_Record]
            ) -> dict[tuple[str, str], tuple[int, int, Patient]]:
    """(centre, external id) → the stored patient, for the records already in the registry."""
    out = {}
    for centre in sorted({r.centre for r in records}):
        ids = [r.external_id for r in records if r.centre == centre]
        for ext, stored in repository.stored_patients(session, centre, ids).items():
            out[centre, ext] = stored
    return out


def _validate_chunk(records: list[_Record], plan: _Plan, dictionary: DataDictionary,
                    session: Session, replace: bool, stage: _Staging,
                    counts: _Counts) -> None:
    """Pass 2 for one chunk: merge with the stored patients, validate, stage what to write."""
    stored = _stored(session, records)
    olds: list[dict[str, Any] | None] = []
    docs = []
    for rec in records:
        old = stored.get((rec.centre, rec.external_id))
        before = repository.patient_doc(old[2]) if old else None
        olds.append(before)
        docs.append(rec.doc if before is None or replace else
                    _merged(before, rec.doc, [*plan.present, "id"]))
    patients: list[Patient | None]
    try:  # the common case: one strict validation of the whole chunk
        patients = list(_PATIENT_LIST.validate_json(json.dumps(docs), strict=True))
    except ValidationError:
        patients = []
        for rec, doc in zip(records, docs, strict=True):
            try:
                patients.append(parse_patient(doc))
            except ValidationError as exc:
                patients.append(None)
                for problem in problems_from(exc):
                    stage.error(RowError(rec.first_row, rec.external_id,
                                         _column_for_loc(problem.field, dictionary),
                                         problem.reason))
    staged = []
    for rec, before, patient in zip(records, olds, patients, strict=True):
        if patient is None:
            continue
        counts.n_patients += 1
        if before is None:
            counts.n_created += 1
            staged.append((rec.first_row, None, None,
                           patient.model_dump_json(exclude_none=True), None, rec.centre))
            continue
        after = repository.patient_doc(patient)
        changes = repository.changed_fields(before, after)
        if not changes:
            counts.n_unchanged += 1
            continue
        counts.n_updated += 1
        counts.n_cleared += sum(1 for path, (_old, new) in changes.items()
                                if new is None and not _covered(path, plan.present))
        pid, version, _patient = stored[rec.centre, rec.external_id]
        staged.append((rec.first_row, pid, version, json.dumps(after), json.dumps(changes),
                       rec.centre))
    if not stage.n_errors:  # once a row is wrong nothing will be written
        stage.db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", staged)


def _collect_now_and_then(n_done: int) -> None:
    """Free the reference cycles the database layers leave behind, every ``GC_EVERY`` batches.

    The cyclic collector is paused during an import (:func:`~crlm.registry.db.cyclic_gc_paused`);
    with the file staged on disk few objects are alive at a time, so a collection is cheap, and
    without one the cycles of each batch (≈ 10 MB per 100,000 rows) would pile up.
    """
    if n_done and n_done % (GC_EVERY * IMPORT_BATCH) < IMPORT_BATCH:
        gc.collect()


def _validate_all(session: Session, plan: _Plan, dictionary: DataDictionary,
                  replace: bool, stage: _Staging) -> _Counts:
    """Pass 2: every record assembled from its rows (grouped by id), merged, validated."""
    counts = _Counts()
    cursor = stage.db.execute(
        "SELECT ext, line, instrument, instance, cells, centre FROM rows ORDER BY ext, line")
    chunk: list[_Record] = []
    for ext, group in itertools.groupby(cursor, key=lambda r: r[0]):
        chunk.append(_assemble(ext, [r[1:] for r in group], plan, stage))
        if len(chunk) >= IMPORT_BATCH:
            _validate_chunk(chunk, plan, dictionary, session, replace, stage, counts)
            chunk = []
            _collect_now_and_then(counts.n_patients)
    if chunk:
        _validate_chunk(chunk, plan, dictionary, session, replace, stage, counts)
    return counts


def _write_all(session: Session, stage: _Staging, *, actor: str, import_id: str,
               progress: Callable[[int], None] | None) -> None:
    """Pass 3: write the staged records in file order, ``IMPORT_BATCH`` at a time."""
    cursor = stage.db.execute(
        "SELECT pid, version, doc, changes, centre FROM records ORDER BY first_row")
    written = 0
    while batch := cursor.fetchmany(IMPORT_BATCH):
        patients = _PATIENT_LIST.validate_json("[" + ",".join(r[2] for r in batch) + "]",
                                               strict=True)
        for centre in sorted({r[4] for r in batch if r[0] is None}):
            new = [p for p, r in zip(patients, batch, strict=True)
                   if r[0] is None and r[4] == centre]
            repository.insert_patients(session, new, centre=centre, actor=actor,
                                       import_id=import_id)
        repository.apply_changes(session, [
            repository.PatientChange(r[0], r[1], p, json.loads(r[3]))
            for p, r in zip(patients, batch, strict=True) if r[0] is not None
        ], actor=actor, import_id=import_id)
        written += len(batch)
        _collect_now_and_then(written)
        if progress is not None:
            progress(len(batch))


# ---------------------------------------------------------------------------- API


def _dialect(session: Session) -> str:
    return session.connection().dialect.name


def _busy(exc: sa.exc.OperationalError) -> bool:
    return "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower()


def _import_table(
    session: Session,
    table: Table,
    *,
    centre: str,
    actor: str,
    dictionary: DataDictionary,
    source_name: str,
    replace: bool,
    progress: Callable[[int], None] | None,
    dag_centres: bool = False,
) -> ImportResult:
    clock = [time.perf_counter()]
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        clock.append(time.perf_counter())
        seconds[name] = round(clock[-1] - clock[-2], 3)

    with tempfile.TemporaryDirectory(prefix="crlm-import-") as tmp:
        stage = _Staging(tmp)
        try:
            plan = _plan(table.header, dictionary, stage)
            if plan is not None:
                plan.centre, plan.dag_centres = centre, dag_centres
            n_rows = _stage_rows(table.rows, plan, len(table.header), stage) if plan else 0
            if plan is not None and plan.dags:
                plan.notes.append(f"REDCap data access groups {', '.join(sorted(plan.dags))}: "
                                  + ("each record went to the centre its group names"
                                     if dag_centres else
                                     f"every patient of the file goes to centre {centre}"))
            centres = [c for (c,) in stage.db.execute(
                "SELECT DISTINCT centre FROM rows ORDER BY centre")] or [centre]
            lap("read")
            counts = _Counts()
            import_id = uuid.uuid4().hex[:12]
            try:
                if plan is not None:
                    if not stage.n_errors and _dialect(session) == "postgresql":
                        # imports into one centre wait for each other from here on (SQLite:
                        # from the writes on, so readers are not kept waiting meanwhile)
                        # (centres locked in one order, so two imports cannot deadlock)
                        for c in centres:
                            repository.lock_for_writers(session, c)
                    counts = _validate_all(session, plan, dictionary, replace, stage)
                lap("validate")
                if not stage.n_errors:
                    for c in centres:
                        repository.lock_for_writers(session, c)
                    _write_all(session, stage, actor=actor, import_id=import_id,
                               progress=progress)
            except repository.VersionConflictError as exc:
                session.rollback()
                stage.error(RowError(1, None, "(file)", (
                    f"{len(exc.current)} patient(s) were changed by someone else while the file "
                    f"was imported ({exc}); nothing imported: import the file again")))
            except sa.exc.IntegrityError:
                session.rollback()
                stage.error(RowError(1, None, "(file)", (
                    "someone else added a patient with one of these ids while the file was "
                    "imported; nothing imported: import the file again")))
            except sa.exc.OperationalError as exc:
                if not _busy(exc):
                    raise
                session.rollback()
                stage.error(RowError(1, None, "(file)", (
                    "the registry is busy with another import or write; nothing imported: "
                    "try again in a moment")))
            result = ImportResult(
                ok=not stage.n_errors, n_rows=n_rows, errors=stage.first_errors(),
                n_errors=stage.n_errors, replace=replace, **vars(counts),
                notes=plan.notes if plan else [], centres=centres)
        finally:
            stage.close()
    if not result.ok:
        result.n_created = result.n_updated = result.n_unchanged = result.n_cleared = 0
        result.n_patients = 0
        lap("write")
        result.seconds = seconds
        return result
    result.import_id = import_id
    audit.record(session, actor=actor, action="import", entity="import", entity_id=import_id,
                 detail=json.dumps({
                     "file": source_name, "centre": centre,
                     **({"centres": centres} if centres != [centre] else {}),
                     "created": result.n_created,
                     "updated": result.n_updated, "unchanged": result.n_unchanged,
                     "replace": replace, "cleared": result.n_cleared,
                 }, ensure_ascii=False))
    session.flush()
    lap("write")
    result.seconds = seconds
    return result


def _rows_table(rows: Iterable[dict[str, str]]) -> Table:
    """A table over rows already read (numbered from line 2)."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return Table([], iter(()))
    header = [c for c in first if c != SURPLUS_CELLS]
    numbered = enumerate(itertools.chain([first], iterator), start=2)
    return Table(header, ((n, r) for n, r in numbered))


@cyclic_gc_paused()
def import_rows(
    session: Session,
    rows: Iterable[dict[str, str]],
    *,
    centre: str,
    actor: str,
    dictionary: DataDictionary | None = None,
    source_name: str = "(upload)",
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
    dag_centres: bool = False,
) -> ImportResult:
    """Validate all rows, then write all patients in the caller's transaction (no commit).

    On any error nothing is written (the session is rolled back only when a concurrent
    writer made the transaction unusable).
    """
    table = _rows_table(rows)
    if not table.header:
        return ImportResult(ok=True, n_rows=0)
    return _import_table(session, table, centre=centre, actor=actor,
                         dictionary=dictionary or DataDictionary.crlm_export(),
                         source_name=source_name, replace=replace, progress=progress,
                         dag_centres=dag_centres)


@cyclic_gc_paused()
def import_file(
    session: Session,
    source: Source,
    *,
    centre: str,
    actor: str,
    fmt: str | None = None,
    dictionary: DataDictionary | None = None,
    source_name: str | None = None,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
    dag_centres: bool = False,
) -> ImportResult:
    """Read and import a CSV/Excel/REDCap file row by row; on any error nothing is written.

    ``dag_centres``: a record in a REDCap data access group (``redcap_data_access_group``)
    goes to the centre of that name; the others to ``centre``."""
    name = source_name or (source.name if isinstance(source, Path) else "(upload)")
    with contextlib.ExitStack() as stack:
        try:
            table = stack.enter_context(open_table(
                source, fmt=fmt, names_of=(dictionary.header_names if dictionary else None)))
        except ValueError as exc:
            return _file_error(str(exc))
        return _import_table(session, table, centre=centre, actor=actor,
                             dictionary=dictionary or DataDictionary.crlm_export(),
                             source_name=name, replace=replace, progress=progress,
                             dag_centres=dag_centres)
    raise AssertionError("unreachable")  # pragma: no cover


def iter_error_lines(result: ImportResult) -> Iterable[str]:
    """Human-readable error lines: ``row N (id X), column C: reason``."""
    for e in result.errors:
        who = f" (id {e.external_id})" if e.external_id else ""
        yield f"row {e.row}{who}, column {e.column}: {e.reason}"
    if result.n_errors > len(result.errors):
        yield f"… and {result.n_errors - len(result.errors):,} more problem(s) not listed"
