"""The analysis dataset: one row per patient with the variables the source papers analyse.

Survival is measured from a chosen origin (``last_hepatectomy`` as Maki 2023a, ``first_hepatectomy``
as Shimizu 2024, or ``diagnosis``) to death (event) or last follow-up (censored), in days. RFS ends
at recurrence or death. The treatment approach for synchronous disease is read from the
operation dates: hepatectomy before primary resection = reverse, after = classic, same day =
combined. A value that cannot be derived stays missing (NaN/None), never defaulted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from crlm.domain import Patient
from crlm.registry.export import DeidLevel, deidentify_analysis_row, iter_records
from crlm.stats.defaults import SurvivalOrigin

Origin = SurvivalOrigin


def _dates(patient: Patient, kind: str) -> list[dt.date]:
    return sorted(op.date for op in patient.operations or [] if op.kind == kind and op.date)


def approach(patient: Patient) -> str | None:
    """reverse / classic / combined from the first hepatectomy and primary resection dates."""
    liver, primary = _dates(patient, "hepatectomy"), _dates(patient, "primary_resection")
    if not liver or not primary:
        return None
    if liver[0] < primary[0]:
        return "reverse"
    if liver[0] > primary[0]:
        return "classic"
    return "combined"


def origin_date(patient: Patient, origin: Origin) -> dt.date | None:
    """The time origin of survival for this patient (None when it cannot be dated)."""
    if origin == "diagnosis":
        return patient.primary.date_of_diagnosis
    liver = _dates(patient, "hepatectomy")
    if not liver:
        return None
    return liver[-1] if origin == "last_hepatectomy" else liver[0]


def survival_times(patient: Patient, origin: Origin) -> dict[str, Any]:
    """os_days/os_event and rfs_days/rfs_event from ``origin`` (None when not derivable)."""
    start = origin_date(patient, origin)
    outcome = patient.outcome
    end = outcome.date_of_death or outcome.date_last_follow_up
    result: dict[str, Any] = {"os_days": None, "os_event": None, "rfs_days": None,
                              "rfs_event": None}
    if start is None or end is None or outcome.vital_status is None:
        return result
    dead = outcome.vital_status.value == "dead"
    result["os_days"] = (end - start).days
    result["os_event"] = int(dead)
    if outcome.date_of_recurrence is not None:
        result["rfs_days"] = (outcome.date_of_recurrence - start).days
        result["rfs_event"] = 1
    else:
        result["rfs_days"] = (end - start).days
        result["rfs_event"] = int(dead)
    return result


def _grade(patient: Patient) -> str | None:
    """Kawaguchi grade of the performed hepatectomies, else of the planned procedures."""
    from crlm.clinical.classify import hepatectomy_complexity

    done = [x for op in patient.operations or [] if op.kind == "hepatectomy"
            for x in op.procedures or []]
    result = hepatectomy_complexity(done or patient.liver.planned_procedures or [])
    return result.grade if result else None


def analysis_row(patient: Patient, origin: Origin = "last_hepatectomy") -> dict[str, Any]:
    """The analysis variables of one patient."""
    p = patient
    m = p.molecular
    ras = m.ras
    diagnosis = p.primary.date_of_diagnosis
    return {
        "id": p.id,
        "age_years": p.age_years,
        "sex": p.sex.value if p.sex else None,
        "year_of_diagnosis": diagnosis.year if diagnosis else None,
        "primary_site": p.primary.site.value if p.primary.site else None,
        "distance_from_anal_verge_cm": p.primary.distance_from_anal_verge_cm,
        "node_positive": p.primary.is_node_positive,
        "timing": p.liver.timing.value if p.liver.timing else None,
        "approach": approach(p),
        "number_of_metastases": p.liver.number_of_metastases,
        "largest_diameter_cm": p.liver.largest_cm,
        "bilobar": p.liver.bilobar,
        "extrahepatic_disease": p.extrahepatic_disease,
        "cea_ng_ml": p.labs.cea_ng_ml,
        "kras": m.kras.value if m.kras else None,
        "nras": m.nras.value if m.nras else None,
        "ras": ras.value if ras else None,
        "braf": m.braf.value if m.braf else None,
        "tp53": m.tp53.value if m.tp53 else None,
        "prehepatectomy_cycles": p.chemotherapy.prehepatectomy_cycles,
        "anti_vegf": p.chemotherapy.anti_vegf,
        "planned_procedures": ";".join(x.value for x in p.liver.planned_procedures or []) or None,
        "hepatectomy_grade": _grade(p),
        "pve": any(op.kind == "pve" for op in p.operations or []) if p.operations is not None
        else None,
        **survival_times(p, origin),
    }


#: analysis columns holding whole numbers: nullable integers, so that 3 stays "3" (not "3.0")
#: in every chunk of a streamed export, whether or not that chunk has a missing value
INTEGER_COLUMNS = ("year_of_diagnosis", "number_of_metastases", "prehepatectomy_cycles",
                   "os_days", "os_event", "rfs_days", "rfs_event")
CHUNK_ROWS = 2000  # rows per frame of :func:`iter_analysis_frames`


def _analysis_frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for name in INTEGER_COLUMNS:
        frame[name] = pd.to_numeric(frame[name]).astype("Int64")
    return frame


def iter_analysis_frames(
    session: Session, origin: Origin = "last_hepatectomy", *, actor: str = "analysis",
    centre: str | None = None, secret: bytes | None = None, level: DeidLevel | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """The analysis dataset in frames of ``chunk_rows`` patients (at least one frame, maybe
    empty): memory stays flat whatever the registry's size. Reads are audited as an export
    for analysis; de-identified at ``level`` with ``secret`` when both are given."""
    if (secret is None) != (level is None):
        raise ValueError("de-identification needs both a secret and a level")
    purpose = f"analysis dataset ({level.value})" if level else "analysis dataset"
    columns = list(analysis_row(Patient(), origin))
    rows: list[dict[str, Any]] = []
    sent = False
    for rec in iter_records(session, actor=actor, centre=centre, purpose=purpose):
        row = analysis_row(rec.patient, origin)
        if secret is not None and level is not None:
            row = deidentify_analysis_row(row, rec, secret, level)
        rows.append(row)
        if len(rows) == chunk_rows:
            yield _analysis_frame(rows, columns)
            rows, sent = [], True
    if rows or not sent:
        yield _analysis_frame(rows, columns)


def analysis_dataset(
    session: Session, origin: Origin = "last_hepatectomy", *, actor: str = "analysis",
    centre: str | None = None, secret: bytes | None = None, level: DeidLevel | None = None,
) -> pd.DataFrame:
    """One row per stored patient (reads are audited as an export for analysis); de-identified
    at ``level`` with ``secret`` when both are given."""
    frames = list(iter_analysis_frames(session, origin, actor=actor, centre=centre,
                                       secret=secret, level=level))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
