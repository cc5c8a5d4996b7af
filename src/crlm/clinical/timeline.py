"""The patient's treatment history, built once: dated events in order and the facts rules read.

``patient.treatments`` is the timeline as entered. The older inputs map onto it, so no stored
record breaks: ``operations`` (hepatectomy, primary resection, ablation, PVE) become events when
the timeline does not already hold one of the same kind on the same day, and the
``chemotherapy`` section becomes one preoperative systemic-therapy line when the timeline holds
none. Events dated after the assessment date are planned, not done, and are left out.

Chemotherapy exposure in weeks (the > 12-week threshold for a 30 % future liver remnant,
Shindoh 2013) is read in one published way everywhere: a recorded duration; else first to last
dose plus one cycle; else cycles × the regimen's standard cycle length (FOLFOX, FOLFIRI and
FOLFOXIRI every 14 days, CAPOX every 21 days). When none of these is known the duration stays
unknown and the missing field is named.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from crlm.domain import Patient
from crlm.domain.treatment import (
    ANTI_EGFR,
    ANTI_VEGF,
    Regimen,
    Response,
    TherapyIntent,
    TreatmentEvent,
    TreatmentKind,
)

#: Standard cycle length in weeks of the regimens whose schedule is fixed (q14d / q21d).
CYCLE_WEEKS: dict[Regimen, float] = {
    Regimen.folfox: 2.0,
    Regimen.folfiri: 2.0,
    Regimen.folfoxiri: 2.0,
    Regimen.capox: 3.0,
}

_LEGACY_KINDS = {
    "hepatectomy": TreatmentKind.hepatectomy,
    "primary_resection": TreatmentKind.primary_resection,
    "ablation": TreatmentKind.ablation,
    "pve": TreatmentKind.pve,
}


@dataclass(frozen=True)
class SystemicExposure:
    """Systemic therapy given before the first hepatectomy (``None`` = unknown)."""

    given: bool | None
    cycles: int | None = None
    weeks: float | None = None
    weeks_basis: str | None = None  # how ``weeks`` was read (recorded, dates, cycles × length)
    missing: tuple[str, ...] = ()
    last_dose: dt.date | None = None
    response: Response | None = None
    tumour_size_change_percent: float | None = None
    anti_vegf: bool | None = None
    anti_egfr: bool | None = None
    intent: TherapyIntent | None = None
    regimen: Regimen | None = None


@dataclass(frozen=True)
class Timeline:
    """Ordered, dated treatment events and what they establish."""

    events: tuple[TreatmentEvent, ...]
    recorded: bool  # any treatment history was entered (timeline, operations or chemotherapy)
    preoperative: SystemicExposure
    planned: tuple[TreatmentEvent, ...] = field(default_factory=tuple)

    def of(self, *kinds: TreatmentKind) -> list[TreatmentEvent]:
        """The events of these kinds, in order."""
        return [e for e in self.events if e.kind in kinds]

    @property
    def hepatectomies(self) -> list[TreatmentEvent]:
        return self.of(TreatmentKind.hepatectomy, TreatmentKind.alpps)

    @property
    def pve_done(self) -> bool:
        return bool(self.of(TreatmentKind.pve))

    @property
    def primary_resected(self) -> bool:
        return bool(self.of(TreatmentKind.primary_resection))

    @property
    def radiotherapy_given(self) -> bool:
        return bool(self.of(TreatmentKind.radiotherapy))

    def last(self, *kinds: TreatmentKind) -> TreatmentEvent | None:
        found = self.of(*kinds)
        return found[-1] if found else None

    @property
    def two_stage_completed(self) -> bool:
        """The second stage of a two-stage hepatectomy is done."""
        return any(e.hepatectomy_stage == 2 for e in self.hepatectomies)

    @property
    def liver_recurrence_after_resection(self) -> bool:
        """The last recurrence involves the liver and is dated after the last hepatectomy."""
        recurrence, resection = self.last(TreatmentKind.recurrence), self.last(
            TreatmentKind.hepatectomy, TreatmentKind.alpps)
        return bool(recurrence and resection and "liver" in (recurrence.recurrence_sites or [])
                    and (recurrence.date is None or resection.date is None
                         or recurrence.date >= resection.date))


def _from_operations(patient: Patient, events: list[TreatmentEvent]) -> list[TreatmentEvent]:
    seen = {(e.kind, e.date) for e in events}
    out = []
    for op in patient.operations or []:
        kind = _LEGACY_KINDS.get(op.kind)
        if kind is None or (kind, op.date) in seen:
            continue
        fields: dict[str, object] = {"kind": kind, "date": op.date}
        if kind == TreatmentKind.hepatectomy:
            fields.update(procedures=op.procedures, margin_mm=op.margin_mm,
                          clavien_dindo=op.clavien_dindo, isgls_phlf=op.isgls_phlf)
        elif kind == TreatmentKind.primary_resection:
            fields.update(margin_mm=op.margin_mm, clavien_dindo=op.clavien_dindo)
        elif kind == TreatmentKind.ablation:
            fields.update(margin_mm=op.margin_mm)
        out.append(TreatmentEvent.model_validate(fields))
    return out


def _sort_key(indexed: tuple[int, TreatmentEvent]) -> tuple[dt.date, int]:
    index, event = indexed
    return (event.date or dt.date.max, index)


def _line_weeks(line: TreatmentEvent) -> tuple[float | None, str | None]:
    length = CYCLE_WEEKS.get(line.regimen) if line.regimen else None
    if line.date and line.end_date:
        days = (line.end_date - line.date).days
        if length:
            return days / 7 + length, "first to last dose plus one cycle"
        return days / 7, "first to last dose"
    if line.cycles and length:
        return line.cycles * length, (f"{line.cycles} cycles × {length:g} weeks "
                                      f"({line.regimen.value.upper() if line.regimen else ''})")
    return None, None


def _exposure_from_lines(lines: list[TreatmentEvent]) -> SystemicExposure:
    cycles: int | None = 0
    weeks: float | None = 0.0
    bases: list[str] = []
    missing: list[str] = []
    for line in lines:
        if cycles is not None:
            cycles = cycles + line.cycles if line.cycles else None
        w, basis = _line_weeks(line)
        if w is None:
            weeks = None
            if not missing:
                missing.append("treatments.end_date")
        elif weeks is not None:
            weeks += w
            bases.append(basis or "")
    last = lines[-1]
    biologics = {line.biologic for line in lines if line.biologic is not None}
    known_biologic = len(biologics) > 0 and all(line.biologic is not None for line in lines)
    return SystemicExposure(
        given=True, cycles=cycles or None, weeks=weeks, weeks_basis="; ".join(bases) or None,
        missing=tuple(missing), last_dose=last.end_date or last.date, response=last.response,
        tumour_size_change_percent=last.tumour_size_change_percent,
        anti_vegf=bool(biologics & ANTI_VEGF) or (False if known_biologic else None),
        anti_egfr=bool(biologics & ANTI_EGFR) or (False if known_biologic else None),
        intent=last.intent, regimen=last.regimen,
    )


def _exposure_from_section(patient: Patient) -> SystemicExposure:
    chemo = patient.chemotherapy
    regimen = chemo.regimen
    given: bool | None = None
    if chemo.prehepatectomy_cycles is not None:
        given = chemo.prehepatectomy_cycles > 0
    elif chemo.duration_weeks is not None:
        given = chemo.duration_weeks > 0
    elif chemo.regimen is not None or chemo.response is not None:
        given = True
    if not given:
        return SystemicExposure(given=given, cycles=chemo.prehepatectomy_cycles,
                                weeks=0.0 if given is False else None)
    weeks, basis, missing = chemo.duration_weeks, "recorded duration", ()
    if weeks is None:
        length = CYCLE_WEEKS.get(regimen) if regimen else None
        if length and chemo.prehepatectomy_cycles:
            weeks = chemo.prehepatectomy_cycles * length
            basis = (f"{chemo.prehepatectomy_cycles} cycles × {length:g} weeks "
                     f"({regimen.value.upper() if regimen else ''})")
        else:
            basis = None
            missing = ("chemotherapy.duration_weeks",)
    return SystemicExposure(
        given=True, cycles=chemo.prehepatectomy_cycles, weeks=weeks, weeks_basis=basis,
        missing=missing, response=chemo.response, anti_vegf=chemo.anti_vegf,
        anti_egfr=chemo.anti_egfr, regimen=regimen,
    )


def build_timeline(patient: Patient) -> Timeline:
    """The patient's treatment history in date order (undated events keep their entry order)."""
    entered = list(patient.treatments or [])
    entered += _from_operations(patient, entered)
    ordered = [e for _, e in sorted(enumerate(entered), key=_sort_key)]
    today = patient.assessment_date
    if today is None:
        done, planned = tuple(ordered), ()
    else:
        done = tuple(e for e in ordered if e.date is None or e.date <= today)
        planned = tuple(e for e in ordered if e.date is not None and e.date > today)
    first_liver = next((e.date for e in done if e.kind in (
        TreatmentKind.hepatectomy, TreatmentKind.alpps)), None)
    lines = [e for e in done if e.kind == TreatmentKind.systemic_therapy
             and e.intent != TherapyIntent.adjuvant
             and (first_liver is None or e.date is None or e.date < first_liver)]
    exposure = _exposure_from_lines(lines) if lines else _exposure_from_section(patient)
    recorded = bool(patient.treatments is not None or patient.operations is not None
                    or exposure.given is not None)
    return Timeline(events=done, recorded=recorded, preoperative=exposure, planned=planned)
