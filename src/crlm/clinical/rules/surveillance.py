"""Surveillance after resection (Maki 2023b; NCCN intervals, RAS-stratified beyond 2 years):
exactly one of ``surveillance.standard`` / ``surveillance.intensive_beyond_2y`` per patient,
with a dated 5-year schedule of visits, CEA and CT; ctDNA as information."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from crlm.clinical.phase import Phase
from crlm.clinical.rules._facts import add_months, ras_text
from crlm.clinical.rules.base import Findings, Strength
from crlm.clinical.rules.registry import Item, rule
from crlm.clinical.vocabulary import value_label
from crlm.domain import Patient
from crlm.domain.patient import Mutation
from crlm.domain.treatment import TreatmentKind

TOPIC = "surveillance"

#: The schedule uses the shorter end of each published interval range.
FIRST_YEARS = 2
FIRST_INTERVAL_MONTHS = 3  # "every 3–6 months until 2 years"
LATER_INTERVAL_MONTHS_STANDARD = 6  # "every 6–12 months starting 2 years"
LATER_INTERVAL_MONTHS_INTENSIVE = 3  # RAS altered: keep 3–6-monthly beyond 2 years
TOTAL_MONTHS = 60
TESTS = ("clinical visit", "CEA", "CT chest/abdomen/pelvis")


def resection_date(patient: Patient, findings: Findings) -> dt.date | None:
    """The latest dated hepatectomy, ALPPS or ablation of the timeline (which includes the older
    ``operations`` input); ``None`` when none is dated."""
    dates = [e.date for e in findings.timeline.of(
        TreatmentKind.hepatectomy, TreatmentKind.alpps, TreatmentKind.ablation)
        if e.date is not None]
    return max(dates) if dates else None


def schedule_months(intensive_beyond_2y: bool) -> list[int]:
    """Months after resection at which visit, CEA and CT are due, up to 5 years."""
    first = list(range(FIRST_INTERVAL_MONTHS, FIRST_YEARS * 12 + 1, FIRST_INTERVAL_MONTHS))
    step = LATER_INTERVAL_MONTHS_INTENSIVE if intensive_beyond_2y else (
        LATER_INTERVAL_MONTHS_STANDARD)
    later = list(range(FIRST_YEARS * 12 + step, TOTAL_MONTHS + 1, step))
    return first + later


def surveillance_schedule(
    start: dt.date | None, intensive_beyond_2y: bool
) -> list[dict[str, object]]:
    """Each visit: month, due date (``None`` without a resection date), interval range, tests."""
    out: list[dict[str, object]] = []
    for month in schedule_months(intensive_beyond_2y):
        in_first = month <= FIRST_YEARS * 12
        rng = [3, 6] if in_first or intensive_beyond_2y else [6, 12]
        out.append({
            "month": month,
            "date": add_months(start, month).isoformat() if start is not None else None,
            "interval_months_range": rng,
            "tests": list(TESTS),
        })
    return out


@rule(
    topic=TOPIC,
    codes=["surveillance.standard", "surveillance.intensive_beyond_2y"],
    trigger=(
        "every patient: RAS mutant → 3–6-monthly CEA + CT for 5 years; otherwise 3–6-monthly "
        "for 2 years then 6–12-monthly to 5 years (RAS unknown is said to be unknown)"
    ),
    evidence=["maki2023_locoregional", "kawaguchi2020_surveillance"],
    phases=(Phase.surveillance, Phase.primary_pending),
    excludes={
        "surveillance.standard": ["surveillance.intensive_beyond_2y"],
        "surveillance.intensive_beyond_2y": ["surveillance.standard"],
    },
)
def surveillance_plan(patient: Patient, findings: Findings) -> Iterator[Item]:
    """One surveillance plan per patient, dated from the last hepatectomy when known."""
    ras = patient.molecular.ras
    intensive = ras == Mutation.mutant
    start = resection_date(patient, findings)
    visits = surveillance_schedule(start, intensive)
    anchor = (f"dated from the hepatectomy on {start.isoformat()}" if start is not None
              else "in months after resection: the date of the hepatectomy is not recorded")
    details: dict[str, object] = {
        "resection_date": start.isoformat() if start is not None else None,
        "visits": visits,
        "schedule_note": "due dates use the shorter end of each interval range",
    }
    missing: list[str] = []
    if start is None:
        missing.append("treatments.date")
    if ras is None:
        missing += ["molecular.kras", "molecular.nras"]
    if missing:
        details["missing"] = missing
    facts = ("~70 % of recurrences occur within 2 years; beyond 2 years only RAS alteration "
             "predicts recurrence (Kawaguchi 2020b, Maki 2023b)")
    if intensive:
        yield Item(
            code="surveillance.intensive_beyond_2y",
            recommendation=f"CEA and CT chest/abdomen/pelvis every 3–6 months for 5 years "
            f"({len(visits)} visits, {anchor}).",
            rationale=f"{ras_text(patient)} → keep 3–6-monthly surveillance beyond 2 years; "
            f"{facts}.",
            strength=Strength.moderate,
            details=details,
        )
        return
    ras_note = ("" if ras is not None else
                " RAS status unknown: if RAS proves mutant, keep 3–6-monthly after 2 years.")
    yield Item(
        code="surveillance.standard",
        recommendation=f"CEA and CT chest/abdomen/pelvis every 3–6 months for 2 years, then "
        f"every 6–12 months to 5 years ({len(visits)} visits, {anchor}).",
        rationale=f"{ras_text(patient)} → standard NCCN intervals; {facts}.{ras_note}",
        strength=Strength.moderate,
        details=details,
    )


@rule(
    topic=TOPIC,
    codes=["surveillance.ctdna_information"],
    trigger="every patient (information)",
    evidence=["maki2023_locoregional", "newhook2022_ctdna"],
    phases=(Phase.surveillance, Phase.primary_pending),
)
def ctdna_information(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Circulating tumour DNA: prognostic information, not yet a surveillance standard."""
    yield Item(
        code="surveillance.ctdna_information",
        recommendation="ctDNA before and after hepatectomy is prognostic and may guide "
        "surveillance within studies; it does not replace CEA and CT.",
        rationale="patients ctDNA-negative after surgery (even if positive before) had better "
        "survival (Newhook 2022); postoperative ctDNA-guided chemotherapy is under trial "
        "(NCT05062317) (Maki 2023b).",
        strength=Strength.information,
        kind="information",
    )


@rule(
    topic=TOPIC,
    codes=["surveillance.extrahepatic_recurrence"],
    trigger="recurrence after curative-intent liver treatment, outside the liver only",
    evidence=["ahpba2025", "shimizu2024"],
    phases=(Phase.extrahepatic_recurrence,),
)
def extrahepatic_recurrence(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Recurrence outside the liver only: the liver-directed advice does not apply."""
    recurrence = findings.timeline.last(TreatmentKind.recurrence)
    sites = [value_label(s) for s in (recurrence.recurrence_sites or [])] if (
        recurrence is not None) else []
    when = f" on {recurrence.date.isoformat()}" if recurrence and recurrence.date else ""
    yield Item(
        code="surveillance.extrahepatic_recurrence",
        recommendation="Recurrence outside the liver: restage, then decide at the MDT, with the "
        "specialty of the organ involved, between local treatment and systemic therapy; no "
        "liver-directed treatment is indicated by this recurrence.",
        rationale=(f"recurrence{when} in {', '.join(sites) or 'a site outside the liver'}, "
                   "none in the liver → the liver-directed recommendations crlm follows (AHPBA "
                   "guideline 2025) do not apply; the sources give no recommendation for "
                   "extrahepatic recurrence alone (Shimizu 2024 discusses hepatectomy as salvage "
                   "only when liver and lung are both involved)."),
        strength=Strength.information,
    )
