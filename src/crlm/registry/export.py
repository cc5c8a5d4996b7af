"""Export the registry: full (flat CSV via a data dictionary, JSON lines) or de-identified.

De-identification follows HIPAA Safe Harbor for the fields crlm holds: the external id is
replaced by a keyed pseudonym, every date is shifted by a per-patient offset derived from a
secret (intervals within a patient are kept), and ages over 89 are reported as ``90+``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from crlm.domain import Patient
from crlm.registry import audit
from crlm.registry.dictionary import DataDictionary, format_cell
from crlm.registry.repository import CHUNK, PatientRecord, all_patient_ids, get_records

MAX_SHIFT_DAYS = 365
AGE_TOP_CODE = 89


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


def _shift_dates(value: Any, days: int) -> Any:
    if isinstance(value, dict):
        return {k: _shift_dates(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift_dates(v, days) for v in value]
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()
        except ValueError:
            return value
    return value


def deidentify(record: PatientRecord, secret: bytes) -> dict[str, Any]:
    """A de-identified patient document (JSON-ready): pseudonym, shifted dates, ages 90+."""
    days = date_shift_days(secret, record.centre, record.external_id)
    doc = record.patient.model_dump(mode="json", exclude_none=True)
    doc = _shift_dates(doc, days)
    doc["id"] = pseudonym(secret, record.centre, record.external_id)
    age = doc.get("age_years")
    if age is not None and age > AGE_TOP_CODE:
        doc["age_years"] = "90+"
    return doc


def deidentified_flat_row(record: PatientRecord, secret: bytes) -> dict[str, str]:
    """One de-identified patient as a row of crlm's flat format."""
    doc = deidentify(record, secret)
    return {
        e.column: format_cell(_get(doc, e.field))
        for e in DataDictionary.crlm_export().entries
    }


def jsonl_line(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True)
