"""De-identified cohort views: Table 1-like summary and Kaplan–Meier curves by a grouping.

Works on the cohort frame: columns of the analysis table (:mod:`crlm.registry.analysis`, one row
per patient in registry id order, read with one SELECT), never on whole patients; no ids, names
or dates leave this module: only counts, medians, and survival curves. Groupings follow the Fong
clinical risk score criteria (node-positive primary, disease-free interval < 12 months, > 1
tumour, largest > 5 cm, CEA > 200 ng/mL; CLINICAL_SPEC §1) and plain patient attributes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from crlm.registry.analysis import SCORE_PREFIX, survival_column

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

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


def _known(value: Any) -> Any:
    """None for a missing value of a frame column (None or NaN), else the value."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@dataclass(frozen=True)
class Grouping:
    """A way to split the cohort: a label, the analysis variable it reads, and the group of a
    value of that variable (None = unknown)."""

    label: str
    column: str
    of_value: Callable[[Any], str | None]

    def groups(self, cohort: pd.DataFrame, unknown: str | None = None) -> np.ndarray:
        """The group of every patient of the cohort frame, in its order, as an object array
        (``unknown`` where it cannot be told; ``of_value`` is called once per distinct value)."""
        import numpy as np
        import pandas as pd

        codes, distinct = pd.factorize(cohort[self.column], use_na_sentinel=True)
        of = [self.of_value(_known(v)) for v in [*distinct.tolist(), None]]  # code -1: last
        if unknown is not None:
            of = [g or unknown for g in of]
        return np.array(of, dtype=object)[codes]


GROUPINGS: dict[str, Grouping] = {
    "sex": Grouping("Sex", "sex", lambda v: v),
    "timing": Grouping("Timing of liver metastases", "timing", lambda v: v),
    "primary_site": Grouping(
        "Primary site", "primary_site",
        lambda v: None if v is None else ("rectum" if v == "rectum" else "colon"),
    ),
    "node_positive": Grouping(
        "Node-positive primary", "node_positive",
        lambda v: _yes_no(v, "node-positive", "node-negative"),
    ),
    "disease_free_interval": Grouping(
        "Disease-free interval", "disease_free_interval_months",
        lambda v: None if v is None else ("< 12 months" if v < 12 else "≥ 12 months"),
    ),
    "number_of_metastases": Grouping(
        "Number of metastases", "metastasis_count", lambda v: _threshold(v, 1, "> 1", "1"),
    ),
    "largest_diameter": Grouping(
        "Largest metastasis", "largest_diameter_cm",
        lambda v: _threshold(v, 5, "> 5 cm", "≤ 5 cm"),
    ),
    "cea": Grouping(
        "CEA", "cea_ng_ml", lambda v: _threshold(v, 200, "> 200 ng/mL", "≤ 200 ng/mL")
    ),
    "ras": Grouping("RAS", "ras", lambda v: v),
    "bilobar": Grouping("Distribution", "bilobar", lambda v: _yes_no(v, "bilobar", "unilobar")),
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


def survival_columns(endpoint: Endpoint, origin: SurvivalOrigin) -> tuple[str, str]:
    """The analysis-table columns of the days and the event of ``endpoint`` from ``origin``."""
    prefix = "os" if endpoint == Endpoint.overall_survival else "rfs"
    return (survival_column(f"{prefix}_days", origin.value),
            survival_column(f"{prefix}_event", origin.value))


def survival_months(cohort: pd.DataFrame, endpoint: Endpoint, origin: SurvivalOrigin
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(months from origin, event happened, usable) for every patient of the cohort frame.

    The days and event come from :func:`crlm.registry.dataset.survival_times` (OS: death, else
    censored at last follow-up; RFS: recurrence or death); months = days / (365.25 / 12).
    A time that cannot be derived, a negative time (e.g. recurrence before the chosen origin)
    and a time of 0 (no follow-up after the origin yet, no survival information) are not
    usable: left out and counted as excluded, as :mod:`crlm.stats` refuses times ≤ 0.
    """
    import numpy as np

    days_column, event_column = survival_columns(endpoint, origin)
    days = cohort[days_column].to_numpy(dtype=float, na_value=np.nan)
    event = cohort[event_column].to_numpy(dtype=float, na_value=np.nan)
    usable = ~np.isnan(days) & ~np.isnan(event) & (days > 0)
    return days / DAYS_PER_MONTH, event != 0, usable


def group_labels(cohort: pd.DataFrame, grouping: str) -> np.ndarray:
    """Every patient's group (``unknown`` when it cannot be told), as an object array."""
    return GROUPINGS[grouping].groups(cohort, UNKNOWN)


def ordered_groups(labels: np.ndarray) -> list[str]:
    """The groups present, sorted by name with 'unknown' last."""
    return sorted(set(labels.tolist()), key=lambda g: (g == UNKNOWN, g))


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


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


#: the prognostic scores validated on the page (columns score_<name> of the analysis table)
SCORE_NAMES = ("fong_crs", "game", "tumor_burden_score", "mcs")


def summary_columns(grouping: str) -> list[str]:
    """The analysis-table columns Table 1 by ``grouping`` reads."""
    return _unique([*TABLE1_CATEGORICAL, *TABLE1_CONTINUOUS, GROUPINGS[grouping].column])


def km_columns(grouping: str, endpoint: Endpoint, origin: SurvivalOrigin) -> list[str]:
    """The analysis-table columns the KM curves by ``grouping`` read."""
    return [GROUPINGS[grouping].column, *survival_columns(endpoint, origin)]


def page_columns(grouping: str, endpoint: Endpoint, origin: SurvivalOrigin) -> list[str]:
    """The analysis-table columns the cohort page reads (Table 1, KM, score validation,
    competing risks)."""
    competing = [survival_column(n, origin.value) for n in ("os_days", "os_event", "rfs_days")]
    return _unique([*summary_columns(grouping), *km_columns(grouping, endpoint, origin),
                    *competing, "recurred", *(SCORE_PREFIX + name for name in SCORE_NAMES)])


@dataclass
class CohortSummary:
    """Table 1 by a grouping (``crlm.stats.table1``), or why it cannot be made."""

    grouping: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    problem: str | None = None


def summarise(cohort: pd.DataFrame, grouping: str) -> CohortSummary:
    """Table 1 of the cohort frame by ``grouping`` with an Overall column, tests and footnotes.

    Rows are the :func:`crlm.registry.dataset.analysis_row` variables (origin: diagnosis) of
    the analysis table and the table comes from :func:`crlm.stats.table1` (χ²/Fisher,
    Mann–Whitney/Kruskal–Wallis as the source papers use).
    """
    import pandas as pd

    from crlm.stats import StatsInputError
    from crlm.stats.table1 import table1

    frame = pd.DataFrame({
        "group": GROUPINGS[grouping].groups(cohort),
        **{c: cohort[c] for c in TABLE1_CATEGORICAL},
        **{c: pd.to_numeric(cohort[c], errors="coerce") for c in TABLE1_CONTINUOUS},
    }, copy=False)
    grouped = frame["group"].notna().to_numpy()
    own = GROUPING_COLUMN.get(grouping)
    empty = [c for c in (*TABLE1_CATEGORICAL, *TABLE1_CONTINUOUS)
             if c != own and frame[c].isna().to_numpy()[grouped].all()]
    skip = {*empty, *([own] if own else [])}
    present = frame["group"].dropna().unique()
    if len(present) < 2:
        found = f"only {present[0]}" if len(present) else "no patient with a known value"
        label = GROUPINGS[grouping].label
        return CohortSummary(grouping, problem=f"Table 1 compares groups ({label}): this "
                                               f"cohort has {found}; choose another grouping.")
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


def validate_scores(cohort: pd.DataFrame, endpoint: Endpoint, origin: SurvivalOrigin
                    ) -> ScoreTable:
    """Harrell's C, time-dependent AUC (1, 3, 5 years) and calibration of the four scores.

    The page shows point estimates of the AUC (no bootstrap CI, to stay fast); ``crlm stats
    validate`` adds the CIs.
    """
    import pandas as pd

    from crlm.reports.score_validation import validate_cohort_scores
    from crlm.stats import StatsInputError

    months, event, usable = survival_months(cohort, endpoint, origin)
    if int(usable.sum()) < 10:
        return ScoreTable(problem="Score validation needs at least 10 patients with follow-up.")
    frame = pd.DataFrame({"months": months[usable], "event": event[usable].astype(int)})
    # each patient's scores were derived from their analysis row when it was stored
    # (crlm.reports.score_inputs, as derive_scores does row by row)
    derived = pd.DataFrame({name: _numbers(cohort[SCORE_PREFIX + name].to_numpy()[usable])
                            for name in SCORE_NAMES})
    empty = [name for name in SCORE_NAMES if derived[name].isna().all()]
    problems = dict.fromkeys(empty, "no patient has every input of the score")
    try:
        res = validate_cohort_scores(frame, "months", "event", time_unit="months", draws=0,
                                     derived_scores=(derived.drop(columns=empty), problems))
    except StatsInputError as exc:
        return ScoreTable(problem=f"Score validation not computable: {exc}")
    if res.result is None:
        return ScoreTable(problem="No score can be computed: " + "; ".join(
            res.not_validated.values()) + ".")
    table = res.table()
    return ScoreTable([str(c) for c in table.columns],
                      [[str(v) for v in r] for r in table.itertuples(index=False)], res.notes())


def _numbers(values: np.ndarray) -> pd.Series:
    """``values`` as a numeric series: numbers as they are, objects (None: missing) parsed."""
    import pandas as pd

    if values.dtype.kind in "iuf":
        return pd.Series(values)
    return pd.to_numeric(pd.Series(values, dtype="object"))


# ---------------------------------------------------------------------------- competing risks

CIF_YEARS = (1, 3, 5)
CAUSES = {1: "Recurrence", 2: "Death without recurrence"}


def competing_risks(cohort: pd.DataFrame, grouping: str, origin: SurvivalOrigin
                    ) -> ScoreTable:
    """Cumulative incidence of recurrence and of death without recurrence at 1, 3, 5 years by
    group (Aalen–Johansen), with Gray's test for recurrence."""
    import numpy as np
    import pandas as pd

    from crlm.stats import StatsInputError
    from crlm.stats.competing import GRAY_NOT_COMPUTABLE, cumulative_incidence, gray_test

    groups = GROUPINGS[grouping].groups(cohort)
    os_days = cohort[survival_column("os_days", origin.value)].to_numpy(float, na_value=np.nan)
    os_event = cohort[survival_column("os_event", origin.value)].to_numpy(float,
                                                                         na_value=np.nan)
    rfs_days = cohort[survival_column("rfs_days", origin.value)].to_numpy(float,
                                                                         na_value=np.nan)
    recurred = cohort["recurred"].to_numpy(dtype=bool)
    days = np.where(recurred, rfs_days, os_days)
    status = np.where(recurred, 1, np.where(os_event == 1, 2, 0))
    keep = (groups != None) & ~np.isnan(os_days) & ~np.isnan(rfs_days)  # noqa: E711
    keep &= np.where(keep, days, 0) > 0
    frame = pd.DataFrame({"group": groups[keep], "months": days[keep] / DAYS_PER_MONTH,
                          "status": status[keep]} if keep.any() else [],
                         columns=["group", "months", "status"])
    if frame.empty:
        return ScoreTable(problem="Competing risks not computable: no patient has follow-up "
                                  "and a known group.")
    try:
        cif = cumulative_incidence(frame, "months", "status", "group")
        gray = (gray_test(frame, "months", "status", "group", cause=1)
                if frame["group"].nunique() > 1 else None)
    except (StatsInputError, ValueError, KeyError) as exc:
        return ScoreTable(problem=f"Competing risks not computable: {exc}")
    columns = ["Group", "Event", *[f"{y} year{'s' if y > 1 else ''} (%)" for y in CIF_YEARS]]
    table = [[g, CAUSES[cause], *[f"{100 * v:.1f}" for v in curve.at(
        [12.0 * y for y in CIF_YEARS])["estimate"]]]
             for g, causes in cif.items() for cause, curve in causes.items() if cause in CAUSES]
    if gray is None:
        test = "Gray's test needs two groups or more."
    elif not gray.computable:
        test = f"{GRAY_NOT_COMPUTABLE}."
    else:
        p_text = "p < 0.001" if gray.p < 0.001 else f"p = {gray.p:.3f}"
        test = f"Gray's test for recurrence: χ² = {gray.statistic:.2f} on {gray.df} df, {p_text}."
    return ScoreTable(columns, table, [
        "Cumulative incidence (Aalen–Johansen): recurrence and death without recurrence "
        f"compete. {test} {len(frame)} patients with follow-up."])


# ---------------------------------------------------------------------------- disclosure control

_COLUMN_N = re.compile(r"^(?P<name>.*)\(n = (?P<n>\d+)\)$")
_COUNT_CELL = re.compile(r"^(?P<count>\d+) \([\d.]+\)$")


def _blocks(rows: list[list[str]]) -> list[list[int]]:
    """Row indices of each variable: a header row and its indented level rows."""
    blocks: list[list[int]] = []
    for i, row in enumerate(rows):
        if row[0].startswith("  ") and blocks:
            blocks[-1].append(i)
        else:
            blocks.append([i])
    return blocks


def _count(value: str) -> int | None:
    m = _COUNT_CELL.match(value)
    return int(m["count"]) if m else None


def suppress_small_cells(summary: CohortSummary, minimum: int) -> CohortSummary:
    """Table 1 with every count below ``minimum`` hidden (statistical disclosure control).

    A group column of fewer than ``minimum`` patients is blanked whole (its medians would
    describe a handful of people); an ``n (%)`` cell counting 1 to ``minimum - 1`` patients
    becomes ``< minimum``. Zero counts stay (they describe no one).

    Complementary suppression, so that no hidden count can be worked out from those shown:
    the Overall column is the sum of the groups, so every Overall cell of a variable with a
    hidden group cell is hidden too; and the levels of a variable add up to their column's n,
    so a column with a single hidden level also hides its next smallest count.
    """
    if summary.problem or not summary.columns:
        return summary
    overall = {i for i, c in enumerate(summary.columns) if c.startswith("Overall (n = ")}
    counted = {i for i, c in enumerate(summary.columns) if _COLUMN_N.match(c)} - overall
    small_columns = {i for i in counted
                     if (m := _COLUMN_N.match(summary.columns[i])) and int(m["n"]) < minimum}
    columns = [
        f"{m['name']}(n < {minimum})" if i in small_columns and (m := _COLUMN_N.match(c)) else c
        for i, c in enumerate(summary.columns)
    ]
    rows = [list(row) for row in summary.rows]
    hidden_text, suppressed = f"< {minimum}", "suppressed"
    for r, row in enumerate(rows):
        for i in counted:
            count = _count(row[i])
            if i in small_columns and row[i]:
                rows[r][i] = suppressed
            elif count is not None and 0 < count < minimum:
                rows[r][i] = hidden_text
    for block in _blocks(rows):
        levels = block[1:]
        for i in counted - small_columns:
            if levels and sum(rows[r][i] == hidden_text for r in levels) == 1:
                shown = [(c, r) for r in levels if (c := _count(rows[r][i]))]
                if shown:
                    rows[min(shown)[1]][i] = suppressed
        if any(rows[r][i] in (hidden_text, suppressed) for r in block for i in counted):
            for r in block:
                for i in overall:
                    if rows[r][i]:
                        rows[r][i] = suppressed
    return CohortSummary(
        summary.grouping, columns=columns, rows=rows,
        footnotes=[*summary.footnotes,
                   f"Counts of 1 to {minimum - 1} patients are shown as “< {minimum}”; "
                   f"groups of fewer than {minimum} patients are suppressed, and so are the "
                   "counts from which a hidden count could be worked out (the Overall of that "
                   "variable, or a second count of the same group)."],
    )
