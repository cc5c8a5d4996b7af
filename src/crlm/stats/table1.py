"""Table 1: patient characteristics by group with the tests the source papers use (CLINICAL_SPEC
§5).

Categorical variables: n (%) of patients with data, Pearson χ² (no continuity correction), or
Fisher's exact test (Freeman–Halton for tables larger than 2×2) when any expected count is < 5.
Continuous variables: median (IQR) with Mann–Whitney U (two groups) / Kruskal–Wallis (≥ 3), or
mean (SD) with Student's t-test / one-way ANOVA when asked. Missing values are excluded per
variable and reported in footnotes ("Data not available for X in N patients").
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from crlm.safe_output import frame_to_csv
from crlm.stats._data import StatsInputError, factor_codes, level_label, require_columns

EXPECTED_COUNT_MIN = 5.0
TEST_NAMES = {
    "chisq": "χ² test",
    "fisher": "Fisher's exact test",
    "mannwhitney": "Mann–Whitney U test",
    "kruskal": "Kruskal–Wallis test",
    "ttest": "Student's t-test",
    "anova": "one-way ANOVA",
}


@dataclass(frozen=True)
class VariableTest:
    """The test behind one row of Table 1."""

    variable: str
    test: str  # key of TEST_NAMES
    statistic: float
    p: float
    n_missing: int


@dataclass
class Table1:
    """Table 1 as a DataFrame plus its footnotes (tests used, missing data)."""

    frame: pd.DataFrame
    tests: list[VariableTest]
    footnotes: list[str]
    groups: list[str]
    group_sizes: dict[str, int]
    dropped_no_group: int = 0
    labels: dict[str, str] = field(default_factory=dict)

    def to_csv(self, path: str | Path | None = None) -> str:
        return frame_to_csv(self.frame, path)

    def to_html(self) -> str:
        """An HTML table with footnotes (escaped)."""
        body = self.frame.to_html(index=False, na_rep="", classes="table1", border=0,
                                  escape=True)
        notes = "".join(f"<li>{_escape(n)}</li>" for n in self.footnotes)
        return f'<div class="table1">{body}<ol class="footnotes">{notes}</ol></div>'

    def to_docx(self, path: str | Path, title: str = "Table 1") -> None:
        """Write a Word document holding the table and its footnotes."""
        from docx import Document

        doc = Document()
        doc.add_heading(title, level=2)
        table = doc.add_table(rows=1, cols=len(self.frame.columns))
        table.style = "Table Grid"
        for cell, name in zip(table.rows[0].cells, self.frame.columns, strict=True):
            cell.text = str(name)
        for row in self.frame.itertuples(index=False):
            cells = table.add_row().cells
            for cell, value in zip(cells, row, strict=True):
                cell.text = "" if pd.isna(value) else str(value)
        for note in self.footnotes:
            doc.add_paragraph(note, style="List Number")
        buf = io.BytesIO()
        doc.save(buf)
        Path(path).write_bytes(buf.getvalue())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_p(p: float) -> str:
    """p as the source papers print it: 3 decimals, '< .001' below."""
    if np.isnan(p):
        return ""
    return "< .001" if p < 0.001 else f"{p:.3f}"


def _fmt(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f}"


MAX_EXACT_TABLES = 2_000_000


def fisher_freeman_halton(table: np.ndarray) -> float:
    """Exact p of an r×c table: sum of P(tables with the same margins) ≤ P(observed).

    Enumerates every table with the observed margins (as R ``fisher.test``, relative tolerance
    1e-7); raises ``ValueError`` past two million tables.
    """
    from scipy.special import gammaln

    table = np.asarray(table, dtype=np.int64)
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    n = int(table.sum())
    const = gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(n + 1)

    def logp(cells: np.ndarray) -> float:
        return float(const - gammaln(cells + 1).sum())

    observed = logp(table)
    r, c = table.shape
    total = 0.0
    count = 0
    cells = np.zeros((r, c), dtype=np.int64)

    def fill(i: int, j: int, row_left: np.ndarray, col_left: np.ndarray) -> None:
        nonlocal total, count
        if i == r - 1:  # last row is determined by the column remainders
            cells[i] = col_left
            if col_left.sum() != row_left[i]:
                return
            count += 1
            if count > MAX_EXACT_TABLES:
                raise ValueError("too many tables for the exact test")
            lp = logp(cells)
            if lp <= observed + 1e-7 * abs(observed) + 1e-12:
                total += math.exp(lp)
            return
        if j == c - 1:  # last cell of the row takes what the row has left
            v = row_left[i]
            if v > col_left[j]:
                return
            cells[i, j] = v
            col_left[j] -= v
            fill(i + 1, 0, row_left, col_left)
            col_left[j] += v
            return
        for v in range(min(row_left[i], col_left[j]) + 1):
            cells[i, j] = v
            row_left[i] -= v
            col_left[j] -= v
            fill(i, j + 1, row_left, col_left)
            row_left[i] += v
            col_left[j] += v

    fill(0, 0, rows.copy(), cols.copy())
    return min(1.0, total)


def categorical_test(table: np.ndarray) -> tuple[str, float, float]:
    """χ² without continuity correction, or Fisher's exact when any expected count < 5."""
    if table.ndim != 2 or table.size == 0:
        return "chisq", float("nan"), float("nan")
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return "chisq", float("nan"), float("nan")
    chi2, p, _dof, expected = stats.chi2_contingency(table, correction=False)
    if (expected < EXPECTED_COUNT_MIN).any():
        if table.shape == (2, 2):
            res = stats.fisher_exact(table)
            return "fisher", float(res.statistic), float(res.pvalue)
        try:
            return "fisher", float("nan"), fisher_freeman_halton(table)
        except ValueError:  # too large to enumerate: keep χ², say so in the test name
            return "chisq", float(chi2), float(p)
    return "chisq", float(chi2), float(p)


def continuous_test(samples: list[np.ndarray], mean_sd: bool) -> tuple[str, float, float]:
    """Rank test (Mann–Whitney / Kruskal–Wallis), or t-test / ANOVA for mean (SD) rows."""
    samples = [s for s in samples if s.size]
    if len(samples) < 2:
        return ("ttest" if mean_sd else "kruskal"), float("nan"), float("nan")
    if mean_sd:
        if len(samples) == 2:
            r = stats.ttest_ind(samples[0], samples[1], equal_var=True)
            return "ttest", float(r.statistic), float(r.pvalue)
        r = stats.f_oneway(*samples)
        return "anova", float(r.statistic), float(r.pvalue)
    if len(samples) == 2:
        r = stats.mannwhitneyu(samples[0], samples[1], alternative="two-sided",
                               use_continuity=True, method="asymptotic")
        return "mannwhitney", float(r.statistic), float(r.pvalue)
    r = stats.kruskal(*samples)
    return "kruskal", float(r.statistic), float(r.pvalue)


def _is_binary(series: pd.Series) -> bool:
    values = set(series.dropna().unique().tolist())
    return bool(values) and values <= {0, 1}


def table1(
    df: pd.DataFrame,
    group: str,
    *,
    categorical: Sequence[str] = (),
    continuous: Sequence[str] = (),
    mean_sd: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    overall: bool = False,
) -> Table1:
    """Table 1 of ``categorical`` and ``continuous`` variables by ``group``.

    Binary (0/1, true/false) variables show one row: n (%) with the trait. Other categorical
    variables show one row per level. ``mean_sd`` lists continuous variables to report as
    mean (SD) with t-test/ANOVA instead of median (IQR) with rank tests.
    """
    labels = dict(labels or {})
    require_columns(df, [group, *categorical, *continuous])
    overlap = set(categorical) & set(continuous)
    if overlap:
        raise StatsInputError(sorted(overlap)[0], "listed as both categorical and continuous")
    for col in mean_sd:
        if col not in continuous:
            raise StatsInputError(col, "mean_sd variables must also be continuous")
    no_group = int(df[group].isna().sum())
    data = df[df[group].notna()]
    codes, levels = factor_codes(data[group])
    if len(levels) < 2:
        raise StatsInputError(group, "needs at least two groups")
    names = [level_label(v) for v in levels]
    sizes = {n: int((codes == i).sum()) for i, n in enumerate(names)}
    columns = ["Variable", *[f"{n} (n = {sizes[n]})" for n in names]]
    if overall:
        columns.append(f"Overall (n = {len(data)})")
    columns += ["p", "Test"]
    rows: list[list[object]] = []
    tests: list[VariableTest] = []
    missing_notes: list[str] = []

    for var in [*categorical, *continuous]:
        label = labels.get(var, var)
        series = data[var]
        n_missing = int(series.isna().sum())
        if n_missing:
            missing_notes.append(f"{label} in {n_missing} patients")
        ok = series.notna().to_numpy()
        if var in categorical:
            if _is_binary(series):
                yes = series.astype("float").to_numpy() == 1
                table = np.array([[np.sum(ok & yes & (codes == i)),
                                   np.sum(ok & ~yes & (codes == i))] for i in range(len(levels))])
                test, stat, p = categorical_test(table.T)
                cells = [_n_pct(table[i, 0], table[i].sum()) for i in range(len(levels))]
                if overall:
                    cells.append(_n_pct(table[:, 0].sum(), table.sum()))
                rows.append([f"{label}, n (%)", *cells, format_p(p), TEST_NAMES[test]])
            else:
                vcodes, vlevels = factor_codes(series)
                table = np.array([[np.sum((vcodes == j) & (codes == i))
                                   for i in range(len(levels))] for j in range(len(vlevels))],
                                 dtype=np.int64).reshape(len(vlevels), len(levels))
                test, stat, p = categorical_test(table)
                rows.append([f"{label}, n (%)", *[""] * (len(levels) + overall),
                             format_p(p), TEST_NAMES[test]])
                for j, lv in enumerate(vlevels):
                    cells = [_n_pct(table[j, i], table[:, i].sum()) for i in range(len(levels))]
                    if overall:
                        cells.append(_n_pct(table[j].sum(), table.sum()))
                    rows.append([f"  {level_label(lv)}", *cells, "", ""])
        else:
            if not pd.api.types.is_numeric_dtype(series):
                raise StatsInputError(var, "continuous variable is not numeric")
            values = series.to_numpy(dtype=float)
            samples = [values[ok & (codes == i)] for i in range(len(levels))]
            use_mean = var in mean_sd
            test, stat, p = continuous_test(samples, use_mean)
            summary = _mean_sd if use_mean else _median_iqr
            cells = [summary(s) for s in samples]
            if overall:
                cells.append(summary(values[ok]))
            unit = "mean (SD)" if use_mean else "median (IQR)"
            rows.append([f"{label}, {unit}", *cells, format_p(p), TEST_NAMES[test]])
        tests.append(VariableTest(var, test, stat, p, n_missing))

    footnotes = []
    used = sorted({t.test for t in tests}, key=list(TEST_NAMES).index)
    if used:
        footnotes.append("Tests: " + "; ".join(TEST_NAMES[t] for t in used) + ". χ² without "
                         "continuity correction; Fisher's exact test (Freeman–Halton for r×c) "
                         "when any expected count is below 5.")
    if missing_notes:
        footnotes.append("Data not available for " + ", ".join(missing_notes) + ".")
    if no_group:
        footnotes.append(f"{no_group} patients without {labels.get(group, group)} excluded.")
    return Table1(pd.DataFrame(rows, columns=columns), tests, footnotes, names, sizes,
                  no_group, labels)


def _n_pct(k: float, n: float) -> str:
    return f"{int(k)} ({_fmt(100 * k / n)})" if n else "0 (–)"


def _median_iqr(x: np.ndarray) -> str:
    if not x.size:
        return "–"
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return f"{_g(med)} ({_g(q1)}–{_g(q3)})"


def _mean_sd(x: np.ndarray) -> str:
    if not x.size:
        return "–"
    sd = float(np.std(x, ddof=1)) if x.size > 1 else float("nan")
    return f"{_g(float(np.mean(x)))} ({_g(sd)})"


def _g(x: float) -> str:
    return f"{x:.1f}" if abs(x - round(x)) > 1e-9 else f"{round(x)}"
