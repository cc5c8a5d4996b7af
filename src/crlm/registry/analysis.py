"""The analysis table: one row per patient with the variables the aggregate views read.

Aggregate views (cohort Table 1, Kaplan–Meier, score validation, competing risks) need a dozen
columns of every patient, not whole patients: building 100,000 :class:`crlm.domain.Patient`
objects per view took seconds. So every write of :mod:`crlm.registry.repository` (create,
update, delete, import, undo) also writes the patient's row of ``patient_analysis`` in the same
transaction, computed by the same functions as the analysis dataset
(:func:`crlm.registry.dataset.analysis_row`, :func:`crlm.registry.dataset.survival_times`).

A row records the patient version it was computed from. :func:`refresh` recomputes the rows
that are missing or behind their patient (a database filled before this table existed, a write
by another tool); :func:`read_frame` refreshes first, so a view is never computed from a stale
row, and ``crlm db rebuild-analysis`` recomputes every row (after a change of the derivations).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crlm.domain import Patient
from crlm.registry.db import cyclic_gc_paused
from crlm.registry.models import SURVIVAL_ORIGINS, patient_analysis, patients

if TYPE_CHECKING:
    import pandas as pd

#: the variables of a row (all columns but the key and the version), in table order
VARIABLES = [c.name for c in patient_analysis.c if c.name not in {"patient_id", "version"}]
#: the columns of :func:`crlm.registry.dataset.analysis_row` (origin: diagnosis) but its id
ROW_VARIABLES = VARIABLES[: VARIABLES.index("rfs_event") + 1]
#: the column of each prognostic score is this prefix + the score's name (score_fong_crs …)
SCORE_PREFIX = "score_"
REFRESH_CHUNK = 500  # patients recomputed per batch


def survival_column(name: str, origin: str) -> str:
    """The column of ``os_days``/``os_event``/``rfs_days``/``rfs_event`` from ``origin``."""
    if origin not in SURVIVAL_ORIGINS:
        raise ValueError(f"unknown survival origin {origin!r}")
    return name if origin == "diagnosis" else f"{name}_{origin}"


def analysis_values(patient: Patient) -> dict[str, Any]:
    """The analysis-table variables of one patient (pure: no database)."""
    from crlm.registry.dataset import analysis_row, survival_times
    from crlm.reports.score_inputs import score_values

    row = analysis_row(patient, "diagnosis")
    del row["id"]
    for origin in SURVIVAL_ORIGINS[1:]:
        for name, value in survival_times(patient, origin).items():  # type: ignore[arg-type]
            row[survival_column(name, origin)] = value
    row["disease_free_interval_months"] = patient.liver.disease_free_interval_months
    row["metastasis_count"] = patient.liver.metastasis_count
    row["recurred"] = patient.outcome.date_of_recurrence is not None
    for name, value in score_values(row).items():
        row[f"{SCORE_PREFIX}{name}"] = value
    return row


def analysis_columns(batch: Sequence[Patient], ids: Sequence[int], versions: Sequence[int]
                     ) -> dict[str, list[Any]]:
    """Rows of ``batch`` column by column (patient id and version first)."""
    rows = [analysis_values(p) for p in batch]
    return {"patient_id": list(ids), "version": list(versions),
            **{name: [r[name] for r in rows] for name in VARIABLES}}


def write_rows(session: Session, batch: Sequence[Patient], ids: Sequence[int],
               versions: Sequence[int], *, replace: bool) -> None:
    """Write the rows of patients ``ids`` (``replace``: their old rows are deleted first)."""
    from crlm.registry.repository import CHUNK, insert_rows

    ids = list(ids)
    if replace:
        for i in range(0, len(ids), CHUNK):
            session.execute(sa.delete(patient_analysis)
                            .where(patient_analysis.c.patient_id.in_(ids[i:i + CHUNK])))
    if ids:
        insert_rows(session, patient_analysis, analysis_columns(batch, ids, versions))


def stale_ids(session: Session, centre: str | None = None) -> list[int]:
    """Patients whose row is missing or was computed from another version."""
    a = patient_analysis
    query = (sa.select(patients.c.id)
             .select_from(patients.outerjoin(a, a.c.patient_id == patients.c.id))
             .where(sa.or_(a.c.patient_id.is_(None), a.c.version != patients.c.version))
             .order_by(patients.c.id))
    if centre is not None:
        query = query.where(patients.c.centre == centre)
    return list(session.scalars(query))


def refresh(session: Session, patient_ids: Sequence[int] | None = None,
            centre: str | None = None) -> int:
    """Recompute the rows of ``patient_ids`` (default: the stale ones); how many were written.

    Not audited: nothing leaves the database.
    """
    from crlm.registry.repository import _load_many

    ids = stale_ids(session, centre) if patient_ids is None else list(patient_ids)
    for i in range(0, len(ids), REFRESH_CHUNK):
        found = _load_many(session, ids[i:i + REFRESH_CHUNK])
        chunk = sorted(found)
        write_rows(session, [found[pid][1] for pid in chunk], chunk,
                   [found[pid][0].version for pid in chunk], replace=True)
    return len(ids)


def rebuild(session: Session) -> int:
    """Recompute every row (``crlm db rebuild-analysis``); how many patients."""
    session.execute(sa.delete(patient_analysis))
    return refresh(session, list(session.scalars(sa.select(patients.c.id).order_by(
        patients.c.id))))


def read_frame(session: Session, columns: Sequence[str], centre: str | None = None
               ) -> pd.DataFrame:
    """``columns`` of every patient of ``centre`` (or all), in registry id order.

    Stale rows are recomputed first (:func:`refresh`). Not audited: the caller writes the one
    aggregate event (:func:`crlm.registry.export.aggregate_frame`).
    """
    import numpy as np
    import pandas as pd

    unknown = [c for c in columns if c not in VARIABLES]
    if unknown:
        raise ValueError(f"not an analysis variable: {unknown[0]}")
    refresh(session, centre=centre)
    a = patient_analysis
    query = sa.select(*(a.c[c] for c in columns)).order_by(a.c.patient_id)
    if centre is not None:
        query = query.join(patients, patients.c.id == a.c.patient_id).where(
            patients.c.centre == centre)
    with cyclic_gc_paused():
        rows = _fetch_all(session, query)
        # the rows' values column by column, in one C-level pass (a record of objects per row)
        cells = np.fromiter(rows, dtype=np.dtype([(f"c{i}", object) for i in range(len(columns))]),
                            count=len(rows))
        del rows
        return pd.DataFrame({name: _array(cells[f"c{i}"], a.c[name].type)
                             for i, name in enumerate(columns)}, columns=list(columns), copy=False)


#: integers up to this size are exact as floats (larger ones are converted from the objects)
_EXACT_IN_FLOAT = 2**53


def _array(values: Any, kind: sa.types.TypeEngine[Any]) -> Any:
    """One column (an object array of the driver's values) as numpy holds it: whole numbers
    as int64 (float with NaN when one is missing), decimals as float (NaN: missing), booleans
    as bool (objects True/False/None when one is missing; SQLite returns 0/1), text as objects
    (None: missing)."""
    import numpy as np

    if isinstance(kind, sa.Boolean | sa.Integer):
        missing = np.isnan(numbers := values.astype(float))
        if isinstance(kind, sa.Integer):
            if missing.any():
                return numbers
            if not numbers.size or np.abs(numbers).max() < _EXACT_IN_FLOAT:
                return numbers.astype(np.int64)
            return values.astype(np.int64)
        if missing.any():
            out = (numbers != 0).astype(object)
            out[missing] = None
            return out
        return numbers != 0
    if isinstance(kind, sa.Double):
        return values.astype(float)
    return values.copy()


def _fetch_all(session: Session, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of ``query`` as plain tuples, straight from the driver's cursor (in the
    session's transaction): no per-row result objects, which cost more than the query."""
    conn = session.connection()
    compiled = query.compile(dialect=conn.dialect)
    params: Any = compiled.params
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup or [])
    driver: Any = conn.connection.driver_connection
    # psycopg: values sent in binary (the same Python values, no text to parse)
    cursor = driver.cursor(**({"binary": True} if conn.dialect.driver == "psycopg" else {}))
    try:
        cursor.execute(compiled.string, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def frame_of(batch: Sequence[Patient], columns: Sequence[str] = tuple(VARIABLES)
             ) -> pd.DataFrame:
    """The cohort frame of patients held in memory (as :func:`read_frame` would return it)."""
    import pandas as pd

    rows = [analysis_values(p) for p in batch]
    return pd.DataFrame.from_records([tuple(r[c] for c in columns) for r in rows],
                                     columns=list(columns))
