"""Export the registry: full (flat CSV via a data dictionary, JSON lines) or de-identified.

Two de-identification levels (docs/deidentification.md says what each removes and keeps):

- ``safe-harbor`` — HIPAA Safe Harbor (45 CFR 164.514(b)(2)) for the fields crlm holds: the id
  becomes a keyed pseudonym, every date keeps its year only (and loses the year too when the
  patient was over 89 on that day), ages are whole years with everything over 89 reported as
  ``90+``, free text is dropped.
- ``limited`` — a *limited data set* (45 CFR 164.514(e)), **not** Safe Harbor: keyed pseudonym,
  every date shifted by one per-patient offset (intervals within a patient are kept), ages over
  89 as ``90+``, free text dropped. It may be disclosed only under a data use agreement.

The pseudonym and the date offset are HMAC-SHA256 values keyed by a project secret that never
leaves the data steward (``--secret-file`` or ``CRLM_DEID_SECRET``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy.orm import Session

from crlm.domain import Patient
from crlm.registry import audit
from crlm.registry.deid_level import DeidLevel
from crlm.registry.dictionary import DataDictionary, format_cell
from crlm.registry.models import _base_type, constraint
from crlm.registry.repository import CHUNK, PatientRecord, all_patient_ids, get_records

MAX_SHIFT_DAYS = 365
#: Safe Harbor: ages over 89 (and the dates that would reveal them) are not disclosed.
AGE_TOP_CODE = 89
TOP_CODED_AGE = "90+"
DAYS_PER_YEAR = 365.25


def _free_text_fields(model: type[BaseModel], prefix: str = "") -> frozenset[str]:
    """Paths of the text fields with no pattern: free text, never part of a de-identified export."""
    out: set[str] = set()
    for name, info in model.model_fields.items():
        t = _base_type(info.annotation)
        if typing.get_origin(t) is list:
            t = _base_type(typing.get_args(t)[0])
        if isinstance(t, type) and issubclass(t, BaseModel):
            out |= _free_text_fields(t, f"{prefix}{name}.")
        elif t is str and name != "id" and constraint(info.annotation, "pattern") is None and \
                not any(getattr(m, "pattern", None) for m in info.metadata):
            out.add(prefix + name)
    return frozenset(out)


#: Free-text fields of the patient model (``notes``): dropped at every de-identification level.
FREE_TEXT_FIELDS = _free_text_fields(Patient)


def iter_records(
    session: Session, *, actor: str, centre: str | None = None, purpose: str = "export"
) -> Iterator[PatientRecord]:
    """Every stored patient (each read audited), plus one export event."""
    ids = all_patient_ids(session, centre=centre)
    audit.record(session, actor=actor, action="export", entity="registry", entity_id=None,
                 detail=f"{purpose}: {len(ids)} patients; centre={centre}")
    for i in range(0, len(ids), CHUNK):
        yield from get_records(session, ids[i:i + CHUNK], actor=actor, detail=purpose)


def aggregate_records(
    session: Session, *, actor: str, centre: str | None = None, purpose: str = "aggregate view"
) -> list[PatientRecord]:
    """Every stored patient of ``centre`` (or all) for an aggregate view: ONE audit event
    (action ``aggregate``) whose detail starts with the number of records it covered."""
    from crlm.registry.repository import load_unaudited

    records = load_unaudited(session, all_patient_ids(session, centre=centre))
    audit.record(session, actor=actor, action="aggregate", entity="cohort", entity_id=None,
                 detail=f"{len(records)} records; {purpose}; centre={centre or 'all'}")
    return records


def aggregate_frame(
    session: Session, columns: list[str], *, actor: str, centre: str | None = None,
    purpose: str = "aggregate view",
) -> Any:
    """``columns`` of the analysis table for every patient of ``centre`` (or all), as a pandas
    DataFrame in registry id order, for an aggregate view: ONE audit event (action
    ``aggregate``) whose detail starts with the number of records it covered."""
    from crlm.registry.analysis import read_frame

    frame = read_frame(session, columns, centre)
    record_aggregate(session, len(frame), actor=actor, centre=centre, purpose=purpose)
    return frame


def record_aggregate(session: Session, n_records: int, *, actor: str, centre: str | None,
                     purpose: str) -> None:
    """The ONE ``aggregate`` audit event of an aggregate view of ``n_records`` patients."""
    audit.record(session, actor=actor, action="aggregate", entity="cohort", entity_id=None,
                 detail=f"{n_records} records; {purpose}; centre={centre or 'all'}")


def _get(doc: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)  # type: ignore[assignment]
    return doc


def flat_row(patient: Patient, dictionary: DataDictionary | None = None) -> dict[str, str]:
    """One patient as one row of text cells (crlm's flat format unless a dictionary is given)."""
    dictionary = dictionary or DataDictionary.crlm_export()
    doc = patient.model_dump(mode="json")
    return {e.column: format_cell(_get(doc, e.field)) for e in dictionary.entries
            if "[]" not in e.field}


# ---------------------------------------------------------------------------- de-identify


def _digest(secret: bytes, *parts: str) -> bytes:
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).digest()


def pseudonym(secret: bytes, centre: str, external_id: str) -> str:
    """A stable keyed pseudonym for a patient (not reversible without the secret)."""
    return "D" + _digest(secret, "id", centre, external_id).hex()[:16]


def date_shift_days(secret: bytes, centre: str, external_id: str) -> int:
    """The per-patient date offset in days, in [-365, 365] and never 0."""
    n = int.from_bytes(_digest(secret, "shift", centre, external_id)[:4], "big")
    magnitude = 1 + n % MAX_SHIFT_DAYS  # 1..365
    return magnitude if (n >> 16) & 1 else -magnitude


def _map_dates(value: Any, change: typing.Callable[[dt.date], Any]) -> Any:
    """``value`` with every date replaced by ``change(date)``; a None result removes the key."""
    if isinstance(value, dict):
        out = {k: _map_dates(v, change) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None}
    if isinstance(value, list):
        return [_map_dates(v, change) for v in value]
    if isinstance(value, dt.date):
        return change(value)
    return value


def _all_dates(value: Any) -> list[dt.date]:
    found: list[dt.date] = []
    _map_dates(value, lambda d: found.append(d))
    return found


def _age_reference(patient: Patient, doc: dict[str, Any]) -> dt.date | None:
    """The day ``age_years`` refers to: the assessment date, else (conservatively, since later
    days then imply greater ages) the earliest date in the record."""
    if patient.assessment_date is not None:
        return patient.assessment_date
    dates = _all_dates(doc)
    return min(dates) if dates else None


def _safe_harbor_year(patient: Patient, reference: dt.date | None) -> typing.Callable[
        [dt.date], int | None]:
    """date → its year, or None when the patient was (or may have been) over 89 that day."""
    age = patient.age_years

    def year(day: dt.date) -> int | None:
        if age is not None and reference is not None and (
                age + (day - reference).days / DAYS_PER_YEAR > AGE_TOP_CODE):
            return None
        return day.year
    return year


def _age(age: float | None, level: DeidLevel) -> float | int | str | None:
    if age is None:
        return None
    if age > AGE_TOP_CODE:
        return TOP_CODED_AGE
    return math.floor(age) if level == DeidLevel.safe_harbor else age


def deidentify(record: PatientRecord, secret: bytes,
               level: DeidLevel = DeidLevel.safe_harbor) -> dict[str, Any]:
    """A de-identified patient document (JSON-ready) at ``level``; free text never included."""
    patient = record.patient
    doc = patient.model_dump(mode="python", exclude_none=True)
    for path in FREE_TEXT_FIELDS:
        *parents, leaf = path.split(".")
        holder = _get(doc, ".".join(parents)) if parents else doc
        if isinstance(holder, dict):
            holder.pop(leaf, None)
    if level == DeidLevel.safe_harbor:
        doc = _map_dates(doc, _safe_harbor_year(patient, _age_reference(patient, doc)))
    else:
        days = dt.timedelta(days=date_shift_days(secret, record.centre, record.external_id))
        doc = _map_dates(doc, lambda d: (d + days).isoformat())
    doc["id"] = pseudonym(secret, record.centre, record.external_id)
    if patient.age_years is not None:
        doc["age_years"] = _age(patient.age_years, level)
    return to_jsonable_python(doc)  # type: ignore[no-any-return]


def deidentified_columns() -> list[str]:
    """The flat-format columns of a de-identified CSV (free-text columns left out)."""
    return [e.column for e in DataDictionary.crlm_export().entries
            if e.field not in FREE_TEXT_FIELDS]


def deidentified_flat_row(record: PatientRecord, secret: bytes,
                          level: DeidLevel = DeidLevel.safe_harbor) -> dict[str, str]:
    """One de-identified patient as a row of crlm's flat format."""
    doc = deidentify(record, secret, level)
    fields = {e.column: e.field for e in DataDictionary.crlm_export().entries}
    return {column: format_cell(_get(doc, fields[column])) for column in deidentified_columns()}


def deidentify_analysis_row(row: dict[str, Any], record: PatientRecord, secret: bytes,
                            level: DeidLevel) -> dict[str, Any]:
    """An analysis-dataset row at ``level``: pseudonym, ages as exported, year of diagnosis
    suppressed (safe-harbor, patient over 89 then) or taken from the shifted date (limited).
    Intervals in days are kept: they are not dates."""
    patient = record.patient
    out = dict(row)
    out["id"] = pseudonym(secret, record.centre, record.external_id)
    out["age_years"] = _age(patient.age_years, level)
    diagnosis = patient.primary.date_of_diagnosis
    if diagnosis is not None:
        if level == DeidLevel.safe_harbor:
            reference = _age_reference(patient, patient.model_dump(mode="python"))
            out["year_of_diagnosis"] = _safe_harbor_year(patient, reference)(diagnosis)
        else:
            days = date_shift_days(secret, record.centre, record.external_id)
            out["year_of_diagnosis"] = (diagnosis + dt.timedelta(days=days)).year
    return out


def jsonl_line(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True)


def write_records(fh: typing.TextIO, records: Iterator[PatientRecord], fmt: str, *,
                  secret: bytes | None = None, level: DeidLevel | None = None) -> int:
    """Write records to ``fh`` as they come (``fmt``: ``jsonl`` or ``csv``, crlm's flat
    format), de-identified at ``level`` with ``secret`` when both are given; how many.

    Nothing is held but the record being written: memory stays flat whatever the size.
    """
    from crlm.safe_output import safe_dict_writer

    deid = secret is not None and level is not None
    n = 0
    if fmt == "jsonl":
        for rec in records:
            doc = (deidentify(rec, secret, level) if deid  # type: ignore[arg-type]
                   else rec.patient.model_dump(mode="json", exclude_none=True))
            fh.write(jsonl_line(doc) + "\n")
            n += 1
        return n
    dictionary = DataDictionary.crlm_export()
    columns = deidentified_columns() if deid else [e.column for e in dictionary.entries]
    writer = safe_dict_writer(fh, columns)
    writer.writeheader()
    for rec in records:
        writer.writerow(deidentified_flat_row(rec, secret, level) if deid  # type: ignore[arg-type]
                        else flat_row(rec.patient, dictionary))
        n += 1
    return n
