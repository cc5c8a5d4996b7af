"""Journal tables of ``crlm analyze``: rows per level with the reference level, n and events
per row, labels from the one dictionary and p values in the one style.

Renderers only: the numbers come from :mod:`crlm.stats` results (never refitted here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from crlm.reports.style import Labels, PStyle
from crlm.stats._data import factor_codes, level_label
from crlm.stats.regression_table import RegressionTable, bound_text
from crlm.stats.table1 import Table1, standardized_mean_difference

REFERENCE = "1 (reference)"


def estimate_text(estimate: float, lower: float, upper: float) -> str:
    """``1.23 (0.98–1.54)``; an infinite profile bound prints as ∞."""
    return f"{estimate:.2f} ({bound_text(lower)}–{bound_text(upper)})"


@dataclass(frozen=True)
class TermRow:
    """One row of a regression table: a factor header, a level or a continuous factor."""

    factor: str
    label: str
    term: str | None  # model term (None: header or reference row)
    reference: bool = False
    header: bool = False
    n: int | None = None
    events: int | None = None


def term_rows(data: pd.DataFrame, factor: str, terms: Sequence[str], outcome: str,
              labels: Labels) -> list[TermRow]:
    """The rows of one factor: a header and one row per level (reference first), or one row.

    ``data`` holds the complete cases of the univariable fit; ``outcome`` is the 0/1 event or
    outcome column counted per row.
    """
    used = data.dropna(subset=[factor, outcome])
    event = pd.to_numeric(used[outcome].astype("Float64"), errors="coerce").fillna(0)
    if list(terms) == [factor]:  # continuous (or a numeric 0/1 entered as is)
        return [TermRow(factor, labels.var(factor), factor, n=len(used),
                        events=int(event.sum()))]
    codes, levels = factor_codes(used[factor])
    names = [level_label(v) for v in levels]
    in_model = {t[len(factor) + 1:-1] for t in terms}
    rows = [TermRow(factor, labels.var(factor), None, header=True)]
    order = [k for k in range(len(names)) if names[k] not in in_model] + [
        k for k in range(len(names)) if names[k] in in_model]
    for k in order:
        name = names[k]
        mask = codes == k
        rows.append(TermRow(factor, "  " + labels.level(factor, name),
                            f"{factor}[{name}]" if name in in_model else None,
                            reference=name not in in_model, n=int(mask.sum()),
                            events=int(event.to_numpy()[mask].sum())))
    return rows


def regression_rows(data: pd.DataFrame, table: RegressionTable, outcome: str, labels: Labels,
                    ) -> list[TermRow]:
    """Every factor's rows, in the order of the table."""
    rows: list[TermRow] = []
    for factor, frame in table.univariable.items():
        rows += term_rows(data, factor, [str(t) for t in frame.index], outcome, labels)
    return rows


def _cells(frame: pd.DataFrame, row: TermRow, style: PStyle) -> tuple[str, str]:
    if row.header:
        return "", ""
    if row.reference:
        return REFERENCE, ""
    if row.term is None or row.term not in frame.index:
        return "", ""
    r = frame.loc[row.term]
    return estimate_text(r["estimate"], r["lower95"], r["upper95"]), style.value(float(r["p"]))


def journal_regression_frame(data: pd.DataFrame, table: RegressionTable, outcome: str,
                             labels: Labels, style: PStyle, event_label: str) -> pd.DataFrame:
    """Characteristic, n, events, univariable and multivariable estimate (95 % CI) and p."""
    est = "HR" if table.kind == "cox" else "OR"
    p = style.letter
    records = []
    for row in regression_rows(data, table, outcome, labels):
        uni = _cells(table.univariable[row.factor], row, style)
        entered = row.factor in table.entered
        multi = _cells(table.multivariable, row, style) if entered else ("", "")
        records.append({
            "Characteristic": row.label,
            "Patients": "" if row.n is None else str(row.n),
            event_label: "" if row.events is None else str(row.events),
            f"Univariable {est} (95% CI)": uni[0], f"Univariable {p}": uni[1],
            f"Multivariable {est} (95% CI)": multi[0], f"Multivariable {p}": multi[1],
        })
    return pd.DataFrame(records)


def forest_rows(data: pd.DataFrame, table: RegressionTable, outcome: str, labels: Labels,
                style: PStyle) -> pd.DataFrame:
    """The multivariable model as forest-plot rows (header, reference and level rows)."""
    frame = table.multivariable
    records = []
    for row in regression_rows(data, table, outcome, labels):
        if row.factor not in table.entered:
            continue
        text, p = _cells(frame, row, style)
        has = row.term is not None and row.term in frame.index and not row.reference
        r = frame.loc[row.term] if has else None
        records.append({
            "label": row.label, "text": text, "p": p,
            "estimate": float(r["estimate"]) if r is not None else math.nan,
            "lower": float(r["lower95"]) if r is not None else math.nan,
            "upper": float(r["upper95"]) if r is not None else math.nan,
        })
    return pd.DataFrame(records)


def journal_table1(t1: Table1, data: pd.DataFrame, group: str, labels: Labels, style: PStyle,
                   *, smd: bool) -> pd.DataFrame:
    """Table 1 with labelled levels and groups, p in the report's style and an SMD column."""
    frame = t1.frame.copy()
    group_cols = {c: c for c in frame.columns}
    for name in t1.groups:
        old = f"{name} (n = {t1.group_sizes[name]})"
        if old in group_cols:
            group_cols[old] = f"{labels.level(group, name)} (n = {t1.group_sizes[name]})"
    tests = iter(t1.tests)
    current: str | None = None
    p_values, smds, variables = [], [], []
    for _, row in frame.iterrows():
        if row["Test"]:
            test = next(tests)
            current = test.variable
            p_values.append(style.value(test.p))
            categorical = not str(row["Variable"]).endswith(("(IQR)", "(SD)"))
            value = standardized_mean_difference(data[current], data[group], categorical)
            smds.append(f"{value:.2f}" if smd and math.isfinite(value) else "")
        else:
            p_values.append("")
            smds.append("")
        variables.append(current)
    labelled = []
    for (_, row), var in zip(frame.iterrows(), variables, strict=True):
        text = str(row["Variable"])
        if text.startswith("  ") and var is not None:
            labelled.append("  " + labels.level(var, text.strip()))
        else:
            labelled.append(text)
    frame["Variable"] = labelled
    frame["p"] = p_values
    if smd:
        frame.insert(frame.columns.get_loc("p") + 1, "SMD", smds)
    frame = frame.rename(columns={**group_cols, "p": style.letter, "Variable": "Characteristic"})
    return frame


def frame_html(frame: pd.DataFrame, notes: Sequence[str]) -> str:
    """A table with its numbered footnotes (escaped)."""
    from html import escape

    cells = frame.astype(object).where(frame.notna(), "").astype(str).map(escape)
    if len(cells.columns):  # level rows keep their indent (HTML collapses leading spaces)
        first = cells.columns[0]
        cells[first] = cells[first].str.replace(r"^  ", "&emsp;", regex=True)
    cells.columns = [escape(str(c)) for c in cells.columns]
    body = cells.to_html(index=False, border=0, classes="journal", escape=False)
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return body + (f'<ol class="footnotes">{items}</ol>' if items else "")

