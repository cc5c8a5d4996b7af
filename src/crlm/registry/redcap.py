"""REDCap interchange: a REDCap Data Dictionary in, crlm's fields as a Data Dictionary out.

**Reading.** A REDCap Data Dictionary (the CSV REDCap's Designer downloads, or the project
metadata the API returns as JSON) becomes a :class:`~crlm.registry.dictionary.DataDictionary`:

* the first field is the record id (REDCap's rule) and maps to the patient id;
* every other field maps to the crlm field its Field Annotation names (``@CRLM=primary.site``),
  else to the crlm field whose name it has: the name :func:`data_dictionary_csv` writes
  (``prim_site``, :func:`redcap_name`) or the path with ``_`` for ``.`` (``primary_site``); a
  field mapped to nothing is skipped, and the import report lists it;
* radio / dropdown choices (``1, Male | 2, Female``) read raw codes and labels alike; each choice
  is matched to a crlm value by its code or label (case, spaces, ``-`` and ``_`` ignored), by
  ``@CRLM-CHOICES=1:left_colon|2:rectum`` in the annotation, or to *unknown* when its label says
  unknown/not known/missing/not done;
* a checkbox (``symptoms___1`` … one column per option) becomes the crlm list of the ticked
  options (``1``/``Checked``, or the option's label); nothing ticked means unknown;
* yesno / truefalse fields read 1/0 and Yes/No/True/False;
* validation types are checked against the crlm field (a date needs ``date_*``/``datetime_*``,
  a number ``integer``/``number*``); ``date_dmy``/``date_mdy`` cells may be in the project's
  own order, ``number_comma_decimal`` cells may use a decimal comma, and the project's Text
  Validation Min/Max are checked on import besides crlm's own ranges;
* branching logic is not applied (crlm validates every value it is given): a note says so;
* ``<form>_complete``, ``<form>_timestamp``, ``redcap_survey_identifier`` and
  ``redcap_data_access_group`` are accepted and skipped.

**Writing.** :func:`data_dictionary_csv` writes every crlm field as a REDCap field (header
exactly as REDCap writes it), a REDCap project can be created from it: one instrument per
section, lists of records (lesions, operations, treatments) as instruments to be made repeating.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import json
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from crlm.domain.treatment import spelling_key
from crlm.registry.dictionary import (
    LEAVES,
    CellError,
    DataDictionary,
    Entry,
    _coding,
    cell_parser,
    field_annotation,
)
from crlm.registry.models import _base_type, constraint

#: The header of a REDCap Data Dictionary CSV, spelled exactly as REDCap writes it.
REDCAP_HEADER = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
    "Identifier?", "Branching Logic (Show field only if...)", "Required Field?",
    "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?",
    "Field Annotation",
)
#: The same columns as the API's metadata export names them (``content=metadata``).
METADATA_KEYS = (
    "field_name", "form_name", "section_header", "field_type", "field_label",
    "select_choices_or_calculations", "field_note", "text_validation_type_or_show_slider_number",
    "text_validation_min", "text_validation_max", "identifier", "branching_logic",
    "required_field", "custom_alignment", "question_number", "matrix_group_name",
    "matrix_ranking", "field_annotation",
)
_KEY_OF = dict(zip(REDCAP_HEADER, METADATA_KEYS, strict=True))
_REQUIRED = (*REDCAP_HEADER[:2], REDCAP_HEADER[3])

_TAG = re.compile(r"@CRLM=([A-Za-z0-9_.\[\]]+)")
_CHOICES_TAG = re.compile(r"@CRLM-CHOICES=(\S+)")
#: Choice labels that mean the value is not known (read as unknown, never as a value).
UNKNOWN_LABELS = frozenset(spelling_key(t) for t in (
    "unknown", "not known", "missing", "not done", "not tested", "not available", "n/a", "na",
    "not applicable", "unk"))
_CHECKED = frozenset({"1", "checked"})
_UNCHECKED = frozenset({"0", "unchecked"})
_DATE_TYPES = ("date_", "datetime_")
_NUMBER_TYPES = ("integer", "number")
#: Field types that hold no value crlm could read.
_NO_DATA = frozenset({"descriptive", "file", "signature"})


@dataclass(frozen=True)
class RedcapField:
    """One row of a REDCap Data Dictionary (the metadata keys, as text)."""

    line: int
    values: dict[str, str]

    def __getattr__(self, key: str) -> str:
        if key in METADATA_KEYS:
            return self.values.get(key, "") or ""
        raise AttributeError(key)

    @property
    def validation(self) -> str:
        return self.text_validation_type_or_show_slider_number.strip().lower()

    @property
    def kind(self) -> str:
        return self.field_type.strip().lower()

    def choices(self) -> list[tuple[str, str]]:
        """``1, Male | 2, Female`` → [("1", "Male"), ("2", "Female")]."""
        out = []
        for part in self.select_choices_or_calculations.split("|"):
            if not part.strip():
                continue
            code, sep, label = part.partition(",")
            if not sep:
                raise ValueError(self.where(f"the choice {part.strip()!r} has no 'code, label'"))
            out.append((code.strip(), label.strip()))
        return out

    def where(self, text: str) -> str:
        return f"dictionary line {self.line} (field {self.field_name}): {text}"


# ---------------------------------------------------------------------------- reading


def is_redcap_dictionary(text: str) -> bool:
    """Whether the CSV text starts with a REDCap Data Dictionary header."""
    first = next(csv.reader(io.StringIO(text.removeprefix("\ufeff"))), [])
    return bool(first) and first[0].strip() == REDCAP_HEADER[0]


def read_dictionary(text: str) -> list[RedcapField]:
    """The fields of a REDCap Data Dictionary CSV (header as REDCap writes it)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    unknown = [h for h in header if h not in _KEY_OF]
    if unknown:
        raise ValueError(f"not a REDCap Data Dictionary column: {', '.join(map(repr, unknown))} "
                         f"(REDCap writes {', '.join(map(repr, REDCAP_HEADER))})")
    missing = [h for h in _REQUIRED if h not in header]
    if missing:
        raise ValueError(f"the REDCap Data Dictionary lacks the column(s) {', '.join(missing)}")
    keys = [_KEY_OF[h] for h in header]
    return [RedcapField(line, dict(zip(keys, row, strict=False)))
            for line, row in enumerate(reader, start=2) if any(c.strip() for c in row)]


def fields_from_metadata(metadata: Iterable[dict[str, Any]]) -> list[RedcapField]:
    """The fields of the API's metadata export (``content=metadata&format=json``)."""
    return [RedcapField(i, {k: str(v if v is not None else "") for k, v in row.items()})
            for i, row in enumerate(metadata, start=2)]  # lines of the same CSV


#: Section prefixes of crlm's REDCap names (REDCap warns about names over 26 characters).
_PREFIXES = {
    "primary": "prim", "liver": "liver", "labs": "lab", "molecular": "mol",
    "chemotherapy": "chemo", "volumetry": "vol", "operations": "op", "treatments": "tx",
    "outcome": "out", "liver.lesions": "lesion",
}
#: Names that would be longer than 26 characters, shortened by hand.
_SHORT = {
    "primary.distance_from_anal_verge_cm": "prim_distance_av_cm",
    "primary.clinical_complete_response": "prim_clinical_cr",
    "primary.declines_chemotherapy_before_resection": "prim_declines_chemo_first",
    "liver.disease_free_interval_months": "liver_dfi_months",
    "liver.prior_two_stage_hepatectomy": "liver_prior_two_stage",
    "liver.intrahepatic_progression": "liver_ih_progression",
    "chemotherapy.prehepatectomy_cycles": "chemo_prehep_cycles",
    "volumetry.flr_volume_after_pve_ml": "vol_flr_after_pve_ml",
    "treatments[].tumour_size_change_percent": "tx_size_change_percent",
}
#: REDCap's advice: variable names of at most 26 characters.
MAX_NAME = 26


def redcap_name(path: str) -> str:
    """The REDCap variable name crlm gives a field (≤ 26 characters): ``primary.site`` →
    ``prim_site``, ``liver.lesions[].segment`` → ``lesion_segment``; the id is ``record_id``."""
    if path == "id":
        return "record_id"
    if path in _SHORT:
        return _SHORT[path]
    head, _, leaf = path.replace("[]", "").rpartition(".")
    return (_PREFIXES.get(head, head) + "_" if head else "") + leaf


def _record_lists() -> dict[str, type[BaseModel]]:
    """List-of-records fields (``liver.lesions``) → their item model."""
    out = {}
    for path, annotation in LEAVES.items():
        t = _base_type(annotation)
        if typing.get_origin(t) is list:
            item = _base_type(typing.get_args(t)[0])
            if isinstance(item, type) and issubclass(item, BaseModel):
                out[path] = item
    return out


RECORD_LISTS = _record_lists()


def crlm_paths() -> list[str]:
    """Every field a REDCap field can map to: leaves, and the items of lists of records."""
    out = []
    for path in LEAVES:
        out.append(path)
        if path in RECORD_LISTS:
            out += [f"{path}[].{leaf}" for leaf in RECORD_LISTS[path].model_fields]
    return out


#: REDCap name → crlm field: crlm's own names, and the full path with ``_`` for ``.``.
_BY_NAME = {p.replace("[]", "").replace(".", "_"): p for p in crlm_paths()} | {
    redcap_name(p): p for p in crlm_paths()}


def _item_annotation(path: str) -> tuple[Any, bool]:
    """(annotation of one value, whether the field is a list of such values)."""
    annotation = field_annotation(path)
    if "[]" in path:  # a required item field keeps its constraints in the FieldInfo
        head, _, leaf = path.partition("[].")
        info = RECORD_LISTS[head].model_fields[leaf]
        if info.metadata and typing.get_origin(annotation) is not typing.Annotated:
            annotation = typing.Annotated[annotation, *info.metadata]
    t = _base_type(annotation)
    if typing.get_origin(t) is list:
        return typing.get_args(t)[0], True
    return annotation, False


def _enum_of(annotation: Any) -> type[enum.Enum] | None:
    t = _base_type(annotation)
    return t if isinstance(t, type) and issubclass(t, enum.Enum) else None


def _value_label(value: str) -> str:
    from crlm.clinical.vocabulary import value_label

    return value_label(value)


def _choice_value(annotation: Any, code: str, label: str, explicit: dict[str, str]) -> Any:
    """The crlm value a REDCap choice stands for, ``None`` for unknown; ValueError if none."""
    if code in explicit:
        text = explicit[code]
        return None if spelling_key(text) in UNKNOWN_LABELS else cell_parser(annotation)(text)
    members = _enum_of(annotation)
    if members is not None:
        keys = {}
        for m in members:
            keys[spelling_key(m.value)] = m.value
            keys.setdefault(spelling_key(_value_label(m.value)), m.value)
        coding = _coding(annotation)
        for text in (code, label):
            if spelling_key(text) in keys:
                return keys[spelling_key(text)]
            if coding is not None:
                try:
                    return coding(text)
                except ValueError:
                    pass
    else:
        pattern = constraint(annotation, "pattern")
        for text in (code, label, label.strip().lower().replace(" ", "_")):
            try:
                value = cell_parser(annotation)(text)
            except CellError:
                continue
            if pattern is None or re.fullmatch(pattern, str(value)):
                return value
    if spelling_key(label) in UNKNOWN_LABELS or spelling_key(code) in UNKNOWN_LABELS:
        return None
    raise ValueError(f"the choice {code!r} ({label}) matches no crlm value; name one with "
                     f"@CRLM-CHOICES={code}:<value> in the Field Annotation")


def _explicit_choices(f: RedcapField) -> dict[str, str]:
    match = _CHOICES_TAG.search(f.field_annotation)
    if not match:
        return {}
    pairs = [p.partition(":") for p in match.group(1).split("|") if p]
    return {code.strip(): value.strip() for code, _, value in pairs}


def _choice_reader(f: RedcapField, annotation: Any) -> Callable[[str], Any]:
    """Reads a radio/dropdown cell: a raw code or a choice label."""
    explicit = _explicit_choices(f)
    by_code: dict[str, Any] = {}
    by_label: dict[str, Any] = {}
    for code, label in f.choices():
        try:
            value = _choice_value(annotation, code, label, explicit)
        except (ValueError, CellError) as exc:
            raise ValueError(f.where(str(exc))) from None
        by_code[code] = value
        by_label.setdefault(label.casefold(), value)
    shown = ", ".join(f"{c} ({lab})" for c, lab in f.choices())

    def read(text: str) -> Any:
        text = text.strip()
        if text in by_code:
            return by_code[text]
        if text.casefold() in by_label:
            return by_label[text.casefold()]
        raise CellError(f"{text!r} is not one of the choices {shown}")

    return read


#: (field, checkbox code) → the column REDCap exports it as (the API's ``exportFieldNames``).
ExportNames = dict[tuple[str, str], str]


def _checkbox_entries(f: RedcapField, path: str, annotation: Any,
                      export_names: ExportNames) -> list[Entry]:
    """One entry per checkbox option (column ``field___code``): ticked → that option's value."""
    explicit = _explicit_choices(f)
    entries = []
    for code, label in f.choices():
        try:
            value = _choice_value(annotation, code, label, explicit)
        except (ValueError, CellError) as exc:
            raise ValueError(f.where(str(exc))) from None

        def read(text: str, value: Any = value, label: str = label) -> Any:
            low = text.strip().casefold()
            if low in _CHECKED or low == label.casefold():
                return value
            if low in _UNCHECKED:
                return None
            raise CellError(f"{text.strip()!r} is not 1/0 (Checked/Unchecked) or the option's "
                            f"label {label!r}")

        column = export_names.get((f.field_name.strip(), code)) or checkbox_column(
            f.field_name, code)
        entries.append(Entry(column, path, read, collects=True))
        head, _, suffix = column.partition("___")
        if "_" in suffix and not export_names:  # some REDCap versions drop a code's "_"
            entries.append(Entry(f"{head}___{suffix.replace('_', '')}", path, read,
                                 collects=True))
    return entries


def checkbox_column(name: str, code: str) -> str:
    """REDCap's export column for one checkbox option: ``name___code`` (code lower-cased,
    other characters than letters, digits and ``_`` as ``_``)."""
    return f"{name}___" + re.sub(r"[^a-z0-9_]", "_", code.lower())


def _iso_date(text: str, order: str) -> str:
    """A REDCap date cell (YYYY-MM-DD, or in the validation type's own D-M-Y / M-D-Y order;
    a datetime keeps its date) as YYYY-MM-DD."""
    text = text.strip().split(" ")[0].split("T")[0]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text
    match = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", text)
    if match and order in {"dmy", "mdy"}:
        a, b, year = match.groups()
        day, month = (a, b) if order == "dmy" else (b, a)
        try:
            return dt.date(int(year), int(month), int(day)).isoformat()
        except ValueError:
            pass
    shown = {"dmy": "DD-MM-YYYY or ", "mdy": "MM-DD-YYYY or "}.get(order, "")
    raise CellError(f"{text!r} is not a date ({shown}YYYY-MM-DD)")


def _bounds(f: RedcapField) -> tuple[float | None, float | None]:
    out = []
    for text in (f.text_validation_min, f.text_validation_max):
        try:
            out.append(float(text) if text.strip() else None)
        except ValueError:
            out.append(None)  # a date or "today": crlm's own checks apply
    return out[0], out[1]


def _text_reader(f: RedcapField, path: str, annotation: Any) -> Callable[[str], Any] | None:
    """A reader for a text/notes/calc/slider field, after checking its validation type."""
    t = _base_type(annotation)
    validation = f.validation if f.kind == "text" else ""
    is_date = isinstance(t, type) and issubclass(t, dt.date)
    is_number = isinstance(t, type) and issubclass(t, int | float) and not issubclass(t, bool)
    if validation.startswith(_DATE_TYPES) and not is_date:
        raise ValueError(f.where(f"validation {validation} is a date but the crlm field "
                                 f"{path} is not"))
    if validation.startswith(_NUMBER_TYPES) and not is_number:
        raise ValueError(f.where(f"validation {validation} is a number but the crlm field "
                                 f"{path} is not"))
    if is_date and validation and not validation.startswith(_DATE_TYPES):
        raise ValueError(f.where(f"the crlm field {path} is a date but the validation is "
                                 f"{validation}"))
    base = cell_parser(annotation)
    if is_date:
        order = validation.rsplit("_", 1)[-1] if validation else "ymd"
        return lambda text: base(_iso_date(text, order))
    if not is_number:
        return None
    low, high = _bounds(f)
    comma = validation == "number_comma_decimal" or validation.endswith("_comma_decimal")

    def read(text: str) -> Any:
        value = base(text.replace(",", ".") if comma else text)
        if (low is not None and value < low) or (high is not None and value > high):
            raise CellError(f"{value:g} is outside the project's range {low:g}–{high:g}"
                            if low is not None and high is not None else
                            f"{value:g} is outside the project's range")
        return value

    return read


def _entries_of(f: RedcapField, path: str, export_names: ExportNames) -> list[Entry]:
    """The file columns of one mapped field, each with its reader."""
    annotation, is_list = _item_annotation(path)
    kind = f.kind
    if kind == "checkbox":
        if not is_list or _enum_of(annotation) is None:
            raise ValueError(f.where(f"a checkbox can only hold a crlm list of choices; {path} "
                                     "is not one"))
        return _checkbox_entries(f, path, annotation, export_names)
    if is_list and kind not in {"text", "notes"}:
        raise ValueError(f.where(f"the crlm field {path} is a list: use a checkbox field"))
    if kind in {"radio", "dropdown"}:
        return [Entry(f.field_name, path, _choice_reader(f, annotation))]
    if kind in {"yesno", "truefalse"}:
        if _base_type(annotation) is not bool:
            raise ValueError(f.where(f"a {kind} field can only hold a yes/no crlm field; {path} "
                                     "is not one"))
        return [Entry(f.field_name, path)]
    if kind in {"text", "notes", "calc", "slider", "sql"}:
        reader = None if is_list else _text_reader(f, path, annotation)
        return [Entry(f.field_name, path, reader)]
    raise ValueError(f.where(f"a field of type {kind!r} cannot hold {path}"))


def _target(f: RedcapField) -> str | None:
    """The crlm field a REDCap field maps to (annotation tag, else its name), or None."""
    match = _TAG.search(f.field_annotation)
    if match:
        path = match.group(1)
        try:
            field_annotation(path)
        except KeyError:
            raise ValueError(f.where(f"@CRLM={path} names no crlm field")) from None
        return path
    return _BY_NAME.get(f.field_name.strip())


#: The header labels of REDCap's own columns in a labels export.
SYSTEM_LABELS = (
    ("redcap_event_name", "Event Name"), ("redcap_repeat_instrument", "Repeat Instrument"),
    ("redcap_repeat_instance", "Repeat Instance"),
    ("redcap_data_access_group", "Data Access Group"),
    ("redcap_survey_identifier", "Survey Identifier"),
)


def header_label(text: str) -> str:
    """A field label as a labels export's header shows it (tags dropped, spaces collapsed)."""
    return " ".join(re.sub(r"<[^>]*>", "", text).split())


def export_labels(fields: list[RedcapField]) -> tuple[tuple[str, str], ...]:
    """(column, header label) of every column a labels export may have, in REDCap's order:
    record id, REDCap's columns, then form by form [Survey Timestamp], fields (a checkbox
    option is ``Label (choice=Option)``), ``Complete?``."""
    out = [(fields[0].field_name.strip(), header_label(fields[0].field_label)),
           *SYSTEM_LABELS]
    for form in dict.fromkeys(f.form_name.strip() for f in fields):
        out.append((f"{form}_timestamp", "Survey Timestamp"))
        for f in fields[1:]:
            if f.form_name.strip() != form or f.kind == "descriptive":
                continue
            label = header_label(f.field_label)
            if f.kind == "checkbox":
                out += [(checkbox_column(f.field_name.strip(), code),
                         f"{label} (choice={header_label(option)})")
                        for code, option in f.choices()]
            else:
                out.append((f.field_name.strip(), label))
        out.append((f"{form}_complete", "Complete?"))
    return tuple(out)


def names_from_labels(header: list[str], labels: tuple[tuple[str, str], ...]) -> list[str]:
    """The variable names behind a labels export's header, matched in REDCap's column order
    (labels repeat, e.g. ``Complete?``; columns left out of the export are passed over)."""
    names, at = [], 0
    for number, text in enumerate(header, start=1):
        wanted = header_label(text)
        while at < len(labels) and labels[at][1] != wanted:
            at += 1
        if at == len(labels):
            raise ValueError(f"column {number} of the labels export, {text!r}, is not a field "
                             "label of the REDCap project in its order: export the raw data "
                             "(variable names), or give the project's current Data Dictionary")
        names.append(labels[at][0])
        at += 1
    return names


def mapping_from_fields(fields: list[RedcapField], *, source: str = "REDCap",
                        export_names: ExportNames | None = None) -> DataDictionary:
    """A data dictionary from a REDCap project's fields (module docstring: the rules);
    ``export_names``: the checkbox columns as the API's ``exportFieldNames`` lists them."""
    export_names = export_names or {}
    if not fields:
        raise ValueError("the REDCap Data Dictionary has no field")
    record_id = fields[0].field_name.strip()
    entries = [Entry(record_id, "id")]
    forms = list(dict.fromkeys(f.form_name.strip() for f in fields if f.form_name.strip()))
    ignored = {f"{form}_{suffix}" for form in forms for suffix in ("complete", "timestamp")}
    skipped: list[str] = []
    branching: list[str] = []
    mapped: dict[str, str] = {}
    for f in fields[1:]:
        name = f.field_name.strip()
        path = None if f.kind in _NO_DATA else _target(f)
        if path is None or path == "id":
            if f.kind != "descriptive":
                skipped.append(name)
                ignored |= ({checkbox_column(name, c) for c, _ in f.choices()}
                            if f.kind == "checkbox" else {name})
            continue
        if path in mapped:
            raise ValueError(f.where(f"{path} is already mapped from {mapped[path]}"))
        mapped[path] = name
        entries += _entries_of(f, path, export_names)
        if f.branching_logic.strip():
            branching.append(name)
    notes = []
    if skipped:
        notes.append(f"{len(skipped)} {source} field(s) map to no crlm field and were skipped: "
                     + ", ".join(skipped[:20]) + (" …" if len(skipped) > 20 else ""))
    if branching:
        notes.append(f"branching logic was not applied ({len(branching)} field(s): "
                     + ", ".join(branching[:10]) + (" …" if len(branching) > 10 else "")
                     + "); crlm checks every value it is given")
    columns = [e.column for e in entries]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise ValueError(f"the REDCap fields give the column(s) {', '.join(twice)} twice")
    return DataDictionary(tuple(entries), record_id, frozenset(ignored) - set(columns),
                          tuple(notes), redcap=True, labels=export_labels(fields))


# ---------------------------------------------------------------------------- writing

#: Instrument (form) of each section; list-of-records items get their own (repeating) form.
FORMS = {
    "": "patient", "primary": "primary_tumour", "liver": "liver_metastases",
    "extrahepatic_disease": "liver_metastases", "liver.lesions": "liver_lesions",
    "labs": "laboratory", "molecular": "molecular_profile", "chemotherapy": "chemotherapy",
    "volumetry": "volumetry", "operations": "operations", "treatments": "treatments",
    "outcome": "outcome", "notes": "notes",
}
#: Instruments to enable as repeating (REDCap: Project Setup → Repeating instruments).
REPEATING_FORMS = tuple(FORMS[p] for p in RECORD_LISTS)


def _form_of(path: str) -> str:
    head = path.split("[]")[0]
    if head in FORMS:
        return FORMS[head]
    section = head.rpartition(".")[0]
    return FORMS.get(section, FORMS[""])


def _label(path: str) -> tuple[str, str]:
    """(field label, unit) from the vocabulary."""
    from crlm.clinical.vocabulary import FIELDS

    clean = path.replace("[]", "")
    if clean not in FIELDS and "[]" in path:  # an item's field: the timeline's label
        leaf = path.rpartition(".")[2]
        clean = next((p for p in (f"treatments.{leaf}",) if p in FIELDS), clean)
    label, unit = FIELDS.get(clean, (clean.rpartition(".")[2].replace("_", " "), None))
    return label[:1].upper() + label[1:], unit or ""


def _choices_text(members: Iterable[enum.Enum]) -> str:
    out = []
    for m in members:
        label = _value_label(m.value)
        out.append(f"{m.value}, {label[:1].upper() + label[1:]}")
    return " | ".join(out)


def _pattern_choices(annotation: Any) -> list[str] | None:
    """The values a ``^T(is|x|0)$``-style pattern allows, or None for another pattern."""
    pattern = constraint(annotation, "pattern")
    match = re.fullmatch(r"\^([A-Za-z]*)\(([A-Za-z0-9|]+)\)\$", pattern or "")
    if not match:
        return None
    return [match.group(1) + alt for alt in match.group(2).split("|")]


def _number(value: Any) -> str:
    return "" if value is None else f"{value:g}"


def _row(path: str) -> dict[str, str]:
    annotation, is_list = _item_annotation(path)
    label, unit = _label(path)
    t = _base_type(annotation)
    row = {k: "" for k in METADATA_KEYS}
    row.update(field_name=redcap_name(path), form_name=_form_of(path), field_label=label,
               field_note=unit, field_annotation=f"@CRLM={path}")
    members = _enum_of(annotation)
    if path == "id":
        row.update(field_type="text", field_label="Patient identifier", identifier="y")
    elif members is not None:
        row.update(field_type="checkbox" if is_list else ("radio" if len(members) <= 6
                                                            else "dropdown"),
                   select_choices_or_calculations=_choices_text(members))
    elif t is bool:
        row.update(field_type="yesno")
    elif isinstance(t, type) and issubclass(t, dt.date):
        row.update(field_type="text", text_validation_type_or_show_slider_number="date_ymd")
    elif isinstance(t, type) and issubclass(t, int | float):
        row.update(field_type="text", text_validation_type_or_show_slider_number=(
            "integer" if issubclass(t, int) else "number"),
            text_validation_min=_number(constraint(annotation, "ge")),
            text_validation_max=_number(constraint(annotation, "le")))
    elif (values := _pattern_choices(annotation)) is not None:
        row.update(field_type="dropdown",
                   select_choices_or_calculations=" | ".join(f"{v}, {v}" for v in values))
    else:
        row.update(field_type="notes" if constraint(annotation, "pattern") is None else "text")
        if path == "notes":
            row["identifier"] = "y"
    return row


def dictionary_rows() -> list[dict[str, str]]:
    """crlm's fields as REDCap Data Dictionary rows (metadata keys), instruments contiguous."""
    paths = [p for p in crlm_paths() if p not in RECORD_LISTS]
    by_form: dict[str, list[dict[str, str]]] = {}
    for path in paths:
        row = _row(path)
        by_form.setdefault(row["form_name"], []).append(row)
    return [row for rows in by_form.values() for row in rows]


def data_dictionary_csv() -> str:
    """A REDCap Data Dictionary CSV of crlm's fields (the exact REDCap header)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")  # text from code only: "@CRLM" kept as is
    writer.writerow(REDCAP_HEADER)
    for row in dictionary_rows():
        writer.writerow([row[k] for k in METADATA_KEYS])
    return buf.getvalue()


# ---------------------------------------------------------------------------- the API

#: A REDCap API token: 32 hexadecimal characters.
_TOKEN = re.compile(r"[0-9A-Fa-f]{32}")
#: Seconds to connect to REDCap, and to wait for one answer (a large project's records).
API_TIMEOUT = (15, 600)


@dataclass(frozen=True)
class Pulled:
    """What the API returned: the project's title, its fields, the export column of each
    checkbox option and the records (flat CSV)."""

    title: str
    fields: list[RedcapField]
    export_names: ExportNames
    records_csv: bytes

    def mapping(self) -> DataDictionary:
        """The data dictionary of the pulled project."""
        return mapping_from_fields(self.fields, export_names=self.export_names)


def check_api(url: str, token: str) -> None:
    """ValueError (saying why, never showing the token) for a URL or token REDCap refuses."""
    if not re.match(r"^https?://[^/]+", url) or not url.endswith("/api/"):
        raise ValueError(f"{url!r} is not a REDCap API address (https://…/api/)")
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"the token file does not hold a REDCap API token (32 hexadecimal "
                         f"characters; it holds {len(token)} characters)")


def pull(url: str, token: str, *, verify_ssl: bool | str = True) -> Pulled:
    """The project's metadata and every record through the REDCap API (PyCap): raw codes,
    flat rows, with the data access group and survey fields."""
    check_api(url, token)
    try:
        from redcap import Project, RedcapError
    except ImportError:  # pragma: no cover - the extra is not installed
        raise ValueError("pulling from REDCap needs PyCap: pip install 'crlm[redcap]'") from None
    import requests

    project = Project(url, token, verify_ssl=verify_ssl, timeout=API_TIMEOUT)
    try:
        info = project.export_project_info(format_type="json")
        metadata = project.export_metadata(format_type="json")
        names = project.export_field_names(format_type="json")
        records = project.export_records(
            format_type="csv", record_type="flat", raw_or_label="raw",
            raw_or_label_headers="raw", export_survey_fields=True,
            export_data_access_groups=True, export_checkbox_labels=False)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ValueError(f"REDCap at {url} cannot be reached ({type(exc).__name__})") from None
    except (requests.JSONDecodeError, ValueError) as exc:  # an answer that is not the API's
        raise ValueError(f"{url} did not answer as a REDCap API does "
                         f"({type(exc).__name__})") from None
    except RedcapError as exc:  # PyCap's name for requests' RequestException: REDCap's error
        raise ValueError(f"REDCap refused the request: {_api_error(exc)}") from None
    title = str(info.get("project_title", "")) if isinstance(info, dict) else ""
    export_names = {(str(n["original_field_name"]), str(n["choice_value"])):
                    str(n["export_field_name"]) for n in names if str(n.get("choice_value", ""))}
    return Pulled(title, fields_from_metadata(metadata), export_names,
                  str(records).encode("utf-8"))


def _api_error(exc: Exception) -> str:
    """REDCap's error message (``{"error": "…"}``) without anything else of the response."""
    content = exc.args[0] if exc.args else exc
    if isinstance(content, dict):
        return str(content.get("error", ""))[:300]
    text = str(content)
    try:
        doc = json.loads(text)
    except ValueError:
        return text[:300]
    return str(doc.get("error", text))[:300] if isinstance(doc, dict) else text[:300]


__all__ = ["METADATA_KEYS", "REDCAP_HEADER", "Pulled", "RedcapField",
           "checkbox_column", "data_dictionary_csv",
           "fields_from_metadata", "is_redcap_dictionary", "mapping_from_fields", "pull",
           "read_dictionary", "redcap_name"]
