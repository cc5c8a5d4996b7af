"""De-identified cohort views: Table 1-like summary and Kaplan–Meier curves by a grouping.

Works on a list of :class:`Patient` (no ids, names or dates leave this module: only counts,
medians, and survival curves). Groupings follow the Fong clinical risk score criteria
(node-positive primary, disease-free interval < 12 months, > 1 tumour, largest > 5 cm,
CEA > 200 ng/mL; CLINICAL_SPEC §1) and plain patient attributes.
"""

from __future__ import annotations

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
    A negative time (e.g. recurrence before the chosen origin) is not derivable either, and a
    time of 0 (no follow-up after the origin yet) carries no survival information: both are
    left out and counted as excluded, as :mod:`crlm.stats` refuses times ≤ 0.
    """
    from crlm.registry.dataset import survival_times

    times = survival_times(p, origin.value)  # type: ignore[arg-type]
    prefix = "os" if endpoint == Endpoint.overall_survival else "rfs"
    days, event = times[f"{prefix}_days"], times[f"{prefix}_event"]
    if days is None or event is None or days <= 0:
        return None
    return days / DAYS_PER_MONTH, bool(event)


def split(patients: Sequence[Patient], grouping: str) -> dict[str, list[Patient]]:
    """Patients by group (sorted by group name; 'unknown' last)."""
    of = GROUPINGS[grouping].of
    groups: dict[str, list[Patient]] = {}
    for p in patients:
        groups.setdefault(of(p) or UNKNOWN, []).append(p)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] == UNKNOWN, kv[0])))


# ---------------------------------------------------------------------------- Table 1

#: Table 1 variables: columns of :func:`crlm.registry.dataset.analysis_row` and their labels.
TABLE1_CATEGORICAL = {
    "sex": "Sex", "primary_site": "Primary site", "node_positive": "Node-positive primary",
    "timing": "Timing of liver metastases", "bilobar": "Bilobar",
    "extrahepatic_disease": "Extrahepatic disease", "ras": "RAS", "braf": "BRAF",
    "os_event": "Dead at last follow-up",
}
TABLE1_CONTINUOUS = {
    "age_years": "Age, years", "number_of_metastases": "Number of metastases",
    "largest_diameter_cm": "Largest metastasis, cm", "cea_ng_ml": "CEA, ng/mL",
    "prehepatectomy_cycles": "Pre-hepatectomy chemotherapy cycles",
}


_TABLE1_LABELS = {**TABLE1_CATEGORICAL, **TABLE1_CONTINUOUS}


@dataclass
class CohortSummary:
    """Table 1 by a grouping (``crlm.stats.table1``), or why it cannot be made."""

    grouping: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    problem: str | None = None


def summarise(patients: Sequence[Patient], grouping: str) -> CohortSummary:
    """Table 1 of ``patients`` by ``grouping`` with an Overall column, tests and footnotes.

    Rows come from :func:`crlm.registry.dataset.analysis_row` (origin: diagnosis) and the table
    from :func:`crlm.stats.table1` (χ²/Fisher, Mann–Whitney/Kruskal–Wallis as the source papers
    use).
    """
    import pandas as pd

    from crlm.registry.dataset import analysis_row
    from crlm.stats import StatsInputError
    from crlm.stats.table1 import table1

    of = GROUPINGS[grouping].of
    frame = pd.DataFrame(
        [{**analysis_row(p, "diagnosis"), "group": of(p)} for p in patients],
        columns=["group", *TABLE1_CATEGORICAL, *TABLE1_CONTINUOUS],
    )
    for column in TABLE1_CONTINUOUS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    grouped = frame[frame["group"].notna()]
    empty = [c for c in (*TABLE1_CATEGORICAL, *TABLE1_CONTINUOUS) if grouped[c].isna().all()]
    try:
        result = table1(
            frame, "group",
            categorical=[c for c in TABLE1_CATEGORICAL if c not in empty],
            continuous=[c for c in TABLE1_CONTINUOUS if c not in empty],
            labels={"group": GROUPINGS[grouping].label, **_TABLE1_LABELS},
            overall=True,
        )
    except StatsInputError as exc:
        return CohortSummary(grouping, problem=f"Table 1 not computable: {exc}")
    return CohortSummary(
        grouping,
        columns=[str(c) for c in result.frame.columns],
        rows=[["" if pd.isna(v) else str(v) for v in row]
              for row in result.frame.itertuples(index=False)],
        footnotes=result.footnotes + (
            ["No data for " + ", ".join(_TABLE1_LABELS[c] for c in empty) + "."] if empty else []
        ),
    )
