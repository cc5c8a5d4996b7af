"""Validating the published prognostic scores on the centre's own cohort (adapter).

Derives Fong, GAME, TBS and m-CS from a cohort's analysis columns with the clinical core's own
score functions (so the definitions are the ones ``crlm assess`` uses), attaches the published
5-year survival where the bibliography gives it (Fong 1999 by score value; GAME 0–1 and ≥ 4 as
the external validation quoted by seed 003; none for TBS or m-CS) and runs
:func:`crlm.stats.validation.validate_scores`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crlm.clinical.scores import FONG_5Y_OS_PERCENT, GAME_5Y_OS_PERCENT
from crlm.reports.score_inputs import _SCORE_OF
from crlm.stats.validation import BOOTSTRAP_DRAWS, BOOTSTRAP_SEED, ScoreValidation, validate_scores

SCORES: dict[str, str] = {
    "fong_crs": "Fong clinical risk score",
    "game": "GAME score",
    "tumor_burden_score": "Tumour burden score",
    "mcs": "Modified clinical score (m-CS)",
}
SHORT_NAMES = {"fong_crs": "Fong", "game": "GAME", "tumor_burden_score": "TBS", "mcs": "m-CS"}
PUBLISHED_HORIZON_YEARS = 5.0
#: published 5-year OS by score value, and the evidence key that gives it
PUBLISHED_5Y: dict[str, tuple[dict[float, float], str]] = {
    "fong_crs": ({float(v): p / 100 for v, p in enumerate(FONG_5Y_OS_PERCENT)}, "fong1999"),
    "game": ({**{float(v): GAME_5Y_OS_PERCENT["low"] / 100 for v in (0, 1)},
              **{float(v): GAME_5Y_OS_PERCENT["high"] / 100 for v in range(4, 8)}},
             "margonis2018"),
}
TIME_UNITS_PER_YEAR = {"days": 365.25, "months": 12.0, "years": 1.0}

# the analysis columns each score reads (any one of the alternatives)
_NEEDS: dict[str, list[tuple[str, ...]]] = {
    "fong_crs": [("node_positive",), ("disease_free_interval_months", "timing"),
                 ("number_of_metastases",), ("cea_ng_ml",), ("largest_diameter_cm",)],
    "game": [("kras", "ras_mutant", "ras"), ("cea_ng_ml",), ("node_positive",),
             ("largest_diameter_cm",), ("number_of_metastases",), ("extrahepatic_disease",)],
    "tumor_burden_score": [("largest_diameter_cm",), ("number_of_metastases",)],
    "mcs": [("ras", "ras_mutant", "kras"), ("node_positive",), ("largest_diameter_cm",)],
}
_COLUMN_LABELS = {
    "node_positive": "node-positive primary", "disease_free_interval_months":
    "disease-free interval (months)", "timing": "timing of liver metastases",
    "number_of_metastases": "number of metastases", "cea_ng_ml": "CEA (ng/mL)",
    "largest_diameter_cm": "largest metastasis (cm)", "kras": "KRAS", "ras_mutant": "RAS mutated",
    "ras": "RAS", "extrahepatic_disease": "extrahepatic disease",
}


def derive_scores(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The score columns computable from ``df`` and, for the others, why not (human text)."""
    out = pd.DataFrame(index=df.index)
    problems: dict[str, str] = {}
    records = df.to_dict(orient="records")
    for name, needs in _NEEDS.items():
        absent = [alts for alts in needs if not any(a in df.columns for a in alts)]
        if absent:
            problems[name] = "the data have no column for " + ", ".join(
                " or ".join(_COLUMN_LABELS[a] for a in alts) for alts in absent)
            continue
        values = [_SCORE_OF[name](r).value for r in records]
        out[name] = pd.to_numeric(pd.Series(values, index=df.index, dtype="object"))
        if out[name].notna().sum() == 0:
            problems[name] = "no patient has every input of the score"
            out = out.drop(columns=name)
    return out, problems


@dataclass
class CohortScoreValidation:
    """The validation of every computable score and why the others could not be validated."""

    result: ScoreValidation | None
    horizons_years: list[float]
    time_unit: str
    labels: dict[str, str]
    not_validated: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    draws: int = BOOTSTRAP_DRAWS
    seed: int = BOOTSTRAP_SEED

    def table(self, p_style: Callable[[float], str] | None = None) -> pd.DataFrame:
        """The readable table: one row per score."""
        if self.result is None:
            return pd.DataFrame()
        rows = []
        for name in self.result.names:
            c = self.result.concordance[name]
            row = {"Score": self.labels[name], "Patients": c.n, "Deaths": c.events,
                   "Harrell's C (95% CI)": f"{c.c:.3f} ({c.lower95:.3f}–{c.upper95:.3f})"}
            for a, h in zip(self.result.auc[name], self.horizons_years, strict=True):
                ci = "" if np.isnan(a.lower95) else f" ({a.lower95:.3f}–{a.upper95:.3f})"
                row[f"AUC at {h:g} {'year' if h == 1 else 'years'} (95% CI)"] = f"{a.auc:.3f}{ci}"
            cal = self.result.calibration.get(name)
            row["Observed/expected 5-year deaths (95% CI)"] = (
                f"{cal.oe_ratio:.2f} ({cal.oe_lower95:.2f}–{cal.oe_upper95:.2f})" if cal
                else "no published 5-year survival")
            row["Calibration slope (95% CI)"] = (
                f"{cal.slope:.2f} ({cal.slope_lower95:.2f}–{cal.slope_upper95:.2f})" if cal
                else "")
            rows.append(row)
        return pd.DataFrame(rows)

    def calibration_table(self) -> pd.DataFrame:
        """Per score value: patients, published, observed (95 % CI) and recalibrated 5-year
        survival (%), for the scores with a published figure."""
        rows = []
        for name, cal in (self.result.calibration.items() if self.result else []):
            if cal is None:
                continue
            for r in cal.table.itertuples(index=False):
                observed = ("not estimable" if np.isnan(r.observed) else
                            f"{100 * r.observed:.1f} ({100 * r.observed_lower95:.1f}–"
                            f"{100 * r.observed_upper95:.1f})")
                rows.append({"Score": self.labels[name], "Value": f"{r.value:g}",
                             "Patients": r.n, "Published 5-year OS (%)": f"{100 * r.published:.1f}",
                             "Observed 5-year OS (%) (95% CI)": observed,
                             "Recalibrated 5-year OS (%)": f"{100 * r.recalibrated:.1f}"})
        return pd.DataFrame(rows)

    def notes(self) -> list[str]:
        """Footnotes: methods, calibration subsets and scores not validated."""
        notes = [
            "Harrell's C with infinitesimal-jackknife 95% CI (R concordance); time-dependent "
            "AUC: cumulative/dynamic with inverse-probability-of-censoring weights (Uno 2007); "
            + (f"95% CI from {self.draws} bootstrap resamples (percentile, seed {self.seed})."
               if self.draws else "no CI (no bootstrap resamples)."),
            "Calibration against the published 5-year overall survival (van Houwelingen 2000): "
            "observed/expected = Kaplan–Meier 5-year risk of death over the mean published "
            "risk; slope = Cox coefficient of cloglog(published risk), follow-up truncated at "
            "5 years; recalibrated baseline S_pub^exp(α) matches the observed 5-year risk.",
        ]
        if self.result is not None:
            for name, cal in self.result.calibration.items():
                if cal is not None:
                    notes.append(
                        f"{self.labels[name]}: calibration on {cal.n} patients whose score "
                        f"has a published 5-year survival ({_source(self.evidence[name])}); "
                        f"recalibration factor exp(α) = {np.exp(cal.alpha):.2f}.")
        for name, why in self.not_validated.items():
            notes.append(f"{SCORES[name]} not validated: {why}.")
        return notes


def _source(key: str) -> str:
    """A short citation of a bibliography key: "Fong Y et al., Ann Surg …, 1999"."""
    from crlm.evidence import BIBLIOGRAPHY

    ref = BIBLIOGRAPHY[key]
    return f"{ref.authors.split(',')[0]} et al., {ref.journal}, {ref.year}"


def validate_cohort_scores(
    df: pd.DataFrame, time: str, event: str, *, time_unit: str = "days",
    horizons_years: list[float] | None = None, score_columns: Mapping[str, str] | None = None,
    draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED,
    derived_scores: tuple[pd.DataFrame, dict[str, str]] | None = None,
) -> CohortScoreValidation:
    """Validate Fong, GAME, TBS and m-CS (derived, or taken from ``score_columns``, or given
    as ``derived_scores``: what :func:`derive_scores` returns, e.g. computed when the patients
    were stored)."""
    horizons = list(horizons_years or [1.0, 3.0, 5.0])
    per_year = TIME_UNITS_PER_YEAR[time_unit]
    problems: dict[str, str]
    if derived_scores is not None:
        derived, problems = derived_scores
    elif score_columns:
        derived = pd.DataFrame({name: pd.to_numeric(df[col], errors="coerce")
                                for name, col in score_columns.items()}, index=df.index)
        problems = {}
    else:
        derived, problems = derive_scores(df)
    names = [s for s in derived.columns if derived[s].notna().any()]
    frame = pd.concat([df[[time, event]], derived[names]], axis=1)
    published = {s: (PUBLISHED_5Y[s][0], PUBLISHED_HORIZON_YEARS * per_year)
                 for s in names if s in PUBLISHED_5Y}
    labels = {s: SCORES.get(s, s) for s in names}
    evidence = {s: PUBLISHED_5Y[s][1] for s in names if s in PUBLISHED_5Y}
    if not names:
        return CohortScoreValidation(None, horizons, time_unit, labels, problems, evidence,
                                     draws, seed)
    result = validate_scores(frame, time, event, names, [h * per_year for h in horizons],
                             published=published, draws=draws, seed=seed)
    return CohortScoreValidation(result, horizons, time_unit, labels, problems, evidence, draws,
                                 seed)
