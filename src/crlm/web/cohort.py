"""De-identified cohort views: Table 1-like summary and Kaplan–Meier curves by a grouping.

Works on a list of :class:`Patient` (no ids, names or dates leave this module: only counts,
medians, and survival curves). Groupings follow the Fong clinical risk score criteria
(node-positive primary, disease-free interval < 12 months, > 1 tumour, largest > 5 cm,
CEA > 200 ng/mL; CLINICAL_SPEC §1) and plain patient attributes.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from crlm.domain import Patient

DAYS_PER_MONTH = 365.25 / 12
UNKNOWN = "unknown"


def _yes_no(value: bool | None, yes: str, no: str) -> str | None:
    if value is None:
        return None
    return yes if value else no


def _threshold(value: float | None, cut: float, above: str, at_or_below: str) -> str | None:
    if value is None:
        return None
    return above if value > cut else at_or_below


@dataclass(frozen=True)
class Grouping:
    """A way to split the cohort: a label and a function from patient to group (None=unknown)."""

    label: str
    of: Callable[[Patient], str | None]


GROUPINGS: dict[str, Grouping] = {
    "sex": Grouping("Sex", lambda p: p.sex.value if p.sex else None),
    "timing": Grouping(
        "Timing of liver metastases", lambda p: p.liver.timing.value if p.liver.timing else None
    ),
    "primary_site": Grouping(
        "Primary site",
        lambda p: None
        if p.primary.site is None
        else ("rectum" if p.primary.site.value == "rectum" else "colon"),
    ),
    "node_positive": Grouping(
        "Node-positive primary",
        lambda p: _yes_no(p.primary.is_node_positive, "node-positive", "node-negative"),
    ),
    "disease_free_interval": Grouping(
        "Disease-free interval",
        lambda p: None
        if p.liver.disease_free_interval_months is None
        else ("< 12 months" if p.liver.disease_free_interval_months < 12 else "≥ 12 months"),
    ),
    "number_of_metastases": Grouping(
        "Number of metastases",
        lambda p: _threshold(p.liver.metastasis_count, 1, "> 1", "1"),
    ),
    "largest_diameter": Grouping(
        "Largest metastasis", lambda p: _threshold(p.liver.largest_cm, 5, "> 5 cm", "≤ 5 cm")
    ),
    "cea": Grouping(
        "CEA", lambda p: _threshold(p.labs.cea_ng_ml, 200, "> 200 ng/mL", "≤ 200 ng/mL")
    ),
    "ras": Grouping("RAS", lambda p: p.molecular.ras.value if p.molecular.ras else None),
    "bilobar": Grouping("Distribution", lambda p: _yes_no(p.liver.bilobar, "bilobar", "unilobar")),
}

GroupingName = StrEnum("GroupingName", {name: name for name in GROUPINGS})  # type: ignore[misc]


class SurvivalOrigin(StrEnum):
    """Time zero of a survival time (as :mod:`crlm.registry.dataset`)."""

    diagnosis = "diagnosis"
    first_hepatectomy = "first_hepatectomy"
    last_hepatectomy = "last_hepatectomy"


class Endpoint(StrEnum):
    """Survival endpoint."""

    overall_survival = "overall_survival"
    recurrence_free_survival = "recurrence_free_survival"


def survival_time(
    p: Patient, endpoint: Endpoint, origin: SurvivalOrigin
) -> tuple[float, bool] | None:
    """(months from origin, event happened), or None when it cannot be derived.

    The days and event come from :func:`crlm.registry.dataset.survival_times` (OS: death, else
    censored at last follow-up; RFS: recurrence or death); months = days / (365.25 / 12).
    A negative time (e.g. recurrence before the chosen origin) is not derivable either.
    """
    from crlm.registry.dataset import survival_times

    times = survival_times(p, origin.value)  # type: ignore[arg-type]
    prefix = "os" if endpoint == Endpoint.overall_survival else "rfs"
    days, event = times[f"{prefix}_days"], times[f"{prefix}_event"]
    if days is None or event is None or days < 0:
        return None
    return days / DAYS_PER_MONTH, bool(event)


# ---------------------------------------------------------------------------- Table 1


@dataclass
class SummaryRow:
    """One line of Table 1: a label and one cell per column."""

    label: str
    cells: list[str]


@dataclass
class CohortSummary:
    """Table 1-like summary: column headers (Overall + groups) and rows."""

    grouping: str | None
    columns: list[str]
    column_n: list[int]
    rows: list[SummaryRow] = field(default_factory=list)


Table1Row = tuple[str, Callable[[Sequence[Patient]], str]]


def _median_iqr(values: Sequence[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3g}"
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{q2:.3g} ({q1:.3g}–{q3:.3g})"


def _count_pct(k: int, n: int) -> str:
    return f"{k} ({100 * k / n:.0f}%)" if n else "0"


def _continuous(label: str, get: Callable[[Patient], float | None]) -> Table1Row:
    def cell(ps: Sequence[Patient]) -> str:
        vals = [v for v in (get(p) for p in ps) if v is not None]
        if not vals:
            return "– (unknown)"
        known = f"; n={len(vals)}" if len(vals) < len(ps) else ""
        return _median_iqr(vals) + known

    return (f"{label}, median (IQR)", cell)


def _binary(label: str, get: Callable[[Patient], bool | None]) -> Table1Row:
    def cell(ps: Sequence[Patient]) -> str:
        vals = [v for v in (get(p) for p in ps) if v is not None]
        if not vals:
            return "– (unknown)"
        known = f" of {len(vals)}" if len(vals) < len(ps) else ""
        return _count_pct(sum(vals), len(vals)) + known

    return (f"{label}, n (%)", cell)


TABLE1_ROWS = [
    _continuous("Age, years", lambda p: p.age_years),
    _binary("Male", lambda p: None if p.sex is None else p.sex.value == "male"),
    _binary("Rectal primary", lambda p: None if p.primary.site is None
            else p.primary.site.value == "rectum"),
    _binary("Node-positive primary", lambda p: p.primary.is_node_positive),
    _binary("Synchronous metastases", lambda p: None if p.liver.timing is None
            else p.liver.timing.value == "synchronous"),
    _continuous("Number of metastases", lambda p: p.liver.metastasis_count),
    _continuous("Largest metastasis, cm", lambda p: p.liver.largest_cm),
    _binary("Bilobar", lambda p: p.liver.bilobar),
    _continuous("CEA, ng/mL", lambda p: p.labs.cea_ng_ml),
    _binary("RAS mutant", lambda p: None if p.molecular.ras is None
            else p.molecular.ras.value == "mutant"),
    _binary("Extrahepatic disease", lambda p: p.extrahepatic_disease),
    _continuous("Pre-hepatectomy chemotherapy cycles",
                lambda p: p.chemotherapy.prehepatectomy_cycles),
    _binary("Dead at last follow-up", lambda p: None if p.outcome.vital_status is None
            else p.outcome.vital_status.value == "dead"),
]


def split(patients: Sequence[Patient], grouping: str) -> dict[str, list[Patient]]:
    """Patients by group (sorted by group name; 'unknown' last)."""
    of = GROUPINGS[grouping].of
    groups: dict[str, list[Patient]] = {}
    for p in patients:
        groups.setdefault(of(p) or UNKNOWN, []).append(p)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] == UNKNOWN, kv[0])))


def summarise(patients: Sequence[Patient], grouping: str | None = None) -> CohortSummary:
    """Table 1: overall and, when ``grouping`` is given, one column per group."""
    columns = [("Overall", list(patients))]
    if grouping is not None:
        columns += list(split(patients, grouping).items())
    summary = CohortSummary(
        grouping=grouping,
        columns=[name for name, _ in columns],
        column_n=[len(ps) for _, ps in columns],
    )
    for label, cell in TABLE1_ROWS:
        summary.rows.append(SummaryRow(label, [cell(ps) for _, ps in columns]))
    return summary
