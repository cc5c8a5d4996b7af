"""Univariable → multivariable tables (Maki 2023a Table 2, Shimizu 2024 Table 2, Maki 2023a Table
3).

Each factor is fitted alone; factors whose smallest term p value is below ``threshold``
(0.10 as Maki 2023a, 0.05 as Shimizu 2024), plus ``forced`` ones judged clinically relevant, enter
the
multivariable model. The table has two panels: univariable and multivariable estimate (95 % CI)
and p. ``firth=True`` fits Firth-penalised models (for small samples or separation) with profile
penalised-likelihood CIs and penalised likelihood-ratio p values unless ``ci="wald"``; a footnote
always names the model and the CI method.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from crlm.safe_output import frame_to_csv
from crlm.stats._data import StatsInputError, complete_cases
from crlm.stats.cox import cox_ph
from crlm.stats.firth import CiMethod, firth_cox, firth_logistic
from crlm.stats.logistic import logistic_regression
from crlm.stats.table1 import format_p

Kind = Literal["cox", "logistic"]


@dataclass
class RegressionTable:
    """The two-panel table and what entered the multivariable model."""

    frame: pd.DataFrame
    kind: Kind
    entered: list[str]
    threshold: float
    forced: list[str]
    n_multivariable: int
    footnotes: list[str]
    ci_method: CiMethod = "wald"
    firth: bool = False
    #: the fits behind the table (``estimate`` = HR or OR per term): one per factor, and the
    #: multivariable model (empty when nothing entered) — renderers reuse them, never refit
    univariable: dict[str, pd.DataFrame] = field(default_factory=dict)
    multivariable: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_csv(self) -> str:
        return frame_to_csv(self.frame)

    def to_html(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.footnotes)
        return (self.frame.to_html(index=False, na_rep="", border=0, classes="regression")
                + f'<ol class="footnotes">{notes}</ol>')


def _fit(kind: Kind, df: pd.DataFrame, factors: Sequence[str], time: str | None,
         event: str | None, outcome: str | None, reference: Mapping[str, object] | None,
         firth: bool, ci: CiMethod) -> tuple[pd.DataFrame, list[str]]:
    """The estimate table (``estimate`` = HR or OR) and the fit's notes (e.g. infinite bounds)."""
    ref = {k: v for k, v in (reference or {}).items() if k in factors}
    if kind == "cox":
        assert time is not None and event is not None
        if firth:
            fit = firth_cox(df, time, event, factors, reference=ref, ci=ci)
            return fit.to_frame().rename(columns={"hr": "estimate"}), fit.notes
        frame = cox_ph(df, time, event, factors, reference=ref).to_frame()
        return frame.rename(columns={"hr": "estimate"}), []
    assert outcome is not None
    if firth:
        lfit = firth_logistic(df, outcome, factors, reference=ref, ci=ci)
        frame = lfit.to_frame().drop(index="(Intercept)")
        return frame.rename(columns={"or": "estimate"}), lfit.notes
    return logistic_regression(df, outcome, factors, reference=ref).to_frame().rename(
        columns={"or": "estimate"}), []


def bound_text(value: float) -> str:
    """A CI bound to 2 decimals; an infinite one (no profile bound) as ∞."""
    return "∞" if math.isinf(value) else f"{value:.2f}"


def _ci(row: pd.Series) -> str:
    return f"{row['estimate']:.2f} ({bound_text(row['lower95'])}–{bound_text(row['upper95'])})"


def method_note(kind: Kind, firth: bool, ci: CiMethod) -> str:
    """The footnote naming the model and how CIs and p values were obtained."""
    if not firth:
        model = ("Cox proportional-hazards models (Efron ties)" if kind == "cox"
                 else "Logistic regression (maximum likelihood)")
        return f"{model}; Wald 95% CIs and p values."
    model = ("Firth-penalised Cox models (Breslow ties)" if kind == "cox"
             else "Firth-penalised logistic regression")
    if ci == "profile":
        return (f"{model}; 95% CIs from the profile penalised likelihood, p values from "
                "penalised likelihood-ratio tests (Heinze & Schemper).")
    return f"{model}; Wald 95% CIs and p values (not valid under separation)."


def regression_table(
    df: pd.DataFrame,
    factors: Sequence[str],
    *,
    kind: Kind = "cox",
    time: str | None = None,
    event: str | None = None,
    outcome: str | None = None,
    threshold: float = 0.10,
    forced: Sequence[str] = (),
    reference: Mapping[str, object] | None = None,
    labels: Mapping[str, str] | None = None,
    firth: bool = False,
    ci: CiMethod = "profile",
) -> RegressionTable:
    """Screen each factor univariably, then fit the multivariable model (complete cases).

    ``firth=True``: Firth-penalised models, CIs and p by ``ci`` (profile or Wald); ordinary
    models always use Wald CIs and p values.
    """
    if kind == "cox" and (time is None or event is None):
        raise StatsInputError(None, "a Cox table needs time and event columns")
    if kind == "logistic" and outcome is None:
        raise StatsInputError(None, "a logistic table needs an outcome column")
    for f in forced:
        if f not in factors:
            raise StatsInputError(f, "forced factor is not among the factors")
    labels = dict(labels or {})
    uni: dict[str, pd.DataFrame] = {}
    fit_notes: list[str] = []
    for factor in factors:
        uni[factor], notes = _fit(kind, df, [factor], time, event, outcome, reference, firth, ci)
        fit_notes += [f"Univariable: {n}" for n in notes]
    entered = [f for f in factors if f in forced or float(uni[f]["p"].min()) < threshold]
    multi = pd.DataFrame()
    n_multi = 0
    if entered:
        needed = [c for c in (time, event, outcome) if c] + entered
        used, _report = complete_cases(df, needed)
        n_multi = len(used)
        multi, notes = _fit(kind, used, entered, time, event, outcome, reference, firth, ci)
        fit_notes += [f"Multivariable: {n}" for n in notes]
    est = "HR" if kind == "cox" else "OR"
    rows = []
    for factor in factors:
        for term, row in uni[factor].iterrows():
            level = str(term)[len(factor):] if str(term) != factor else ""
            if level == "[True]":  # a yes/no factor: the row is the factor itself
                level = ""
            label = labels.get(factor, factor) + (f" {level}" if level else "")
            m = multi.loc[term] if term in multi.index else None
            rows.append({
                "Factor": label,
                f"Univariable {est} (95% CI)": _ci(row),
                "Univariable p": format_p(float(row["p"])),
                f"Multivariable {est} (95% CI)": _ci(m) if m is not None else "",
                "Multivariable p": format_p(float(m["p"])) if m is not None else "",
            })
    notes = [f"Factors with univariable p < {threshold:g}"
             + (f" and clinically relevant factors ({', '.join(forced)})" if forced else "")
             + f" entered the multivariable model (n = {n_multi}, complete cases).",
             method_note(kind, firth, ci), *fit_notes]
    return RegressionTable(pd.DataFrame(rows), kind, entered, threshold, list(forced), n_multi,
                           notes, ci if firth else "wald", firth, uni, multi)
