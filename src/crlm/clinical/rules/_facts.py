"""Patient facts several rule modules read, each defined once (``None`` = unknown)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from crlm.clinical.rules.base import Findings
from crlm.domain import Patient
from crlm.domain.patient import Mutation, PrimaryProcedure, PrimarySite, Symptom, Timing

#: Rectal tumours at most this far from the anal verge count as low (complex) without a
#: planned procedure; above it they are upper rectal tumours (Maki 2023a, CLINICAL_SPEC §4).
UPPER_RECTUM_ABOVE_CM = 10.0

#: Rectal resections classified as high-risk (complex) by Maki 2023a (Shubert 2015).
COMPLEX_RECTAL_PROCEDURES = frozenset(
    {
        PrimaryProcedure.low_anterior_resection_with_diversion,
        PrimaryProcedure.abdominoperineal_resection,
    }
)


def fmt(value: float) -> str:
    """A number as the clinician wrote it: ``6`` not ``6.0``, ``10.1`` stays ``10.1``."""
    return f"{value:g}"


def is_synchronous_rectal(patient: Patient) -> bool | None:
    """Rectal primary with synchronous liver metastases; ``None`` when site or timing unknown."""
    site, timing = patient.primary.site, patient.liver.timing
    if site is not None and site != PrimarySite.rectum:
        return False
    if timing is not None and timing != Timing.synchronous:
        return False
    if site is None or timing is None:
        return None
    return True


def primary_in_place(patient: Patient, findings: Findings) -> bool | None:
    """The primary tumour is still in place: not resected by the timeline or the record;
    ``None`` when ``primary.resected`` is not recorded and the timeline holds no resection."""
    if findings.timeline.primary_resected or patient.primary.resected is True:
        return False
    if patient.primary.resected is False:
        return True
    return None


@dataclass(frozen=True)
class RectalComplexity:
    """Whether the planned rectal resection is complex (high-risk), and why."""

    complex: bool | None
    reason: str


def rectal_complexity(patient: Patient) -> RectalComplexity:
    """Complex rectal resection per Maki 2023a: LAR with diversion or APR planned; with no planned
    procedure, a tumour ≤ 10 cm from the anal verge. Unknown when neither is given."""
    proc = patient.primary.planned_procedure
    distance = patient.primary.distance_from_anal_verge_cm
    if proc is not None:
        if proc in COMPLEX_RECTAL_PROCEDURES:
            return RectalComplexity(True, f"{proc.value} planned → complex rectal resection")
        return RectalComplexity(False, f"{proc.value} planned → not a complex rectal resection")
    if distance is not None:
        if distance <= UPPER_RECTUM_ABOVE_CM:
            return RectalComplexity(
                True,
                f"no planned procedure; tumour {fmt(distance)} cm from the anal verge "
                f"(≤ {fmt(UPPER_RECTUM_ABOVE_CM)} cm) → complex rectal resection",
            )
        return RectalComplexity(
            False,
            f"no planned procedure; tumour {fmt(distance)} cm from the anal verge "
            f"(> {fmt(UPPER_RECTUM_ABOVE_CM)} cm) → not a complex rectal resection",
        )
    return RectalComplexity(
        None,
        "rectal resection complexity unknown (needs primary.planned_procedure or "
        "primary.distance_from_anal_verge_cm)",
    )


def has_symptom(patient: Patient, *symptoms: Symptom) -> bool | None:
    """Any of ``symptoms`` present; ``None`` when symptoms were not recorded."""
    recorded = patient.primary.symptoms
    if recorded is None:
        return None
    return any(s in recorded for s in symptoms)


def hepatectomy_text(patient: Patient, grade: str | None) -> str:
    """``grade III hepatectomy (right_hepatectomy)`` from the planned procedures."""
    procs = patient.liver.planned_procedures or []
    names = ", ".join(p.value for p in procs) if procs else "no planned procedure given"
    if grade is None:
        return f"hepatectomy complexity grade unknown ({names})"
    return f"grade {grade} hepatectomy ({names})"


def ras_text(patient: Patient) -> str:
    """RAS status with the two genes it comes from, e.g. ``RAS mutant (KRAS mutant, NRAS —)``."""
    m = patient.molecular
    status = m.ras.value if m.ras is not None else "unknown"
    kras = m.kras.value if m.kras is not None else "unknown"
    nras = m.nras.value if m.nras is not None else "unknown"
    return f"RAS {status} (KRAS {kras}, NRAS {nras})"


def is_mutant(value: Mutation | None) -> bool | None:
    """True/False for mutant/wild type; ``None`` when unknown."""
    if value is None or value == Mutation.unknown:
        return None
    return value == Mutation.mutant


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar month arithmetic; the day is clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


Criterion = dict[str, object]


def criterion(name: str, status: bool | None, value: str) -> Criterion:
    """One eligibility criterion as reported in ``details``: met / failed / unknown."""
    return {
        "criterion": name,
        "status": "unknown" if status is None else ("met" if status else "failed"),
        "value": value,
    }


def criteria_with(criteria: list[Criterion], status: str) -> str:
    """``name (value), …`` for the criteria with this status."""
    return ", ".join(f"{c['criterion']} ({c['value']})" for c in criteria if c["status"] == status)
