"""The cohort computations as they were before the analysis table (crlm 2026-11-30, commit
e840ba3): built from full :class:`crlm.domain.Patient` objects. Kept verbatim as the reference
that the SQL/analysis-table path must reproduce exactly (tests/test_cohort_scale.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from crlm.domain import Patient
from crlm.web.survival import KMCurve, KMResult, _finite

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

#: the Table 1 variable each grouping is made from: left out of its own table (a grouping is
#: never tested against itself)
GROUPING_COLUMN = {
    "sex": "sex", "timing": "timing", "primary_site": "primary_site",
    "node_positive": "node_positive", "number_of_metastases": "number_of_metastases",
    "largest_diameter": "largest_diameter_cm", "cea": "cea_ng_ml", "ras": "ras",
    "bilobar": "bilobar",
}


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
    own = GROUPING_COLUMN.get(grouping)
    empty = [c for c in (*TABLE1_CATEGORICAL, *TABLE1_CONTINUOUS)
             if c != own and grouped[c].isna().all()]
    skip = {*empty, *([own] if own else [])}
    try:
        result = table1(
            frame, "group",
            categorical=[c for c in TABLE1_CATEGORICAL if c not in skip],
            continuous=[c for c in TABLE1_CONTINUOUS if c not in skip],
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


# ---------------------------------------------------------------------------- score validation


@dataclass
class ScoreTable:
    """Fong, GAME, TBS and m-CS validated on the cohort (or why not)."""

    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    problem: str | None = None


def validate_scores(patients: Sequence[Patient], endpoint: Endpoint, origin: SurvivalOrigin
                    ) -> ScoreTable:
    """Harrell's C, time-dependent AUC (1, 3, 5 years) and calibration of the four scores.

    The page shows point estimates of the AUC (no bootstrap CI, to stay fast); ``crlm stats
    validate`` adds the CIs.
    """
    import pandas as pd

    from crlm.registry.dataset import analysis_row
    from crlm.reports.score_validation import validate_cohort_scores
    from crlm.stats import StatsInputError

    rows = []
    for p in patients:
        st = survival_time(p, endpoint, origin)
        if st is not None:
            rows.append({**analysis_row(p, "diagnosis"), "months": st[0], "event": int(st[1]),
                         "disease_free_interval_months": p.liver.disease_free_interval_months})
    if len(rows) < 10:
        return ScoreTable(problem="Score validation needs at least 10 patients with follow-up.")
    try:
        res = validate_cohort_scores(pd.DataFrame(rows), "months", "event", time_unit="months",
                                     draws=0)
    except StatsInputError as exc:
        return ScoreTable(problem=f"Score validation not computable: {exc}")
    if res.result is None:
        return ScoreTable(problem="No score can be computed: " + "; ".join(
            res.not_validated.values()) + ".")
    table = res.table()
    return ScoreTable([str(c) for c in table.columns],
                      [[str(v) for v in r] for r in table.itertuples(index=False)], res.notes())


# ---------------------------------------------------------------------------- competing risks

CIF_YEARS = (1, 3, 5)
CAUSES = {1: "Recurrence", 2: "Death without recurrence"}


def competing_risks(patients: Sequence[Patient], grouping: str, origin: SurvivalOrigin
                    ) -> ScoreTable:
    """Cumulative incidence of recurrence and of death without recurrence at 1, 3, 5 years by
    group (Aalen–Johansen), with Gray's test for recurrence."""
    import pandas as pd

    from crlm.registry.dataset import survival_times
    from crlm.stats import StatsInputError
    from crlm.stats.competing import cumulative_incidence, gray_test

    of = GROUPINGS[grouping].of
    rows = []
    for p in patients:
        t = survival_times(p, origin.value)  # type: ignore[arg-type]
        group = of(p)
        if group is None or t["os_days"] is None or t["rfs_days"] is None:
            continue
        recurred = p.outcome.date_of_recurrence is not None
        days = t["rfs_days"] if recurred else t["os_days"]
        status = 1 if recurred else (2 if t["os_event"] else 0)
        if days > 0:
            rows.append({"group": group, "months": days / DAYS_PER_MONTH, "status": status})
    frame = pd.DataFrame(rows, columns=["group", "months", "status"])
    try:
        cif = cumulative_incidence(frame, "months", "status", "group")
        gray = gray_test(frame, "months", "status", "group", cause=1)
    except (StatsInputError, ValueError, KeyError) as exc:
        return ScoreTable(problem=f"Competing risks not computable: {exc}")
    columns = ["Group", "Event", *[f"{y} year{'s' if y > 1 else ''} (%)" for y in CIF_YEARS]]
    table = [[g, CAUSES[cause], *[f"{100 * v:.1f}" for v in curve.at(
        [12.0 * y for y in CIF_YEARS])["estimate"]]]
             for g, causes in cif.items() for cause, curve in causes.items() if cause in CAUSES]
    p_text = "p < 0.001" if gray.p < 0.001 else f"p = {gray.p:.3f}"
    return ScoreTable(columns, table, [
        "Cumulative incidence (Aalen–Johansen): recurrence and death without recurrence "
        f"compete. Gray's test for recurrence: χ² = {gray.statistic:.2f} on {gray.df} df, "
        f"{p_text}. {len(frame)} patients with follow-up."])



def kaplan_meier(
    patients: Sequence[Patient],
    grouping: str,
    endpoint: Endpoint = Endpoint.overall_survival,
    origin: SurvivalOrigin = SurvivalOrigin.diagnosis,
) -> KMResult:
    """KM curves and a log-rank p-value for every known group of ``grouping``."""
    import numpy as np
    import pandas as pd

    from crlm.stats import StatsInputError, km_curve, logrank_test

    curves: list[KMCurve] = []
    rows: list[tuple[float, bool, str]] = []
    excluded = 0
    for group, members in split(patients, grouping).items():
        data = [survival_time(p, endpoint, origin) for p in members]
        usable = [d for d in data if d is not None]
        excluded += len(members) - len(usable)
        if group == UNKNOWN:
            excluded += len(usable)
            continue
        if not usable:
            continue
        fit = km_curve(np.array([d[0] for d in usable]), np.array([d[1] for d in usable]))
        curves.append(
            KMCurve(
                group=group,
                n=fit.n,
                events=fit.events,
                median_months=fit.median()[0],
                time_months=[0.0, *map(float, fit.time)],
                survival=[1.0, *map(float, fit.surv)],
                ci_lower=[1.0, *(float(x) for x in np.nan_to_num(fit.lower, nan=0.0))],
                ci_upper=[1.0, *(float(x) for x in np.nan_to_num(fit.upper, nan=1.0))],
                censored_months=[
                    float(t) for t, c in zip(fit.time, fit.n_censor, strict=True) if c
                ],
            )
        )
        rows += [(t, e, group) for t, e in usable]
    p_value = None
    if len(curves) >= 2 and any(e for _, e, _ in rows):
        frame = pd.DataFrame(rows, columns=["time", "event", "group"])
        frame["event"] = frame["event"].astype(int)
        try:
            p_value = _finite(logrank_test(frame, "time", "event", "group").p)
        except (StatsInputError, np.linalg.LinAlgError, ValueError):
            p_value = None
    return KMResult(
        grouping=grouping,
        grouping_label=GROUPINGS[grouping].label,
        endpoint=endpoint,
        origin=origin,
        curves=curves,
        logrank_p=p_value,
        excluded=excluded,
    )


