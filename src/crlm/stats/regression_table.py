"""Univariable → multivariable tables (seed 000 Table 2, seed 004 Table 2, seed 000 Table 3).

Each factor is fitted alone; factors whose smallest term p value is below ``threshold``
(0.10 as seed 000, 0.05 as seed 004), plus ``forced`` ones judged clinically relevant, enter the
multivariable model. The table has two panels: univariable and multivariable estimate (95 % CI)
and p.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from crlm.stats._data import StatsInputError, complete_cases
from crlm.stats.cox import cox_ph
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

    def to_csv(self) -> str:
        return self.frame.to_csv(index=False)

    def to_html(self) -> str:
        notes = "".join(f"<li>{n}</li>" for n in self.footnotes)
        return (self.frame.to_html(index=False, na_rep="", border=0, classes="regression")
                + f'<ol class="footnotes">{notes}</ol>')


def _fit(kind: Kind, df: pd.DataFrame, factors: Sequence[str], time: str | None,
         event: str | None, outcome: str | None, reference: Mapping[str, object] | None
         ) -> pd.DataFrame:
    ref = {k: v for k, v in (reference or {}).items() if k in factors}
    if kind == "cox":
        assert time is not None and event is not None
        frame = cox_ph(df, time, event, factors, reference=ref).to_frame()
        return frame.rename(columns={"hr": "estimate"})
    assert outcome is not None
    return logistic_regression(df, outcome, factors, reference=ref).to_frame().rename(
        columns={"or": "estimate"})


def _ci(row: pd.Series) -> str:
    return f"{row['estimate']:.2f} ({row['lower95']:.2f}–{row['upper95']:.2f})"


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
) -> RegressionTable:
    """Screen each factor univariably, then fit the multivariable model (complete cases)."""
    if kind == "cox" and (time is None or event is None):
        raise StatsInputError(None, "a Cox table needs time and event columns")
    if kind == "logistic" and outcome is None:
        raise StatsInputError(None, "a logistic table needs an outcome column")
    for f in forced:
        if f not in factors:
            raise StatsInputError(f, "forced factor is not among the factors")
    labels = dict(labels or {})
    uni: dict[str, pd.DataFrame] = {}
    for factor in factors:
        uni[factor] = _fit(kind, df, [factor], time, event, outcome, reference)
    entered = [f for f in factors if f in forced or float(uni[f]["p"].min()) < threshold]
    multi = pd.DataFrame()
    n_multi = 0
    if entered:
        needed = [c for c in (time, event, outcome) if c] + entered
        used, _report = complete_cases(df, needed)
        n_multi = len(used)
        multi = _fit(kind, used, entered, time, event, outcome, reference)
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
             + f" entered the multivariable model (n = {n_multi}, complete cases)."]
    return RegressionTable(pd.DataFrame(rows), kind, entered, threshold, list(forced), n_multi,
                           notes)
