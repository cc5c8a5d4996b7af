"""Table 1: patient characteristics by group with the tests the source papers use (CLINICAL_SPEC
§5).

Categorical variables: n (%) of patients with data, Pearson χ² (with Yates' continuity
correction on 2×2 tables, R ``chisq.test``'s default, unless ``correct=False``), or Fisher's
exact test (Freeman–Halton for tables larger than 2×2, network algorithm
in :mod:`crlm.stats._fisher`, seeded Monte Carlo past its work budget) when any expected count
is < 5.
Continuous variables: median (IQR) with Mann–Whitney U (two groups; exact below 50 per group
without ties, as R ``wilcox.test``) / Kruskal–Wallis (≥ 3), or mean (SD) with Welch's t-test
(R ``t.test``'s default; Student's with ``var_equal=True``) / one-way ANOVA when asked. Missing
values are excluded per variable and reported in footnotes ("Data not available for X in N
patients"); the footnotes name every test and correction used.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from crlm.safe_output import frame_to_csv
from crlm.stats._data import StatsInputError, factor_codes, level_label, require_columns
from crlm.stats._fisher import MONTE_CARLO_DRAWS, MONTE_CARLO_SEED, fisher_exact_rxc

EXPECTED_COUNT_MIN = 5.0
EXACT_RANK_TEST_MAX_N = 50  # R wilcox.test: exact p when both groups have < 50 and no ties
TEST_NAMES = {
    "chisq": "χ² test",
    "chisq_yates": "χ² test with Yates' continuity correction",
    "fisher": "Fisher's exact test",
    "fisher_mc": "Fisher's exact test (Monte Carlo p)",
    "mannwhitney": "Mann–Whitney U test",
    "mannwhitney_exact": "Mann–Whitney U test (exact)",
    "kruskal": "Kruskal–Wallis test",
    "ttest": "Student's t-test",
    "welch": "Welch's t-test",
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
    smd: float | None = None  # standardised mean difference (average over group pairs)


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


def categorical_test(table: np.ndarray, *, correct: bool = True) -> tuple[str, float, float]:
    """χ², or Fisher's exact when any expected count < 5.

    ``correct`` applies Yates' continuity correction to 2×2 tables (R ``chisq.test``'s
    default, test ``chisq_yates``); larger tables are never corrected.
    """
    if table.ndim != 2 or table.size == 0:
        return "chisq", float("nan"), float("nan")
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return "chisq", float("nan"), float("nan")
    yates = correct and table.shape == (2, 2)
    chi2, p, _dof, expected = stats.chi2_contingency(table, correction=yates)
    if (expected < EXPECTED_COUNT_MIN).any():
        if table.shape == (2, 2):
            res = stats.fisher_exact(table)
            return "fisher", float(res.statistic), float(res.pvalue)
        exact = fisher_exact_rxc(table)
        return ("fisher_mc" if exact.monte_carlo else "fisher"), float("nan"), exact.p
    return ("chisq_yates" if yates else "chisq"), float(chi2), float(p)


def continuous_test(samples: list[np.ndarray], mean_sd: bool, *, var_equal: bool = False,
                    exact: bool | None = None) -> tuple[str, float, float]:
    """Rank test (Mann–Whitney / Kruskal–Wallis), or t-test / ANOVA for mean (SD) rows.

    Two groups as R's defaults: Welch's t-test (``var_equal=True``: Student's); Mann–Whitney
    exact when ``exact`` is None and both groups have fewer than 50 values and no ties (R
    ``wilcox.test``), otherwise the normal approximation with continuity correction.
    """
    samples = [s for s in samples if s.size]
    if len(samples) < 2:
        return ("ttest" if mean_sd else "kruskal"), float("nan"), float("nan")
    if mean_sd:
        if len(samples) == 2:
            r = stats.ttest_ind(samples[0], samples[1], equal_var=var_equal)
            return ("ttest" if var_equal else "welch"), float(r.statistic), float(r.pvalue)
        r = stats.f_oneway(*samples)
        return "anova", float(r.statistic), float(r.pvalue)
    if len(samples) == 2:
        a, b = samples
        pooled = np.concatenate((a, b))
        if exact is None:
            exact = (a.size < EXACT_RANK_TEST_MAX_N and b.size < EXACT_RANK_TEST_MAX_N
                     and np.unique(pooled).size == pooled.size)
        if exact:
            r = stats.mannwhitneyu(a, b, alternative="two-sided", method="exact")
            return "mannwhitney_exact", float(r.statistic), float(r.pvalue)
        r = stats.mannwhitneyu(a, b, alternative="two-sided", use_continuity=True,
                               method="asymptotic")
        return "mannwhitney", float(r.statistic), float(r.pvalue)
    r = stats.kruskal(*samples)
    return "kruskal", float(r.statistic), float(r.pvalue)


def _is_binary(series: pd.Series, ok: np.ndarray) -> bool:
    """Only 0/1 (or false/true) among the values present (``ok``: not missing)."""
    values = set(pd.unique(series.to_numpy()[ok]).tolist())
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
    var_equal: bool = False,
    correct: bool = True,
    smd: bool = False,
) -> Table1:
    """Table 1 of ``categorical`` and ``continuous`` variables by ``group``.

    Binary (0/1, true/false) variables show one row: n (%) with the trait. Other categorical
    variables show one row per level. ``mean_sd`` lists continuous variables to report as
    mean (SD) with t-test/ANOVA instead of median (IQR) with rank tests. Two-group tests follow
    R's defaults — Welch's t-test (``var_equal=True``: Student's), Yates' correction on 2×2
    χ² tables (``correct=False``: none), exact Mann–Whitney for small samples without ties —
    and the footnote states the choice. ``smd`` adds a column of standardised mean differences
    (:func:`smd_continuous`, :func:`smd_categorical`; the average over group pairs when there
    are more than two groups, as R ``tableone``).
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
    data = df[df[group].notna()] if no_group else df
    codes, levels = factor_codes(data[group])
    if len(levels) < 2:
        raise StatsInputError(group, "needs at least two groups")
    names = [level_label(v) for v in levels]
    sizes = {n: int((codes == i).sum()) for i, n in enumerate(names)}
    columns = ["Variable", *[f"{n} (n = {sizes[n]})" for n in names]]
    if overall:
        columns.append(f"Overall (n = {len(data)})")
    columns += ["p", "Test"] + (["SMD"] if smd else [])
    rows: list[list[object]] = []
    tests: list[VariableTest] = []
    missing_notes: list[str] = []

    for var in [*categorical, *continuous]:
        label = labels.get(var, var)
        series = data[var]
        ok = series.notna().to_numpy()
        n_missing = int(ok.size - ok.sum())
        if n_missing:
            missing_notes.append(f"{label} in {n_missing} patients")
        if var in categorical:
            if _is_binary(series, ok):
                yes = series.astype("float").to_numpy() == 1
                table = np.array([[np.sum(ok & yes & (codes == i)),
                                   np.sum(ok & ~yes & (codes == i))] for i in range(len(levels))])
                test, stat, p = categorical_test(table.T, correct=correct)
                effect = smd_categorical(table.T)
                cells = [_n_pct(table[i, 0], table[i].sum()) for i in range(len(levels))]
                if overall:
                    cells.append(_n_pct(table[:, 0].sum(), table.sum()))
                rows.append([f"{label}, n (%)", *cells, format_p(p), TEST_NAMES[test]]
                            + ([_smd_text(effect)] if smd else []))
            else:
                vcodes, vlevels = factor_codes(series)
                table = np.array([[np.sum((vcodes == j) & (codes == i))
                                   for i in range(len(levels))] for j in range(len(vlevels))],
                                 dtype=np.int64).reshape(len(vlevels), len(levels))
                test, stat, p = categorical_test(table, correct=correct)
                effect = smd_categorical(table)
                rows.append([f"{label}, n (%)", *[""] * (len(levels) + overall),
                             format_p(p), TEST_NAMES[test]]
                            + ([_smd_text(effect)] if smd else []))
                for j, lv in enumerate(vlevels):
                    cells = [_n_pct(table[j, i], table[:, i].sum()) for i in range(len(levels))]
                    if overall:
                        cells.append(_n_pct(table[j].sum(), table.sum()))
                    rows.append([f"  {level_label(lv)}", *cells, "", ""] + ([""] if smd else []))
        else:
            if not pd.api.types.is_numeric_dtype(series):
                raise StatsInputError(var, "continuous variable is not numeric")
            values = series.to_numpy(dtype=float)
            samples = [values[ok & (codes == i)] for i in range(len(levels))]
            use_mean = var in mean_sd
            test, stat, p = continuous_test(samples, use_mean, var_equal=var_equal)
            effect = smd_continuous(samples)
            summary = _mean_sd if use_mean else _median_iqr
            cells = [summary(s) for s in samples]
            if overall:
                cells.append(summary(values[ok]))
            unit = "mean (SD)" if use_mean else "median (IQR)"
            rows.append([f"{label}, {unit}", *cells, format_p(p), TEST_NAMES[test]]
                        + ([_smd_text(effect)] if smd else []))
        tests.append(VariableTest(var, test, stat, p, n_missing, effect))

    footnotes = []
    used = sorted({t.test for t in tests}, key=list(TEST_NAMES).index)
    if used:
        footnotes.append("Tests: " + "; ".join(TEST_NAMES[t] for t in used) + ". "
                         + _test_choices(correct, var_equal))
    if smd:
        footnotes.append("SMD: standardised mean difference — continuous variables "
                         "|mean₁ − mean₂| / √((SD₁² + SD₂²)/2), categorical variables "
                         "√((p₁ − p₂)ᵀ S⁻¹ (p₁ − p₂)) over the levels after the first (Yang & "
                         "Dalton 2012), averaged over pairs of groups; values above 0.1 are "
                         "usually read as imbalance.")
    if "fisher_mc" in used:
        footnotes.append(f"Monte Carlo p of Fisher's exact test (table too large to enumerate): "
                         f"{MONTE_CARLO_DRAWS:,} random tables with the observed margins, seed "
                         f"{MONTE_CARLO_SEED}, as R's fisher.test(simulate.p.value = TRUE).")
    if missing_notes:
        footnotes.append("Data not available for " + ", ".join(missing_notes) + ".")
    if no_group:
        footnotes.append(f"{no_group} patients without {labels.get(group, group)} excluded.")
    return Table1(pd.DataFrame(rows, columns=columns), tests, footnotes, names, sizes,
                  no_group, labels)


def smd_continuous(samples: Sequence[np.ndarray]) -> float:
    """Standardised mean difference of a continuous variable (R ``tableone::ExtractSmd``).

    Two groups: |m₁ − m₂| / √((s₁² + s₂²)/2) with sample variances (n − 1); more groups: the
    average over all pairs. NaN when a group has fewer than two values.
    """
    pairs = []
    for a, b in _pairs(samples):
        if a.size < 2 or b.size < 2:
            return float("nan")
        pooled = (np.var(a, ddof=1) + np.var(b, ddof=1)) / 2.0
        diff = abs(float(np.mean(a) - np.mean(b)))
        if diff == 0:
            pairs.append(0.0)
        elif pooled > 0:
            pairs.append(diff / float(np.sqrt(pooled)))
        else:  # both groups constant and different: no standardised difference exists
            return float("nan")
    return float(np.mean(pairs)) if pairs else float("nan")


def smd_categorical(table: np.ndarray) -> float:
    """Standardised mean difference of a categorical variable (Yang & Dalton 2012, tableone).

    ``table``: levels × groups counts. For two groups with level proportions p₁, p₂ (levels
    after the first): T = p₁ − p₂, S = (S₁ + S₂)/2 with S_g = diag(p_g) − p_g p_gᵀ, SMD =
    √(Tᵀ S⁻¹ T) (generalised inverse when S is singular); averaged over pairs of groups.
    """
    table = np.asarray(table, dtype=float)
    table = table[table.sum(axis=1) > 0]
    if table.shape[0] < 2:
        return float("nan")
    props = [table[:, g] / table[:, g].sum() for g in range(table.shape[1])
             if table[:, g].sum() > 0]
    pairs = []
    for p1, p2 in _pairs(props):
        t = (p1 - p2)[1:]
        cov = sum(np.diag(p[1:]) - np.outer(p[1:], p[1:]) for p in (p1, p2)) / 2.0
        pairs.append(float(np.sqrt(max(t @ np.linalg.pinv(cov) @ t, 0.0))))
    return float(np.mean(pairs)) if pairs else float("nan")


def _pairs(items: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items))]


def _smd_text(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.3f}"


def _test_choices(correct: bool, var_equal: bool) -> str:
    """The footnote sentence stating the test choices (R's defaults unless changed)."""
    chisq = ("χ² with Yates' continuity correction for 2×2 tables (R's default), without "
             "for larger tables" if correct else "χ² without continuity correction")
    t_test = ("t-test for unequal variances (Welch, R's default)" if not var_equal
              else "t-test assuming equal variances (Student)")
    return (f"{chisq}; Fisher's exact test (Freeman–Halton for r×c) when any expected count "
            f"is below 5; {t_test}; Mann–Whitney U exact when both groups have fewer than "
            f"{EXACT_RANK_TEST_MAX_N} values and no ties, otherwise the normal approximation "
            "with continuity correction.")


def _n_pct(k: float, n: float) -> str:
    return f"{int(k)} ({_fmt(100 * k / n)})" if n else "0 (–)"


def _median_iqr(x: np.ndarray) -> str:
    if not x.size:
        return "–"
    med, q1, q3 = _same_decimals(*np.percentile(x, [50, 25, 75]))
    return f"{med} ({q1}–{q3})"


def _mean_sd(x: np.ndarray) -> str:
    if not x.size:
        return "–"
    sd = float(np.std(x, ddof=1)) if x.size > 1 else float("nan")
    mean, spread = _same_decimals(float(np.mean(x)), sd)
    return f"{mean} ({spread})"


def _same_decimals(*values: float) -> list[str]:
    """The values of one cell with one decimal each, or none when all are whole numbers
    ("63 (55–72)", "13.0 (11.8–14.0)": never "13 (11.8–14)"); "–" for one not defined (the
    SD of a single value)."""
    whole = all(not np.isfinite(v) or abs(v - round(v)) <= 1e-9 for v in values)
    return ["–" if not np.isfinite(v) else f"{round(v)}" if whole else f"{v:.1f}"
            for v in values]


def standardized_mean_difference(series: pd.Series, group: pd.Series, categorical: bool
                                 ) -> float:
    """SMD of ``series`` between the groups (:func:`smd_continuous` / :func:`smd_categorical`,
    averaged over pairs of groups as R tableone). Missing values are left out."""
    ok = series.notna() & group.notna()
    values, groups = series[ok], group[ok].astype(str)
    names = sorted(groups.unique())
    if categorical:
        table = pd.crosstab(values.astype(str), groups).reindex(columns=names, fill_value=0)
        return smd_categorical(table.to_numpy(float))
    x = values.astype(float)
    return smd_continuous([x[groups == g].to_numpy() for g in names])
